"""Bulk ingest on a Ray cluster: Ray Data readers → model actors → an OpenSearch datasink.

The same stages as the single-process indexer (:mod:`processors.indexing.bulk`), driven by
Ray Data instead of a thread:

* **read**: Ray's readers (:mod:`processors.indexing.ray_read`: ``read_text`` for JSONL, one
  row per line, parsed by the same line parser as the single process so bad lines are
  dead-lettered the same way; ``read_csv``; ``read_parquet``), or any Ray dataset of documents
  a user builds (:func:`prepare_dataset`);
* **prepare**: ``map_batches`` with :class:`PrepareDocuments`, a callable class, so each actor
  loads the pipeline's models once; inside an actor the rows are sorted by length and cut into
  token-budget batches, and each batch goes through
  :func:`~processors.indexing.prepare.prepare_batch` (the one batch function of both drivers);
  ``--num-gpus-per-actor`` becomes the actors' ``num_gpus``;
* **write**: :class:`OpenSearchDatasink` sends the actions with
  :func:`~processors.indexing.sender.send_actions` (chunking, 429/5xx back-off, poison items
  alone), returns per-item results, and the driver writes the dead-letter file and records the
  index fingerprint (checked before anything runs, as in the single process).

Exactly-once: every document's id is deterministic (its ``_id``, ``id_field`` or a hash of
its content), so a batch that Ray runs again after a worker died is written again under the
same ids: one copy each, nothing lost. **Resume on Ray** has no ordered checkpoint (Ray
schedules blocks in any order); ``resume=True`` instead asks the index, batch by batch, which
ids it already holds (``mget``) and skips those, so a re-run after a crash embeds and sends only
what was not acknowledged. With ``skip_unchanged`` the stored content hash must also match.

Example:
    >>> job = RayIngestJob(index="docs", settings={}, pipeline=None)  # doctest: +SKIP
    >>> report = ingest_files(job, [Path("docs.jsonl")], address="auto")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.indexing.prepare import UNHASHED, Failure, PreparedBatch, prepare_batch
from processors.indexing.records import SourceRecord, document_id, estimated_tokens, token_batches
from processors.indexing.runner import DeadLetter, IndexingOptions, IndexReport
from processors.indexing.sender import send_actions
from processors.indexing.sources import BadLine, _parse_line
from processors.ingest.sparse_mirror import mirrors_in
from processors.settings import Settings

JSONObject = dict[str, Any]
HASH_FIELD = "neuralpipe_hash"
LINE_COLUMN = "text"
PATH_COLUMN = "path"
ROW_COLUMNS = ("kind", "id", "location", "source", "doc", "reason")
SECONDS_COLUMN = "seconds"  # each row's share of its actor's busy time (the report's prepare)
# Ray starts its workers at niceness 15: where anything else runs on the node (the OpenSearch
# node's bulk indexing, on a small cluster or one machine) the model actors got only the CPU it
# left. Actors and writes run at the default priority instead, as a Ray job's driver does.
NOT_NICED = {"env_vars": {"RAY_worker_niceness": "0"}}


@dataclass(frozen=True)
class RayIngestJob:
    """Everything an actor and a write task need, picklable (no client, no model).

    Attributes:
        index: Target index (must exist, with its mapping).
        settings: ``Settings`` fields (home, URL, credentials, pipelines dir), as a dict.
        pipeline: ``(pipeline id, body)`` of the ingest pipeline, or None.
        options: Batch and bulk knobs (token budget, docs per bulk request, retry window).
        id_field: Field whose value is the id of documents without ``_id``.
        skip_unchanged: Store a content hash and skip documents whose stored hash is equal.
        resume: Skip ids the index already holds (a re-run after a crash).
        trust_present: With ``resume``, a present document without a hash counts as done
            (set by the driver when the index's fingerprint matched the pipeline's).
        fingerprint: The pipeline fingerprint digest (part of every content hash).
        truncation: The CLI's ``--truncation`` mode.
        threads: Intra-op threads per actor's models (None: the runtime's default).
        device: Where each actor runs its models (``cpu``, ``cuda``, ``cuda:N``).
    """

    index: str
    settings: Mapping[str, Any]
    pipeline: tuple[str, JSONObject] | None
    options: IndexingOptions = field(default_factory=IndexingOptions)
    id_field: str | None = None
    skip_unchanged: bool = False
    resume: bool = False
    trust_present: bool = False
    fingerprint: str = ""
    truncation: str = "warn"
    threads: int | None = 1
    device: str = "cpu"

    def make_settings(self) -> Settings:
        return Settings(**dict(self.settings))


def _client(job: RayIngestJob) -> Any:
    from processors.opensearch.client import make_client

    return make_client(job.make_settings())


def rows_to_records(batch: Mapping[str, Any], id_field: str | None) -> list[SourceRecord]:
    """Rows of a Ray batch (columns → sequences) as records with deterministic ids.

    Exactly the columns ``text`` and ``path`` (``read_text(..., include_paths=True)``: one JSONL
    line per row) are parsed as the single process parses a line; otherwise every row's columns
    are the document (nulls are
    dropped: a columnar reader fills absent fields with them).
    """
    columns = list(batch)
    size = len(batch[columns[0]]) if columns else 0
    paths = batch.get(PATH_COLUMN)
    jsonl = set(columns) == {LINE_COLUMN, PATH_COLUMN}
    records: list[SourceRecord] = []
    for row in range(size):
        where = str(paths[row]) if paths is not None else "dataset"
        doc: JSONObject | BadLine
        if jsonl:
            doc = _parse_line(str(batch[LINE_COLUMN][row]))
        else:
            doc = {c: _plain(batch[c][row]) for c in columns if c != PATH_COLUMN}
            doc = {k: v for k, v in doc.items() if v is not None}
        doc_id = ""
        if isinstance(doc, dict):
            try:
                doc_id = document_id(doc, id_field)
            except ValueError as exc:
                doc = BadLine(str(exc), doc)
        location = f"{where}: _id {doc_id}" if doc_id else where
        records.append(SourceRecord(row, location, doc, doc_id))
    return records


def _plain(value: Any) -> Any:
    """A numpy / arrow cell as plain JSON-able Python."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and value != value:  # NaN: pandas' null
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def known_ids(
    client: Any, index: str, ids: list[str], *, trust_present: bool, with_hash: bool
) -> dict[str, str]:
    """``id -> stored content hash`` of ``ids`` the index holds (``*``: trusted without one)."""
    if not ids:
        return {}
    params = {"_source_includes": HASH_FIELD} if with_hash else {"_source": "false"}
    found = client.mget(index=index, body={"ids": ids}, params=params)
    known: dict[str, str] = {}
    for doc in found["docs"]:
        if not doc.get("found"):
            continue
        stored = (doc.get("_source") or {}).get(HASH_FIELD)
        known[doc["_id"]] = stored or (UNHASHED if trust_present else "")
    return known


