"""Read source documents from JSONL or CSV files (gzip or not) or stdin, streaming.

Each yielded item is ``(location, document)`` or ``(location, error)`` for a line that is not a
document, so a bad line reaches the dead-letter file instead of stopping the run. Not a
document: invalid UTF-8 or JSON, a JSON value that is not an object, an object nested deeper
than :data:`MAX_DEPTH` levels, a string or field name with a lone surrogate (``"\\ud800"``,
which no UTF-8 writer can send). A UTF-8 byte-order mark at the start of a file is skipped.

Example:
    >>> for where, doc in read_documents([Path("docs.jsonl")]):   # doctest: +SKIP
    ...     print(where, doc)
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

JSONObject = dict[str, Any]
MAX_DEPTH = 100
"""Deepest nesting of objects and arrays accepted (OpenSearch maps objects 20 deep at most)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadLine(ValueError):
    """A line that is not a JSON object (the raw text is kept for the dead-letter file)."""

    def __init__(self, message: str, raw: Any) -> None:
        super().__init__(message)
        self.raw = raw


def _open(path: Path) -> IO[str]:
    # utf-8-sig: a byte-order mark at the start is not part of the first document
    if str(path) == "-":
        raw: Any = sys.stdin.buffer
    elif path.suffix == ".gz":
        raw = gzip.open(path, "rb")
    else:
        raw = path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape")


def input_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` (anything else), by the name without ``.gz``.

    >>> input_format(Path("docs.csv.gz")), input_format(Path("d.parquet")), input_format(Path("x"))
    ('csv', 'parquet', 'jsonl')
    """
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith(".csv"):
        return "csv"
    return "parquet" if name.endswith(".parquet") else "jsonl"


def read_documents(paths: list[Path]) -> Iterator[tuple[str, JSONObject | BadLine]]:
    """Documents in file order; ``location`` is ``file:line``."""
    for path in paths:
        with _open(path) as handle:
            if input_format(path) == "csv":
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
    except RecursionError:
        return BadLine(f"nested deeper than {MAX_DEPTH} levels", line.rstrip("\n"))
    except ValueError as exc:
        return BadLine(f"not valid JSON: {exc}", line.rstrip("\n"))
    if not isinstance(value, dict):
        return BadLine(
            f"a document must be a JSON object, not {type(value).__name__}", line.rstrip("\n")
        )
    problem = document_problem(value, strings="\\u" in line)
    if problem is not None:
        return BadLine(problem, line.rstrip("\n"))
    return value


def document_problem(doc: JSONObject, *, strings: bool = True) -> str | None:
    """Why ``doc`` cannot be sent as it is (too deep, a lone surrogate), or None.

    ``strings=False`` skips the surrogate check (a line without ``\\u`` escapes has none).

    Example:
        >>> document_problem({"a": {"b": "\\ud800"}})
        'field a.b holds a lone surrogate (U+D800), which is not valid Unicode text'
        >>> document_problem({"a": [[[1]]]}) is None
        True
    """
    stack: list[tuple[Any, int, str]] = [(doc, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            for key, value in item.items():
                path = f"{where}.{key}" if where else str(key)
                if strings and _SURROGATE.search(key):
                    return _surrogate_message(f"field name {path!r}", key)
                stack.append((value, depth + 1, path))
        elif isinstance(item, list):
            stack.extend((value, depth + 1, where) for value in item)
        elif strings and isinstance(item, str) and _SURROGATE.search(item):
            return _surrogate_message(f"field {where}", item)
    return None


def _surrogate_message(what: str, text: str) -> str:
    found = _SURROGATE.search(text)
    code = f"U+{ord(found.group()):04X}" if found else "?"
    return f"{what} holds a lone surrogate ({code}), which is not valid Unicode text"
