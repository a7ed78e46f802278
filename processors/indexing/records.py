"""Source records with stable ids, grouped into batches under a token budget.

Every input line becomes a :class:`SourceRecord` with a sequence number (its position in the
whole run, used by checkpoints) and an id: the document's own ``_id``, else one derived from the
file and line, so a re-run or ``--resume`` writes the same ids and never duplicates a document.

Example:
    >>> recs = [SourceRecord(0, "a.jsonl:1", {"text": "x" * 40}, "id0")]
    >>> [len(b) for b in token_batches(recs, token_budget=100)]
    [1]
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.opensearch.sources import BadLine, read_documents

JSONObject = dict[str, Any]
CHARS_PER_TOKEN = 4  # a WordPiece token of English text is about four characters


@dataclass(frozen=True)
class SourceRecord:
    """One input line: a document (or the reason it is not one) with its place and id."""

    seq: int
    location: str
    doc: JSONObject | BadLine
    doc_id: str

    @property
    def is_bad(self) -> bool:
        return isinstance(self.doc, BadLine)


def stable_id(source_key: str, line: int) -> str:
    """A deterministic id for a document without ``_id`` (file identity + line number).

    Example:
        >>> stable_id("/data/a.jsonl", 3) == stable_id("/data/a.jsonl", 3)
        True
    """
    return hashlib.sha1(f"{source_key}\0{line}".encode()).hexdigest()[:20]


def read_records(paths: list[Path], *, skip: int = 0) -> Iterator[SourceRecord]:
    """Records of all files in order; the first ``skip`` are counted but not yielded."""
    seq = 0
    for path in paths:
        key = "-" if str(path) == "-" else os.path.abspath(path)
        for location, doc in read_documents([path]):
            if seq >= skip:
                line = int(location.rsplit(":", 1)[1])
                given = doc.get("_id") if isinstance(doc, dict) else None
                doc_id = str(given) if given is not None else stable_id(key, line)
                yield SourceRecord(seq, location, doc, doc_id)
            seq += 1


def estimated_tokens(value: Any) -> int:
    """A cheap token estimate of every string inside a document."""
    if isinstance(value, str):
        return len(value) // CHARS_PER_TOKEN + 1
    if isinstance(value, dict):
        return sum(estimated_tokens(v) for v in value.values())
    if isinstance(value, list):
        return sum(estimated_tokens(v) for v in value)
    return 0


def token_batches(
    records: Iterable[SourceRecord], *, token_budget: int = 32768, max_docs: int = 512
) -> Iterator[list[SourceRecord]]:
    """Consecutive records grouped so each batch holds about ``token_budget`` tokens of text."""
    batch: list[SourceRecord] = []
    tokens = 0
    for record in records:
        cost = 0 if record.is_bad else estimated_tokens(record.doc)
        if batch and (tokens + cost > token_budget or len(batch) >= max_docs):
            yield batch
            batch, tokens = [], 0
        batch.append(record)
        tokens += cost
    if batch:
        yield batch