def batch_rows(batch: PreparedBatch) -> list[JSONObject]:
    """A prepared batch as rows for the datasink (sources as JSON text: no arrow schema)."""
    rows: list[JSONObject] = []
    for action in batch.actions:
        location, original = batch.origins.get(action["_id"], ("?", None))
        rows.append(
            {
                "kind": "index",
                "id": action["_id"],
                "location": location,
                "source": _dumps(action["_source"]),
                "doc": _dumps(original),
                "reason": "",
            }
        )
    for failure in batch.failures:
        rows.append(
            {
                "kind": "failed",
                "id": failure.doc_id or "",
                "location": failure.location,
                "source": "",
                "doc": _dumps(failure.doc),
                "reason": failure.reason,
            }
        )
    for kind, count in (("dropped", batch.dropped), ("unchanged", batch.unchanged)):
        rows.extend(
            {"kind": kind, "id": "", "location": "", "source": "", "doc": "", "reason": ""}
            for _ in range(count)
        )
    return rows


def _dumps(value: Any) -> str:
    """Compact JSON, as the client's serializer writes a bulk line (the sink sends it as is)."""
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


class PrepareDocuments:
    """The ``map_batches`` callable class: models loaded once per actor, then batch after batch.

    Each Ray batch is sorted by length and cut into token-budget batches (texts of similar
    length pad little), each run through :func:`prepare_batch`; the output has one row per
    input document (``kind`` index / failed / dropped / unchanged).
    """

    def __init__(self, job: RayIngestJob) -> None:
        from processors.models.binding import model_store

        self.job = job
        self.client = _client(job)
        self.mirrors = mirrors_in(self.client, job.index)  # dotted-feature mirrors to write
        self.pipeline = None
        if job.pipeline is not None:
            from processors.config.ingest_body import parse_ingest_pipeline
            from processors.pipeline.ingest import IngestPipeline

            store = model_store(
                job.make_settings(),
                truncation="count" if job.truncation == "warn" else job.truncation,
                spin=False,
                threads=job.threads,
                device=job.device,
            )
            spec = parse_ingest_pipeline(*job.pipeline)
            self.pipeline = IngestPipeline(
                spec, encoders=store.get, client=self.client, retry_for=job.options.retry_for
            )
            for step in spec.steps:  # load now: once per actor, before the first batch
                model_id = step.body.get("model_id")
                if isinstance(model_id, str):
                    store.get(model_id)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        started = time.monotonic()
        job = self.job
        records = rows_to_records(batch, job.id_field)
        records.sort(key=lambda r: 0 if r.is_bad else estimated_tokens(r.doc))
        records = [SourceRecord(i, r.location, r.doc, r.doc_id) for i, r in enumerate(records)]
        rows: list[JSONObject] = []
        for group in token_batches(
            records, token_budget=job.options.token_budget, max_docs=job.options.max_batch_docs
        ):
            known = None
            if job.resume or job.skip_unchanged:
                ids = [r.doc_id for r in group if not r.is_bad]
                known = known_ids(
                    self.client,
                    job.index,
                    ids,
                    with_hash=job.skip_unchanged,
                    trust_present=job.resume and job.trust_present,
                )
            prepared = prepare_batch(
                group,
                self.pipeline,
                job.index,
                hash_field=HASH_FIELD if job.skip_unchanged else None,
                known_hashes=known,
                fingerprint=job.fingerprint,
                mirrors=self.mirrors,
            )
            rows.extend(batch_rows(prepared))
        out: dict[str, list[Any]] = {c: [row[c] for row in rows] for c in ROW_COLUMNS}
        out[SECONDS_COLUMN] = [(time.monotonic() - started) / max(1, len(rows))] * len(rows)
        return out


