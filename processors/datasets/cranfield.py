"""The Cranfield-1400 collection (``cran.all.1400``, ``cran.qry``, ``cranqrel``) as plain records.

Example:
    >>> docs = read_cranfield_docs(Path("cran.all.1400"))  # doctest: +SKIP
    >>> docs[0]["_id"], docs[0]["title"][:20]              # doctest: +SKIP
    ('1', 'experimental investi')
"""

from __future__ import annotations

import re
from pathlib import Path

_RECORD = re.compile(r"^\.I\s+(\d+)\s*$", re.M)


def _field(record: str, tag: str) -> str:
    found = re.search(rf"^\.{tag}\n(.*?)(?=^\.[A-Z]\n|\Z)", record, flags=re.M | re.S)
    return " ".join(found.group(1).split()) if found else ""


def _records(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    parts = _RECORD.split(text)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def read_cranfield_docs(path: Path) -> list[dict[str, str]]:
    """Documents ``{"_id", "title", "text"}`` (text = the ``.W`` abstract) in file order."""
    return [
        {"_id": number, "title": _field(rec, "T"), "text": _field(rec, "W")}
        for number, rec in _records(path)
    ]


def read_cranfield_queries(path: Path) -> list[dict[str, str]]:
    """Queries ``{"_id", "text"}``; ids are their position (1..225), as ``cranqrel`` uses them."""
    return [
        {"_id": str(position), "text": _field(rec, "W")}
        for position, (_, rec) in enumerate(_records(path), start=1)
    ]
