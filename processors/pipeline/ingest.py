"""Run an ingest pipeline over a batch of documents.

Consecutive core processors (``set``, ``rename``, ``script``, ...) are sent as one inline pipeline
to the node's ``_ingest/pipeline/_simulate`` for the whole batch, so the node runs them exactly as
OpenSearch does (``if``, ``ignore_failure``, ``on_failure`` included). neuralpipe's processors
run in Python between those segments. A failed document stops there and is reported; the
others go on. A pipeline the node refuses (``_simulate`` answers 400, e.g. a script in a
language it does not have) fails every document with the node's own error. With
``retry_for`` > 0 an unreachable or overloaded node (connection refused, 429, 502-504, for
``_simulate`` or a chunker's ``_analyze``) is waited for with back-off up to that many seconds
(as the bulk sender waits), the batch run again from its inputs, then
:class:`~processors.errors.ClusterUnavailableError`; setting ``stop`` ends the wait at once.

Example:
    >>> runner = IngestPipeline(  # doctest: +SKIP
    ...     spec, encoders=lambda mid: HashEmbedder(), client=client)
    >>> results = runner.run([{"_id": "1", "_source": {"text": "hi"}}])  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from processors.config.ingest_body import IngestPipelineSpec, Step
from processors.errors import ClusterUnavailableError, UnsupportedFeatureError
from processors.ingest.chunking import TextChunkingProcessor
from processors.ingest.inference import (
    InferenceProcessor,
)
from processors.ingest.sparse_targets import SparseVectorTargets, run_inference
from processors.ingest.task_processors import ElasticInferenceProcessor, MLInferenceProcessor
from processors.registry import Kind, processor_type

JSONObject = dict[str, Any]
EncoderFor = Callable[[str], Any]
WAIT_STATUSES = frozenset((429, 502, 503, 504))
OurProcessor = (
    InferenceProcessor | TextChunkingProcessor | ElasticInferenceProcessor | MLInferenceProcessor
)


@dataclass
class DocResult:
    """What happened to one document: its final source, or why it failed, or that it was dropped."""

    doc_id: str | None
    source: JSONObject | None
    error: str | None = None
    dropped: bool = False
    index: str | None = None
    error_type: str | None = None
    """OpenSearch's error type of ``error`` (``illegal_argument_exception`` for ours)."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.dropped


def pipeline_on_failure(spec: IngestPipelineSpec, segments: list[Any]) -> list[Any]:
    """The pipeline-level ``on_failure`` handlers, which the node runs with the one segment of
    a core-only pipeline; refused around neuralpipe's processors."""
    handlers: list[Any] = list(spec.body.get("on_failure") or [])
    if handlers and not all(isinstance(segment, list) for segment in segments):
        # OpenSearch stops the pipeline at the first failure and runs these handlers; with
        # neuralpipe's processors in between, that cannot be delegated to the node as one.
        raise UnsupportedFeatureError(
            f"{spec.pipeline_id}.on_failure: a pipeline-level on_failure is only supported "
            "when every processor is a core one; put on_failure on the core processors, and "
            "ignore_failure on neuralpipe's"
        )
    return handlers