@dataclass
class WriteSummary:
    """What one write task did: counts and the failures (for the driver's dead-letter file)."""

    counts: dict[str, int] = field(default_factory=dict)
    failures: list[JSONObject] = field(default_factory=list)
    seconds: float = 0.0
    prepare_seconds: float = 0.0


def write_rows(client: Any, job: RayIngestJob, rows: Iterable[Mapping[str, Any]]) -> WriteSummary:
    """Send the ``index`` rows; count and collect everything else (the datasink's body)."""
    started = time.monotonic()
    summary = WriteSummary(counts=dict.fromkeys(("ok", "failed", "dropped", "unchanged"), 0))
    actions: list[JSONObject] = []
    origins: dict[str, tuple[str, str]] = {}
    for row in rows:
        kind = str(row["kind"])
        summary.prepare_seconds += float(row.get(SECONDS_COLUMN) or 0.0)
        if kind == "index":
            # the source stays the JSON text the actor wrote: the client sends a str as it is
            actions.append({"_index": job.index, "_id": row["id"], "_source": str(row["source"])})
            origins[str(row["id"])] = (str(row["location"]), str(row["doc"]))
        elif kind == "failed":
            summary.counts["failed"] += 1
            summary.failures.append(
                Failure(
                    str(row["location"]),
                    str(row["id"]) or None,
                    str(row["reason"]),
                    _loads(str(row["doc"])),
                ).record()
            )
        else:
            summary.counts[kind] += 1
    opts = job.options
    for ok, item in send_actions(
        client,
        actions,
        chunk_docs=opts.chunk_docs,
        max_chunk_bytes=opts.max_chunk_bytes,
        retry_for=opts.retry_for,
    ):
        if ok:
            summary.counts["ok"] += 1
            continue
        info = next(iter(item.values()))
        doc_id = str(info.get("_id"))
        location, original = origins.get(doc_id, ("?", "null"))
        reason = json.dumps(info.get("error") or info.get("exception"), default=str)
        summary.counts["failed"] += 1
        summary.failures.append(
            Failure(location, doc_id, f"node refused: {reason}", _loads(original)).record()
        )
    summary.seconds = time.monotonic() - started
    return summary


def _loads(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def merge_summaries(
    report: IndexReport, summaries: Iterable[WriteSummary], dead: DeadLetter
) -> None:
    """Add the write tasks' counts to ``report``; write their failures to the dead letters."""
    for summary in summaries:
        for key, value in summary.counts.items():
            setattr(report, key, getattr(report, key) + value)
        report.seconds["bulk"] += summary.seconds
        report.seconds["prepare"] += summary.prepare_seconds
        for record in summary.failures:
            if len(report.first_errors) < 10:
                report.first_errors.append(
                    f"{record['location']} (id {record['_id']}): {record['reason']}"
                )
            dead.write(Failure(record["location"], record["_id"], record["reason"], record["doc"]))


@dataclass(frozen=True)
class RayResources:
    """How many prepare actors, what each asks the cluster for, and the rows of one actor call
    (small enough that the actors finish together and the last bulk after them is short)."""

    actors: int = 2
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    batch_rows: int = 256


def prepare_dataset(dataset: Any, job: RayIngestJob, resources: RayResources) -> Any:
    """``dataset`` (documents, or JSONL lines) → one row per document, ready for the datasink.

    The step a Ray user composes with their own dataset::

        ds = ray.data.read_parquet("s3://bucket/docs/")
        prepared = prepare_dataset(ds, job, RayResources(actors=8, gpus_per_actor=1))
        prepared.write_datasink(OpenSearchDatasink(job))
    """
    from ray.data import ActorPoolStrategy

    return dataset.map_batches(
        PrepareDocuments,
        fn_constructor_kwargs={"job": job},
        batch_size=resources.batch_rows,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=resources.actors),
        num_cpus=resources.cpus_per_actor,
        num_gpus=resources.gpus_per_actor or None,
        runtime_env=NOT_NICED,
    )
