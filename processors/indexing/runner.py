"""The bulk run: a preparing thread (read, pipeline, models) feeding the bulk sender.

Batches flow through a bounded queue, so model inference of batch *n + 1* overlaps the bulk
request of batch *n* (onnxruntime releases the GIL) and memory stays bounded however long the
input is. The sender (:mod:`processors.indexing.sender`) retries back-pressure and outages for
up to ``retry_for`` seconds without progress, then the run stops with
:class:`~processors.errors.ClusterUnavailableError` and its checkpoint intact. Whatever ends
the run (an error, Ctrl-C), the preparing thread is stopped and joined before it returns, so no
model call is left running while the interpreter exits.

Example:
    >>> report = run_bulk(client, "docs", batches, options=IndexingOptions())  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from processors.indexing.checkpoint import Checkpoint
from processors.indexing.prepare import Failure, PreparedBatch
from processors.indexing.sender import send_actions

JSONObject = dict[str, Any]
MODEL_TOKEN_BUDGET = 512
"""Padded tokens per forward pass of the models a bulk run loads (``load_model``'s
``token_budget``): on a 2-core AVX-512 EPYC, MiniLM over ~55-token passages cost 17.5-18.3 CPU s
per 1,000 at 1-8 passages a pass and 20-22.6 at 16-64 (the runtime's default 2,048-token budget
packs ~37), the activations of a small pass staying in cache; a bulk run is measured in CPU
per document, the node sharing the cores, not in one call's latency (end to end, 1,000 passages,
alternating: 19.9 / 22.2 CPU s per 1,000 at 512 tokens, 24.3 / 22.5 at 2,048)."""


@dataclass(frozen=True)
class IndexingOptions:
    """Knobs of a bulk run (defaults suit one machine and one node)."""

    chunk_docs: int = 500
    max_chunk_bytes: int = 10 * 1024 * 1024
    token_budget: int = 32768
    max_batch_docs: int = 512
    retry_for: float = 120.0
    queue_depth: int = 2


@dataclass
class IndexReport:
    """What a run did: counts, tokens, seconds per stage, the first errors."""

    ok: int = 0
    failed: int = 0
    dropped: int = 0
    unchanged: int = 0
    tokens: int = 0
    truncated: int = 0
    resumed_from: int = 0
    duplicates: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("prepare", "bulk", "wait", "refresh", "total"), 0.0))  # fmt: skip
    first_errors: list[str] = field(default_factory=list)
    first_duplicates: list[str] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def settled(self) -> int:
        return self.ok + self.failed + self.dropped + self.unchanged

    def counts(self) -> dict[str, int]:
        return {"ok": self.ok, "failed": self.failed, "dropped": self.dropped,
                "unchanged": self.unchanged, "duplicates": self.duplicates}  # fmt: skip

    def as_dict(self) -> JSONObject:
        return {**self.counts(), "tokens": self.tokens, "truncated": self.truncated,
                "resumed_from": self.resumed_from, "fingerprint": self.fingerprint,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "first_errors": self.first_errors,
                "first_duplicates": self.first_duplicates}  # fmt: skip


class DeadLetter:
    """Append-only JSONL of failed documents; ``position`` is what a checkpoint records."""

    def __init__(self, path: Path | None, *, truncate_to: int | None = None) -> None:
        self.path = path
        self._handle: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if truncate_to is not None and path.exists():
                with path.open("r+b") as raw:
                    raw.truncate(truncate_to)
            self._handle = path.open("a", encoding="utf-8")

    @property
    def position(self) -> int:
        if self._handle is None:
            return 0
        self._handle.flush()
        return self._handle.tell()

    def write(self, failure: Failure) -> None:
        if self._handle is not None:
            line = json.dumps(failure.record(), ensure_ascii=False, default=str)
            self._handle.write(line + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class _Producer(threading.Thread):
    """Runs ``batches`` (a lazy iterator of prepared batches) ahead into a bounded queue."""

    def __init__(
        self, batches: Iterator[PreparedBatch], depth: int, stop: threading.Event | None = None
    ) -> None:
        super().__init__(name="neuralpipe-prepare", daemon=True)
        self.batches = batches
        self.out: queue.Queue[PreparedBatch | BaseException | None] = queue.Queue(depth)
        self.stop = stop or threading.Event()

    def _put(self, item: PreparedBatch | BaseException | None) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            for batch in self.batches:
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        finally:
            close = getattr(self.batches, "close", None)
            if close is not None:
                close()

    def shut(self, timeout: float = 300.0) -> None:
        """Stop after the batch in hand and wait for the thread to end."""
        self.stop.set()
        while self.is_alive():
            with contextlib.suppress(queue.Empty):
                self.out.get_nowait()  # make room: a blocked put sees the stop sooner
            self.join(timeout=0.2)
            timeout -= 0.2
            if timeout <= 0:
                break


def run_bulk(
    client: Any,
    batches: Iterator[PreparedBatch],
    *,
    options: IndexingOptions,
    report: IndexReport,
    dead: DeadLetter,
    checkpoint: tuple[Path, Checkpoint] | None = None,
    on_batch: Callable[[IndexReport], None] | None = None,
    stop: threading.Event | None = None,
) -> IndexReport:
    """Consume prepared batches in order: bulk, dead-letter, count, checkpoint.

    ``stop`` is set when the run ends for any reason (the preparing side may wait on it).
    """
    producer = _Producer(batches, options.queue_depth, stop)
    producer.start()
    try:
        while True:
            waited = time.monotonic()
            item = producer.out.get()
            report.seconds["wait"] += time.monotonic() - waited
            if isinstance(item, BaseException):
                raise item
            if item is None:
                break
            report.seconds["prepare"] += item.seconds
            _settle(client, item, options, report, dead)
            if checkpoint is not None:
                path, cp = checkpoint
                cp.settled, cp.dead_letter_bytes, cp.counts = (
                    item.end_seq,
                    dead.position,
                    report.counts(),
                )
                cp.save(path)
            if on_batch is not None:
                on_batch(report)
    finally:
        producer.shut()
    return report


def _settle(
    client: Any, batch: PreparedBatch, options: IndexingOptions, report: IndexReport,
    dead: DeadLetter,
) -> None:  # fmt: skip
    for failure in batch.failures:
        _fail(report, dead, failure)
    report.dropped += batch.dropped
    report.unchanged += batch.unchanged
    report.duplicates += len(batch.duplicates)
    room = max(0, 10 - len(report.first_duplicates))
    report.first_duplicates.extend(
        f"{where} repeats an earlier document's id; the later one replaces it"
        for where in batch.duplicates[:room]
    )
    if not batch.actions:
        return
    started = time.monotonic()
    for ok, item in send_actions(client, batch.actions, chunk_docs=options.chunk_docs,
                                 max_chunk_bytes=options.max_chunk_bytes,
                                 retry_for=options.retry_for):  # fmt: skip
        info = next(iter(item.values()))
        doc_id = str(info.get("_id"))
        if ok:
            report.ok += 1
            continue
        location, original = batch.origins.get(doc_id, ("?", None))
        reason = json.dumps(info.get("error") or info.get("exception"), default=str)
        _fail(report, dead, Failure(location, doc_id, f"node refused: {reason}", original))
    report.seconds["bulk"] += time.monotonic() - started


def _fail(report: IndexReport, dead: DeadLetter, failure: Failure) -> None:
    report.failed += 1
    if len(report.first_errors) < 10:
        report.first_errors.append(f"{failure.location} (id {failure.doc_id}): {failure.reason}")
    dead.write(failure)