class IngestPipeline:
    """An ingest pipeline bound to encoders (by model id) and, for core steps, a node client."""

    def __init__(
        self, spec: IngestPipelineSpec, *, encoders: EncoderFor, client: Any = None,
        retry_for: float = 0.0,
    ) -> None:  # fmt: skip
        self.spec = spec
        self.client = client
        self.retry_for = retry_for
        self.stop = threading.Event()
        self._segments = _segments(spec.steps, encoders, client)
        if client is None and any(isinstance(seg, list) for seg in self._segments):
            raise ValueError(
                f"pipeline {spec.pipeline_id} has core processors: a node client is needed"
            )
        self._on_failure = pipeline_on_failure(spec, self._segments)
        self._sparse_targets = SparseVectorTargets(client)

    def run(self, docs: list[JSONObject]) -> list[DocResult]:
        """``docs`` are ``{"_id": ..., "_source": {...}}`` (``_index``/``_routing`` optional).

        A node that is down or overloaded (for ``_simulate`` or ``_analyze``) is waited for, and
        the batch run again from its inputs, for up to ``retry_for`` seconds.
        """
        deadline, backoff = time.monotonic() + self.retry_for, 1.0
        while True:
            try:
                return self._run_once(docs)
            except TransportError as exc:
                down = isinstance(exc, OSConnectionError) or exc.status_code in WAIT_STATUSES
                if not down or self.retry_for <= 0:
                    raise
                if time.monotonic() + backoff > deadline or self.stop.is_set():
                    raise ClusterUnavailableError(
                        f"the cluster did not run the pipeline's node steps for "
                        f"{self.retry_for:.0f} s ({exc.__class__.__name__}); everything "
                        "acknowledged so far is checkpointed: run again with --resume"
                    ) from exc
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 15.0)

    def _run_once(self, docs: list[JSONObject]) -> list[DocResult]:
        results = [
            DocResult(d.get("_id"), copy.deepcopy(d["_source"]), index=d.get("_index"))
            for d in docs
        ]
        for segment in self._segments:
            live = [r for r in results if r.ok]
            if not live:
                break
            if isinstance(segment, list):
                self._run_on_node(segment, live)
            else:
                self._run_ours(segment, live)
        return results

    def _run_ours(self, step: tuple[Step, OurProcessor], live: list[DocResult]) -> None:
        spec, processor = step
        sources = [r.source for r in live if r.source is not None]
        if isinstance(processor, TextChunkingProcessor):
            errors = processor.run(sources, indices=[r.index for r in live])
        elif isinstance(processor, InferenceProcessor):
            indices = [r.index for r in live if r.source is not None]
            ids = [r.doc_id for r in live if r.source is not None]
            errors = run_inference(processor, sources, indices, ids, self.client,
                                   self._sparse_targets)  # fmt: skip
        else:
            errors = processor.run(sources)
        for result, error in zip(live, errors, strict=True):
            if error is None:
                continue
            if processor.config.ignore_failure:
                continue
            result.error = f"[{spec.type_name}] {error}"
            result.error_type = "illegal_argument_exception"

    def _run_on_node(self, steps: list[Step], live: list[DocResult]) -> None:
        pipeline: JSONObject = {"processors": [{s.type_name: s.body} for s in steps]}
        if self._on_failure:
            pipeline["on_failure"] = self._on_failure
        body = {
            "pipeline": pipeline,
            "docs": [
                {"_index": r.index or "_index", "_id": r.doc_id or "_id", "_source": r.source}
                for r in live
            ],
        }
        try:
            answer = self.client.transport.perform_request(
                "POST", "/_ingest/pipeline/_simulate", body=body
            )
        except TransportError as exc:
            if not isinstance(exc.status_code, int) or exc.status_code != 400:
                raise
            error = exc.info.get("error") if isinstance(exc.info, dict) else None
            error = error if isinstance(error, dict) else {"type": str(exc.error), "reason": ""}
            for result in live:  # the node refuses the pipeline itself: no document passes
                result.error = f"[{error.get('type')}] {error.get('reason')}"
                result.error_type = error.get("type")
            return
        for result, item in zip(live, answer["docs"], strict=True):
            if item is None or ("doc" in item and item["doc"] is None):
                result.dropped = True
            elif "error" in item:
                error = item["error"]
                result.error = f"[{error.get('type')}] {error.get('reason')}"
                result.error_type = error.get("type")
            else:
                result.source = item["doc"]["_source"]


def _segments(steps: tuple[Step, ...], encoders: EncoderFor, client: Any) -> list[Any]:
    segments: list[Any] = []
    for step in steps:
        if step.runs_on_node:
            if segments and isinstance(segments[-1], list):
                segments[-1].append(step)
            else:
                segments.append([step])
            continue
        build = processor_type(Kind.INGEST, step.type_name).build
        if build is None:
            raise ValueError(f"ingest processor [{step.type_name}] has no builder")
        processor: OurProcessor = build(step.body, encoders, client)
        segments.append((step, processor))
    return segments
