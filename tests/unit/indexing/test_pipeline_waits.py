"""The ingest pipeline waits out a node that is down for its core steps, within a bound."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import RequestError, TransportError

from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import ClusterUnavailableError
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import HashEmbedder

BODY = {"processors": [
    {"set": {"field": "s", "value": "v"}},
    {"text_embedding": {"model_id": "m", "field_map": {"text": "vec"}}},
]}  # fmt: skip
DOCS = [{"_id": "a", "_source": {"text": "one"}}, {"_id": "b", "_source": {"text": "two"}}]


class FlakyNode:
    """Refuses the first ``failures`` calls with ``error``, then runs ``set`` like the node."""

    def __init__(self, failures: int, error: TransportError) -> None:
        self.failures, self.error, self.calls = failures, error, 0
        self.transport = self

    def perform_request(self, method: str, path: str, body: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"docs": [{"doc": {"_source": {**d["_source"], "s": "v"}}} for d in body["docs"]]}


def pipeline(node: FlakyNode, retry_for: float) -> IngestPipeline:
    spec = parse_ingest_pipeline("p", BODY)
    runner = IngestPipeline(spec, encoders=lambda _: HashEmbedder(4), client=node,
                            retry_for=retry_for)  # fmt: skip
    runner.stop.wait = lambda timeout=None: False  # type: ignore[method-assign]
    return runner


def test_an_outage_is_waited_out_and_the_batch_run_again() -> None:
    node = FlakyNode(3, OSConnectionError("N/A", "refused", None))
    results = pipeline(node, retry_for=60).run(DOCS)
    assert node.calls == 4 and all(r.ok and r.source and r.source["s"] == "v" for r in results)
    assert DOCS[0]["_source"] == {"text": "one"}  # inputs untouched by the failed tries


def test_back_pressure_is_waited_out_too() -> None:
    node = FlakyNode(2, TransportError(429, "es_rejected_execution_exception", {}))
    assert all(r.ok for r in pipeline(node, retry_for=60).run(DOCS))


def test_the_wait_is_bounded_and_off_by_default() -> None:
    down = OSConnectionError("N/A", "refused", None)
    with pytest.raises(ClusterUnavailableError, match="--resume"):
        pipeline(FlakyNode(10**6, down), retry_for=3).run(DOCS)
    with pytest.raises(OSConnectionError):
        pipeline(FlakyNode(1, down), retry_for=0).run(DOCS)


def test_a_pipeline_the_node_refuses_fails_each_document_with_the_nodes_error() -> None:
    refused = RequestError(400, "script_exception", {"error": {
        "type": "script_exception", "reason": "compile error"}})  # fmt: skip
    results = pipeline(FlakyNode(10**6, refused), retry_for=60).run(DOCS)
    assert [r.error_type for r in results] == ["script_exception"] * 2
    assert all(r.error == "[script_exception] compile error" for r in results)
