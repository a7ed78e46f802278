"""Read source documents from JSONL or CSV files (gzip or not) or stdin, streaming.

Each yielded item is ``(location, document)`` or ``(location, error)`` for a line that is not a
document, so a bad line reaches the dead-letter file instead of stopping the run.

Example:
    >>> for where, doc in read_documents([Path("docs.jsonl")]):   # doctest: +SKIP
    ...     print(where, doc)
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

JSONObject = dict[str, Any]


class BadLine(ValueError):
    """A line that is not a JSON object (the raw text is kept for the dead-letter file)."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


def _open(path: Path) -> IO[str]:
    if str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="surrogateescape")
    return path.open(encoding="utf-8", errors="surrogateescape")


def _format(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return "csv" if name.endswith(".csv") else "jsonl"


def read_documents(paths: list[Path]) -> Iterator[tuple[str, JSONObject | BadLine]]:
    """Documents in file order; ``location`` is ``file:line``."""
    for path in paths:
        with _open(path) as handle:
            if _format(path) == "csv":
                for number, row in enumerate(csv.DictReader(handle), start=2):
                    yield f"{path}:{number}", dict(row)
                continue
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield f"{path}:{number}", _parse_line(line)


def _parse_line(line: str) -> JSONObject | BadLine:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return BadLine(
            "line is not valid UTF-8", line.encode("utf-8", "surrogateescape").decode("latin-1")
        )
    try:
        value = json.loads(line)
    except ValueError as exc:
        return BadLine(f"not valid JSON: {exc}", line.rstrip("\n"))
    if not isinstance(value, dict):
        return BadLine(
            f"a document must be a JSON object, not {type(value).__name__}", line.rstrip("\n")
        )
    return value
