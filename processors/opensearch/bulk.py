"""The bulk indexer: source documents → ingest pipeline → ``streaming_bulk`` → the node.

Nothing is lost silently: a document that is not JSON, fails in the pipeline, or is refused by
the node goes to the dead-letter JSONL file with its location, id, reason and original content.

Example:
    >>> indexer = BulkIndexer(client, "docs", pipeline)
    >>> report = indexer.index(read_documents([Path("d.jsonl")]))
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from opensearchpy import helpers

from processors.opensearch.sources import BadLine
from processors.pipeline.ingest import IngestPipeline

JSONObject = dict[str, Any]


@dataclass
class BulkReport:
    """Counts and time per stage of one bulk run."""

    ok: int = 0
    failed: int = 0
    dropped: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"pipeline": 0.0, "bulk": 0.0})
    first_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> JSONObject:
        return {"ok": self.ok, "failed": self.failed, "dropped": self.dropped,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "first_errors": self.first_errors}  # fmt: skip


class BulkIndexer:
    """Index documents through an :class:`IngestPipeline` (or none) into one index."""

    def __init__(
        self,
        client: Any,
        index: str,
        pipeline: IngestPipeline | None,
        *,
        batch_size: int = 64,
        max_chunk_bytes: int = 10 * 1024 * 1024,
        dead_letter: Path | None = None,
        max_retries: int = 5,
    ) -> None:
        self.client, self.index_name, self.pipeline = client, index, pipeline
        self.batch_size, self.max_chunk_bytes, self.max_retries = (
            batch_size,
            max_chunk_bytes,
            max_retries,
        )
        self.dead_letter = dead_letter

    def index(self, documents: Iterable[tuple[str, JSONObject | BadLine]]) -> BulkReport:
        """Run everything; returns the report (failures are in it and in the dead-letter file)."""
        report = BulkReport()
        with _DeadLetter(self.dead_letter) as dead:
            self._in_flight: dict[str, tuple[str, Any]] = {}
            actions = self._actions(documents, report, dead)
            started = time.monotonic()
            for ok, item in helpers.streaming_bulk(
                self.client, actions, chunk_size=self.batch_size,
                max_chunk_bytes=self.max_chunk_bytes,
                max_retries=self.max_retries, initial_backoff=1, raise_on_error=False,
                raise_on_exception=False,
            ):  # fmt: skip
                info = next(iter(item.values()))
                where, original = self._in_flight.pop(str(info.get("_id")), ("?", None))
                if ok:
                    report.ok += 1
                else:
                    reason = json.dumps(info.get("error") or info.get("exception"), default=str)
                    self._fail(report, dead, where, info.get("_id"), reason, original)
            report.seconds["bulk"] = time.monotonic() - started - report.seconds["pipeline"]
        return report

    def _actions(
        self,
        documents: Iterable[tuple[str, JSONObject | BadLine]],
        report: BulkReport,
        dead: _DeadLetter,
    ) -> Iterator[JSONObject]:
        iterator = iter(documents)
        while batch := list(itertools.islice(iterator, self.batch_size)):
            started = time.monotonic()
            good: list[tuple[str, JSONObject]] = []
            for where, doc in batch:
                if isinstance(doc, BadLine):
                    self._fail(report, dead, where, None, str(doc), doc.raw)
                else:
                    good.append((where, doc))
            ids = [_doc_id(d) for _, d in good]
            docs: list[JSONObject] = [
                {"_id": i, "_source": {k: v for k, v in d.items() if k != "_id"}}
                for i, (_, d) in zip(ids, good, strict=True)
            ]
            results = self.pipeline.run(docs) if self.pipeline else None
            report.seconds["pipeline"] += time.monotonic() - started
            for position, (where, original) in enumerate(good):
                doc_id = ids[position]
                self._in_flight[doc_id] = (where, original)
                if results is None:
                    yield _action(self.index_name, doc_id, docs[position]["_source"])
                    continue
                outcome = results[position]
                if outcome.dropped or outcome.error is not None:
                    del self._in_flight[doc_id]
                if outcome.dropped:
                    report.dropped += 1
                elif outcome.error is not None:
                    self._fail(report, dead, where, doc_id, outcome.error, original)
                else:
                    yield _action(self.index_name, doc_id, outcome.source or {})

    def _fail(
        self,
        report: BulkReport,
        dead: _DeadLetter,
        where: str,
        doc_id: str | None,
        reason: str,
        doc: Any,
    ) -> None:
        report.failed += 1
        if len(report.first_errors) < 10:
            report.first_errors.append(f"{where} (id {doc_id}): {reason}")
        dead.write({"location": where, "_id": doc_id, "reason": reason, "doc": doc})


def _doc_id(doc: JSONObject) -> str:
    """The document's ``_id``, or a fresh one: ids are assigned here so every bulk item can be
    traced back to its source line."""
    value = doc.get("_id")
    return uuid.uuid4().hex if value is None else str(value)


def _action(index: str, doc_id: str, source: JSONObject) -> JSONObject:
    return {"_op_type": "index", "_index": index, "_id": doc_id, "_source": source}


class _DeadLetter:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._handle: TextIO | None = None

    def __enter__(self) -> _DeadLetter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle:
            self._handle.close()

    def write(self, record: JSONObject) -> None:
        if self.path is None:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
