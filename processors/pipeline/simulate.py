"""``POST _ingest/pipeline/<id>/_simulate`` for a neuralpipe pipeline, in the node's own shapes.

Core segments run on the node's ``_ingest/pipeline/_simulate`` (with ``verbose=true`` too when
asked, its per-processor results merged in order with ours); our processors run in Python
between them. The answer is what OpenSearch returns for the same pipeline:

* plain: ``{"docs": [{"doc": {"_index", "_id", "_source", "_ingest": {"timestamp"}}}, ...]}``;
  a failed document is ``{"error": {"root_cause": [...], "type", "reason"}}``, a dropped one
  ``null``;
* verbose: ``{"docs": [{"processor_results": [{"processor_type", "status", "description"?,
  "tag"?, "if"?, "error" | "ignored_error"?, "doc"?}, ...]}, ...]}`` with status ``success``,
  ``error``, ``error_ignored``, ``skipped`` or ``dropped``.

Our processors fail as the plugin's do: ``illegal_argument_exception`` with the message as
reason. Absent ``_index``/``_id`` show as ``"_index"``/``"_id"``, as on the node.

Example:
    >>> answer = simulate(spec, [{"_id": "1", "_source": {"text": "hi"}}],
    ...                   encoders=lambda model_id: HashEmbedder(8), client=client)
    ...                                                                   # doctest: +SKIP
    >>> answer["docs"][0]["doc"]["_source"]["text_embedding"][:2]         # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processors.config.ingest_body import IngestPipelineSpec, Step
from processors.errors import ConfigError
from processors.ingest.chunking import TextChunkingProcessor
from processors.ingest.inference import InferenceProcessor
from processors.ingest.sparse_targets import SparseVectorTargets, run_inference
from processors.pipeline.ingest import EncoderFor, OurProcessor, _segments, pipeline_on_failure

JSONObject = dict[str, Any]
META_KEYS = ("_index", "_id", "_routing", "_version", "_version_type")
"""Document metadata a ``_simulate`` doc may carry (besides ``_source``)."""
PLACEHOLDERS = {"_index": "_index", "_id": "_id"}
"""What the node shows for absent ``_index``/``_id``."""


def ingest_timestamp(nanos: int | None = None) -> str:
    """``_ingest.timestamp`` as Java's ``ZonedDateTime.toString()`` in UTC (nanosecond digits
    trimmed by groups of three, seconds omitted when zero)."""
    nanos = time.time_ns() if nanos is None else nanos
    seconds, frac = divmod(nanos, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M")
    if moment.second or frac:
        text += f":{moment.second:02d}"
    if frac:
        if frac % 1_000_000 == 0:
            text += f".{frac // 1_000_000:03d}"
        elif frac % 1000 == 0:
            text += f".{frac // 1000:06d}"
        else:
            text += f".{frac:09d}"
    return text + "Z"


def error_body(reason: str, error_type: str = "illegal_argument_exception") -> JSONObject:
    """An OpenSearch error object (``root_cause``, ``type``, ``reason``)."""
    cause = {"type": error_type, "reason": reason}
    return {"root_cause": [cause], **cause}


@dataclass
class _Doc:
    meta: JSONObject
    source: JSONObject
    timestamp: str
    results: list[JSONObject] = field(default_factory=list)
    error: JSONObject | None = None
    dropped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.dropped

    def rendered(self, pipeline_id: str | None) -> JSONObject:
        """The ``doc`` object: metadata, ``_source``, ``_ingest`` (with the pipeline if verbose)."""
        meta = {k: self.meta.get(k, v) for k, v in PLACEHOLDERS.items()}
        meta.update((k, v) for k, v in self.meta.items() if k not in PLACEHOLDERS)
        ingest = {"pipeline": pipeline_id} if pipeline_id is not None else {}
        return {**meta, "_source": copy.deepcopy(self.source),
                "_ingest": {**ingest, "timestamp": self.timestamp}}  # fmt: skip


def simulate(
    spec: IngestPipelineSpec,
    docs: list[JSONObject],
    *,
    encoders: EncoderFor,
    client: Any = None,
    verbose: bool = False,
) -> JSONObject:
    """Run ``spec`` over ``_simulate`` docs (``{"_index"?, "_id"?, "_source"}``); the node's
    ``_simulate`` answer for the same pipeline (``verbose`` as ``?verbose=true``)."""
    segments = _segments(spec.steps, encoders, client)
    if client is None and any(isinstance(s, list) for s in segments):
        raise ValueError(f"pipeline {spec.pipeline_id} has core processors: a client is needed")
    on_failure = pipeline_on_failure(spec, segments)
    state = [_Doc(_meta_of(d), copy.deepcopy(d["_source"]), ingest_timestamp()) for d in docs]
    runner = _Runner(spec.pipeline_id, client, verbose, on_failure)
    for segment in segments:
        live = [d for d in state if d.ok]
        if not live:
            break
        if isinstance(segment, list):
            runner.run_on_node(segment, live)
        else:
            step, processor = segment
            runner.run_ours(step, processor, live)
    if verbose:
        return {"docs": [{"processor_results": d.results} for d in state]}
    return {"docs": [_plain(d) for d in state]}


def _plain(doc: _Doc) -> JSONObject | None:
    if doc.dropped:
        return None
    if doc.error is not None:
        return {"error": doc.error}
    return {"doc": doc.rendered(None)}


def _meta_of(doc: JSONObject) -> JSONObject:
    return {k: str(doc[k]) if k != "_version" else doc[k] for k in META_KEYS if k in doc}


class _Runner:
    """Runs one segment over the live documents, recording verbose results when asked."""

    def __init__(
        self, pipeline_id: str, client: Any, verbose: bool, on_failure: list[Any] | None = None
    ) -> None:
        self.pipeline_id = pipeline_id
        self.client = client
        self.verbose = verbose
        self.on_failure = on_failure or []  # only with a core-only pipeline: one node segment

    def run_ours(self, step: Step, processor: OurProcessor, live: list[_Doc]) -> None:
        sources = [d.source for d in live]
        if isinstance(processor, TextChunkingProcessor):
            errors = processor.run(sources, indices=[d.meta.get("_index") for d in live])
        elif isinstance(processor, InferenceProcessor):
            indices = [d.meta.get("_index") for d in live]
            ids = [d.meta.get("_id") for d in live]
            targets = SparseVectorTargets(self.client)
            errors = run_inference(processor, sources, indices, ids, self.client, targets)
        else:
            errors = processor.run(sources)
        config = processor.config
        labels = {k: v for k, v in (("description", config.description), ("tag", config.tag)) if v}
        for doc, error in zip(live, errors, strict=True):
            failure = error_body(str(error)) if error is not None else None
            if failure is not None and not config.ignore_failure:
                doc.error = failure
            if not self.verbose:
                continue
            entry: JSONObject = {"processor_type": step.type_name, "status": "success", **labels}
            if failure is not None and config.ignore_failure:
                entry.update(status="error_ignored", ignored_error={"error": failure})
            elif failure is not None:
                entry.update(status="error", error=failure)
            if doc.ok:
                entry["doc"] = doc.rendered(self.pipeline_id)
            doc.results.append(entry)

    def run_on_node(self, steps: list[Step], live: list[_Doc]) -> None:
        pipeline: JSONObject = {"processors": [{s.type_name: s.body} for s in steps]}
        if self.on_failure:
            pipeline["on_failure"] = self.on_failure
        body = {"pipeline": pipeline, "docs": [{**d.meta, "_source": d.source} for d in live]}
        url = "/_ingest/pipeline/_simulate"
        plain = self.client.transport.perform_request("POST", url, body=body)
        if self.verbose:
            traced = self.client.transport.perform_request(
                "POST", url, params={"verbose": "true"}, body=body
            )
            for doc, item in zip(live, traced["docs"], strict=True):
                doc.results.extend(self._relabel(r, doc) for r in item["processor_results"])
        for doc, item in zip(live, plain["docs"], strict=True):
            if item is None or ("doc" in item and item["doc"] is None):
                doc.dropped = True
            elif "error" in item:
                doc.error = item["error"]
            else:
                answer = item["doc"]
                doc.source = answer["_source"]
                doc.meta = _meta_after(answer, doc.meta)

    def _relabel(self, result: JSONObject, doc: _Doc) -> JSONObject:
        """The node's entry with our pipeline id and the document's one ingest timestamp."""
        shown = result.get("doc")
        if isinstance(shown, dict) and isinstance(shown.get("_ingest"), dict):
            shown["_ingest"].update(pipeline=self.pipeline_id, timestamp=doc.timestamp)
        return result


def _meta_after(answer: JSONObject, before: JSONObject) -> JSONObject:
    """Metadata the node answered, without the placeholders it shows for absent keys."""
    meta = {k: v for k, v in answer.items() if k not in ("_source", "_ingest")}
    for key, placeholder in PLACEHOLDERS.items():
        if key not in before and meta.get(key) == placeholder:
            del meta[key]
    return meta


def parse_docs(value: Any, where: str = "docs") -> list[JSONObject]:
    """``_simulate`` docs from a request body ``{"docs": [...]}``, a list, or one document.

    A document with ``_source`` is a ``_simulate`` doc (``_index``/``_id``/``_routing``
    optional); any other object is a bare source (its ``_id`` key, if any, is the id, as in
    ``index bulk`` input).
    """
    if isinstance(value, dict) and "docs" in value:
        extra = sorted(set(value) - {"docs"})
        if extra:
            raise ConfigError(f"{where}: unknown keys {extra} (a _simulate body has only docs)")
        value = value["docs"]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where}: must specify at least one document in [docs]")
    return [_doc_of(item, f"{where}[{n}]") for n, item in enumerate(items)]


def _doc_of(item: Any, where: str) -> JSONObject:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a document must be a JSON object")
    if "_source" not in item:
        source = {k: v for k, v in item.items() if k != "_id"}
        return {"_id": item["_id"], "_source": source} if "_id" in item else {"_source": source}
    unknown = sorted(set(item) - {"_source", *META_KEYS})
    if unknown or not isinstance(item["_source"], dict):
        why = f"unknown keys {unknown}" if unknown else "[_source] must be an object"
        raise ConfigError(f"{where}: {why}")
    return dict(item)


def read_docs(path: Path | str) -> list[JSONObject]:
    """Documents from a file (``-``: stdin): a ``_simulate`` body or array (JSON), or JSONL."""
    import sys

    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return parse_docs(json.loads(text), str(path))
    except json.JSONDecodeError:
        pass
    docs: list[JSONObject] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            docs.extend(parse_docs(json.loads(line), f"{path}:{number}"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON: {exc}") from None
    if not docs:
        raise ConfigError(f"{path}: must specify at least one document in [docs]")
    return docs
