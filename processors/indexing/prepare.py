"""One batch of source records → finished bulk actions: a plain function of its inputs.

:func:`prepare_batch` holds no state between calls and touches no file or network itself
(the pipeline may call the node for core processors), so the same code can run in a worker
of a distributed executor (Ray Data ``map_batches``) when one machine is not enough.

Example:
    >>> batch = prepare_batch(records, pipeline, "docs")   # doctest: +SKIP
    >>> batch.actions[0]["_op_type"]                       # doctest: +SKIP
    'index'
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.indexing.records import SourceRecord
from processors.ingest.sparse_mirror import add_mirror
from processors.pipeline.ingest import IngestPipeline

JSONObject = dict[str, Any]
UNHASHED = "*"
"""A known hash meaning "present, indexed without a content hash, and to be trusted"."""


@dataclass(frozen=True)
class Failure:
    """A document that will not be indexed, for the dead-letter file."""

    location: str
    doc_id: str | None
    reason: str
    doc: Any

    def record(self) -> JSONObject:
        return {"location": self.location, "_id": self.doc_id, "reason": self.reason,
                "doc": self.doc}  # fmt: skip


@dataclass
class PreparedBatch:
    """Bulk actions plus what became of every other record of the batch."""

    first_seq: int
    end_seq: int  # one past the last record of the batch
    actions: list[JSONObject] = field(default_factory=list)
    origins: dict[str, tuple[str, Any]] = field(default_factory=dict)  # id -> (location, doc)
    failures: list[Failure] = field(default_factory=list)
    dropped: int = 0
    unchanged: int = 0
    duplicates: list[str] = field(default_factory=list)  # "location: id" of repeated ids
    seconds: float = 0.0


def content_hash(source: JSONObject, fingerprint: str = "") -> str:
    """SHA-256 of a source document (canonical JSON) and the pipeline fingerprint."""
    canonical = json.dumps(source, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{fingerprint}\0{canonical}".encode()).hexdigest()


def _source_of(doc: JSONObject) -> JSONObject:
    return {k: v for k, v in doc.items() if k != "_id"}


def prepare_batch(
    records: Sequence[SourceRecord],
    pipeline: IngestPipeline | None,
    index: str,
    *,
    hash_field: str | None = None,
    known_hashes: Mapping[str, str] | None = None,
    fingerprint: str = "",
    semantic: Any = None,
    mirrors: Mapping[str, str] | None = None,
) -> PreparedBatch:
    """Run the pipeline over ``records``; return index actions, failures and counts.

    Args:
        records: Consecutive records of one run.
        pipeline: The ingest pipeline, or None to index sources as they are.
        index: Target index name.
        hash_field: Source field that stores each document's content hash (``--skip-unchanged``).
        known_hashes: ``id -> hash`` already in the index; equal hashes are skipped unchanged,
            and so are ids whose known hash is :data:`UNHASHED`.
        fingerprint: The pipeline fingerprint digest, part of every content hash.
        semantic: The index's semantic fields writer
            (:class:`~processors.semantic.ingest.SemanticIngest`), run after the pipeline.
        mirrors: The index's dotted-feature mirrors (``{path: mirror path}``,
            :mod:`processors.ingest.sparse_mirror`), written last.
    """
    started = time.monotonic()
    batch = PreparedBatch(records[0].seq, records[-1].seq + 1) if records else PreparedBatch(0, 0)
    todo: list[tuple[SourceRecord, JSONObject, str]] = []
    for rec in records:
        if not isinstance(rec.doc, dict):
            batch.failures.append(Failure(rec.location, None, str(rec.doc), rec.doc.raw))
            continue
        if rec.duplicate:
            batch.duplicates.append(f"{rec.location}: _id {rec.doc_id!r}")
        source = _source_of(rec.doc)
        digest = content_hash(source, fingerprint) if hash_field else ""
        if known_hashes is not None and known_hashes.get(rec.doc_id) in (digest, UNHASHED):
            batch.unchanged += 1
            continue
        todo.append((rec, source, digest))
    docs = [{"_id": rec.doc_id, "_source": source} for rec, source, _ in todo]
    results = pipeline.run(docs) if pipeline is not None else None
    for position, (rec, source, digest) in enumerate(todo):
        final: JSONObject | None = source
        if results is not None:
            outcome = results[position]
            if outcome.dropped:
                batch.dropped += 1
                continue
            if outcome.error is not None:
                batch.failures.append(Failure(rec.location, rec.doc_id, outcome.error, rec.doc))
                continue
            final = outcome.source
        final = dict(final or {})
        if semantic is not None:
            error = semantic.run([{"_index": index, "_id": rec.doc_id, "_source": final}])[0]
            if error is not None:
                batch.failures.append(Failure(rec.location, rec.doc_id, error, rec.doc))
                continue
        if mirrors:
            add_mirror(final, mirrors)
        if hash_field:
            final[hash_field] = digest
        batch.origins[rec.doc_id] = (rec.location, rec.doc)
        batch.actions.append(
            {"_op_type": "index", "_index": index, "_id": rec.doc_id, "_source": final}
        )
    batch.seconds = time.monotonic() - started
    return batch
