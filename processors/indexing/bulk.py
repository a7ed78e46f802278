"""The bulk indexer: files → ingest pipeline → ``streaming_bulk`` → the node, nothing lost.

A line that is not a document, fails in the pipeline or is refused by the node goes to the
dead-letter JSONL with its location, id, reason and original content. Progress is checkpointed
after every acknowledged batch, so ``resume=True`` continues a run that crashed or was killed
with no document lost and none duplicated (ids are deterministic: the document's own ``_id``,
else ``id_field``'s value, else a hash of its content; see :mod:`processors.indexing.records`).
The index must exist (dynamic mapping would make the pipeline's vectors ``float`` arrays);
before writing, the pipeline's fingerprint is compared with the one recorded in the index's
``_meta`` (:mod:`processors.indexing.fingerprint`).

The stages are in :mod:`processors.indexing`: records and token-budget batches, the plain
per-batch function, the threaded runner, checkpoints.

Example:
    >>> indexer = BulkIndexer(  # doctest: +SKIP
    ...     client, "docs", pipeline, dead_letter=Path("dead.jsonl"))
    >>> report = indexer.index_files([Path("docs.jsonl")])   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.errors import ConfigError
from processors.indexing.checkpoint import (
    Checkpoint,
    default_checkpoint_path,
    input_state,
    run_key,
)
from processors.indexing.fingerprint import check_index_fingerprint
from processors.indexing.prepare import UNHASHED, PreparedBatch, prepare_batch
from processors.indexing.records import SourceRecord, read_records, token_batches
from processors.indexing.runner import DeadLetter, IndexingOptions, IndexReport, run_bulk
from processors.ingest.sparse_mirror import mirrors_in
from processors.models.tokenization import TokenStats
from processors.pipeline.ingest import IngestPipeline

JSONObject = dict[str, Any]
HASH_FIELD = "neuralpipe_hash"


@dataclass(frozen=True)
class RunControl:
    """Checkpointing and change detection of a run.

    Attributes:
        checkpoint: Checkpoint file; None picks ``<home>/checkpoints/<run key>.json``.
        home: Where default checkpoints live (``Settings().home``); None disables them.
        resume: Continue from the checkpoint of the same run, when there is one.
        skip_unchanged: Skip documents whose content hash equals the one in the index.
        force: Overwrite a different fingerprint recorded in the index's ``_meta``.
        trust_unhashed: With ``skip_unchanged``, a document already in the index without a
            content hash (written by a run without ``skip_unchanged``) counts as unchanged when
            the index's recorded fingerprint matches the pipeline's: it is not embedded and
            written again (which would also leave deleted documents that shift BM25 statistics).
        id_field: Top-level field whose value is the id of documents without ``_id``.
    """

    checkpoint: Path | None = None
    home: Path | None = None
    resume: bool = False
    skip_unchanged: bool = False
    force: bool = False
    trust_unhashed: bool = False
    id_field: str | None = None


class BulkIndexer:
    """Index files through an :class:`IngestPipeline` (or none) into one index."""

    def __init__(
        self,
        client: Any,
        index: str,
        pipeline: IngestPipeline | None,
        *,
        fingerprint: JSONObject,
        options: IndexingOptions | None = None,
        dead_letter: Path | None = None,
        control: RunControl | None = None,
        token_stats: Callable[[], TokenStats] | None = None,
        on_batch: Callable[[IndexReport], None] | None = None,
        semantic: Any = None,
    ) -> None:
        self.client, self.index_name, self.pipeline = client, index, pipeline
        self.semantic = semantic
        """The index's ``semantic`` fields writer, run after the pipeline (None: none)."""
        self.fingerprint = fingerprint
        self.options = options or IndexingOptions()
        self.dead_letter = dead_letter
        self.control = control or RunControl()
        self.token_stats = token_stats
        self.on_batch = on_batch
        self._fingerprint_matched = False
        self._mirrors: dict[str, str] = {}

    def index_files(self, paths: list[Path]) -> IndexReport:
        """Run over ``paths`` (JSONL/CSV, .gz, ``-`` for stdin); refresh; return the report."""
        started = time.monotonic()
        report = IndexReport(fingerprint=self.fingerprint["digest"])
        if not self.client.indices.exists(index=self.index_name):
            raise ConfigError(
                f"index {self.index_name!r} does not exist: create it with its mapping first "
                f"(neuralpipe index create {self.index_name} --mapping FILE); the node would "
                "otherwise map the pipeline's vectors as plain float arrays"
            )
        found = check_index_fingerprint(
            self.client, self.index_name, self.fingerprint, force=self.control.force
        )
        self._fingerprint_matched = found == "matched"
        self._mirrors = mirrors_in(self.client, self.index_name)
        cp_path, cp, resumed = self._checkpoint(paths)
        if cp is not None:
            report.resumed_from = cp.settled
            for key, value in cp.counts.items():
                setattr(report, key, value)
            if cp.complete:
                return report
        truncate_to = cp.dead_letter_bytes if cp is not None and resumed else None
        if cp_path is not None and cp is not None and not resumed:
            cp.save(cp_path)  # the baseline: a kill before the first batch resumes from here
        dead = DeadLetter(self.dead_letter, truncate_to=truncate_to)
        before = _snapshot(self.token_stats)
        stop = self.pipeline.stop if self.pipeline is not None else None
        if self.pipeline is not None:
            self.pipeline.stop.clear()
            self.pipeline.retry_for = self.options.retry_for
        try:
            records = read_records(paths, skip=report.resumed_from, id_field=self.control.id_field)
            batches = self._prepared(records)
            checkpoint = (cp_path, cp) if cp_path is not None and cp is not None else None
            run_bulk(self.client, batches, options=self.options, report=report, dead=dead,
                     checkpoint=checkpoint, on_batch=self._progress(before),
                     stop=stop)  # fmt: skip
        finally:
            dead.close()
        refreshed = time.monotonic()
        self.client.indices.refresh(index=self.index_name)
        check_index_fingerprint(self.client, self.index_name, self.fingerprint, force=True)
        report.seconds["refresh"] = time.monotonic() - refreshed
        report.seconds["total"] = time.monotonic() - started
        self._count_tokens(report, before)
        if cp_path is not None and cp is not None:
            cp.complete = True
            cp.save(cp_path)
        return report

    def _checkpoint(self, paths: list[Path]) -> tuple[Path | None, Checkpoint | None, bool]:
        """The checkpoint file, its state, and whether that state was resumed from disk."""
        ctl = self.control
        if ctl.checkpoint is None and ctl.home is None:
            return None, None, False
        key = run_key(self.index_name, paths, self.fingerprint["digest"], ctl.id_field)
        path = ctl.checkpoint or default_checkpoint_path(ctl.home or Path("."), key)
        inputs = input_state(paths)
        found = Checkpoint.load(path, key, inputs) if ctl.resume else None
        if found is not None:
            return path, found, True
        fresh = Checkpoint(key=key, inputs=inputs, dead_letter_bytes=_size(self.dead_letter))
        return path, fresh, False

    def _prepared(self, records: Iterator[SourceRecord]) -> Iterator[PreparedBatch]:
        opts, skip = self.options, self.control.skip_unchanged
        for batch in token_batches(
            records, token_budget=opts.token_budget, max_docs=opts.max_batch_docs
        ):
            known = self._known_hashes(batch) if skip else None
            yield prepare_batch(
                batch, self.pipeline, self.index_name,
                hash_field=HASH_FIELD if skip else None, known_hashes=known,
                fingerprint=self.fingerprint["digest"], semantic=self.semantic,
                mirrors=self._mirrors,
            )  # fmt: skip

    def _known_hashes(self, batch: list[SourceRecord]) -> dict[str, str]:
        ids = [r.doc_id for r in batch if not r.is_bad]
        if not ids or not self.client.indices.exists(index=self.index_name):
            return {}
        found = self.client.mget(
            index=self.index_name, body={"ids": ids}, params={"_source_includes": HASH_FIELD}
        )
        trust = self.control.trust_unhashed and self._fingerprint_matched
        return {d["_id"]: d["_source"].get(HASH_FIELD) or (UNHASHED if trust else "")
                for d in found["docs"] if d.get("found")}  # fmt: skip

    def _progress(self, before: TokenStats) -> Callable[[IndexReport], None]:
        def update(report: IndexReport) -> None:
            self._count_tokens(report, before)
            if self.on_batch is not None:
                self.on_batch(report)

        return update

    def _count_tokens(self, report: IndexReport, before: TokenStats) -> None:
        now = _snapshot(self.token_stats)
        report.tokens = now.tokens - before.tokens
        report.truncated = now.truncated - before.truncated


def _snapshot(stats: Callable[[], TokenStats] | None) -> TokenStats:
    if stats is None:
        return TokenStats()
    current = stats()
    return TokenStats(current.texts, current.tokens, current.truncated, current.lost)


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else 0
