"""Source records with deterministic ids, grouped into batches under a token budget.

Every input line becomes a :class:`SourceRecord` with a sequence number (its position in the
whole run, used by checkpoints) and an id, by this rule:

1. the document's own ``_id`` (a non-empty string of at most 512 UTF-8 bytes, or an integer);
2. else, with ``id_field``, the value of that top-level field (same constraints);
3. else a hash of the document's content (canonical JSON: sorted keys, no ``_id``).

So the same input is the same document whatever file, path, compression or line it comes
from, and a re-run or ``--resume`` overwrites instead of duplicating. An id that breaks the
rule makes the line a bad one (dead-lettered with the reason); an id seen earlier in the same
run is flagged ``duplicate`` (the later document replaces the earlier one, as on the node).

Example:
    >>> recs = [SourceRecord(0, "a.jsonl:1", {"text": "x" * 40}, "id0")]
    >>> [len(b) for b in token_batches(recs, token_budget=100)]
    [1]
    >>> content_id({"b": 1, "a": "x"}) == content_id({"a": "x", "b": 1, "_id": None})
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.indexing.sources import BadLine, read_documents

JSONObject = dict[str, Any]
CHARS_PER_TOKEN = 4  # a WordPiece token of English text is about four characters
MAX_ID_BYTES = 512  # OpenSearch refuses a longer _id (and with it the whole bulk request)


@dataclass(frozen=True)
class SourceRecord:
    """One input line: a document (or the reason it is not one) with its place and id."""

    seq: int
    location: str
    doc: JSONObject | BadLine
    doc_id: str
    duplicate: bool = False

    @property
    def is_bad(self) -> bool:
        return isinstance(self.doc, BadLine)


def content_id(doc: JSONObject) -> str:
    """The id of a document without one: SHA-256 of its canonical JSON (no ``_id``), 32 hex."""
    source = {k: v for k, v in doc.items() if k != "_id"}
    canonical = json.dumps(source, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def checked_id(value: Any, what: str) -> str:
    """``value`` as a document id, or :class:`ValueError` saying why it cannot be one.

    Example:
        >>> checked_id(7, "_id")
        '7'
        >>> checked_id(True, "_id")
        Traceback (most recent call last):
        ...
        ValueError: _id must be a string or an integer, not bool
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string or an integer, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    size = len(value.encode("utf-8"))
    if size > MAX_ID_BYTES:
        raise ValueError(f"{what} is {size} bytes long; OpenSearch takes at most {MAX_ID_BYTES}")
    return value


def document_id(doc: JSONObject, id_field: str | None = None) -> str:
    """The id of ``doc`` by the module's rule; :class:`ValueError` when it breaks it."""
    if doc.get("_id") is not None:
        return checked_id(doc["_id"], "_id")
    if id_field is not None:
        if doc.get(id_field) is None:
            raise ValueError(f"no {id_field!r} field to take the id from (--id-field)")
        return checked_id(doc[id_field], f"field {id_field!r} (--id-field)")
    return content_id(doc)


def read_records(
    paths: list[Path], *, skip: int = 0, id_field: str | None = None
) -> Iterator[SourceRecord]:
    """Records of all files in order; the first ``skip`` are counted but not yielded."""
    seen: set[int] = set()  # 64-bit digests of the ids so far (~50 bytes each): duplicates
    seq = 0
    for location, doc in read_documents(paths):
        doc_id, duplicate = "", False
        if isinstance(doc, dict):
            try:
                doc_id = document_id(doc, id_field)
            except ValueError as exc:
                doc = BadLine(str(exc), doc)
            else:
                raw = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
                digest = int.from_bytes(raw, "little")
                duplicate = digest in seen
                seen.add(digest)
        if seq >= skip:
            yield SourceRecord(seq, location, doc, doc_id, duplicate)
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
