"""_search / _msearch: pipeline choice as OpenSearch makes it, rewrites, cache, errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.unit.proxy.conftest import Call, Models
from tests.unit.proxy.fake_node import FakeNode

NEURAL = {"query": {"neural": {"text_embedding": {"query_text": "wing lift", "k": 3}}}}


def neural(model_id: str | None = "dense-1") -> dict[str, Any]:
    clause: dict[str, Any] = {"query_text": "wing lift", "k": 3}
    if model_id:
        clause["model_id"] = model_id
    return {"query": {"neural": {"text_embedding": clause}}}


def sent(node: FakeNode) -> tuple[str, dict[str, str], dict[str, Any]]:
    return node.searches[-1]


def test_plain_search_is_streamed_byte_for_byte(call: Call, node: FakeNode) -> None:
    raw = b'{"query":{"match":{"text":"wing"}},  "size": 3}'
    resp = call("POST", "/docs/_search?size=2&search_pipeline=node-only", content=raw)
    assert resp.status_code == 200
    request = node.last("/docs/_search")
    assert request.content == raw
    assert request.url.query == b"size=2&search_pipeline=node-only"


def test_neural_becomes_knn_with_a_vector(call: Call, node: FakeNode) -> None:
    resp = call("POST", "/docs/_search?size=2", json=neural())
    assert resp.status_code == 200, resp.text
    assert resp.json()["hits"]["hits"][0]["_id"] == "1"
    index, params, body = sent(node)
    knn = body["query"]["knn"]["text_embedding"]
    assert index == "docs" and params == {"size": "2"}
    assert knn["k"] == 3 and len(knn["vector"]) == 8


def test_named_pipeline_from_a_file_fills_the_model_id(call: Call, node: FakeNode) -> None:
    resp = call("POST", "/docs/_search?search_pipeline=enrich", json=neural(None))
    assert resp.status_code == 200, resp.text
    _, params, body = sent(node)
    assert "search_pipeline" not in params
    assert "knn" in body["query"]


def test_without_a_model_id_or_pipeline_it_is_the_plugins_400(call: Call) -> None:
    resp = call("POST", "/docs/_search", json=neural(None))
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] in ("illegal_argument_exception", "parsing_exception")


def test_inline_pipeline_and_both_named_and_inline(call: Call, node: FakeNode) -> None:
    inline = {"request_processors": [{"neural_query_enricher": {"default_model_id": "dense-1"}}]}
    resp = call("POST", "/docs/_search", json={**neural(None), "search_pipeline": inline})
    assert resp.status_code == 200, resp.text
    assert "search_pipeline" not in sent(node)[2]
    resp = call("POST", "/docs/_search?search_pipeline=enrich",
                json={**neural(None), "search_pipeline": inline})  # fmt: skip
    assert resp.status_code == 400
    assert resp.json()["error"]["reason"] == (
        "Both named and inline search pipeline were specified. Please only specify one or the other."
    )


def test_index_default_pipeline_from_meta_and_none(call: Call, node: FakeNode) -> None:
    node.index("docs", **{"search.default_pipeline": "enrich"})
    assert call("POST", "/docs/_search", json=neural(None)).status_code == 200
    resp = call("POST", "/docs/_search?search_pipeline=_none", json=neural(None))
    assert resp.status_code == 400  # no enricher: the model id is missing


def test_a_pipeline_neuralpipe_does_not_know_is_left_to_the_node(
    call: Call, node: FakeNode
) -> None:
    node.index("docs", **{"search.default_pipeline": "node-pipe"})
    call("POST", "/docs/_search", json={"query": {"match_all": {}}})
    assert node.last("/docs/_search").url.params["search_pipeline"] == "node-pipe"
    call("POST", "/docs/_search?search_pipeline=other", json=neural())
    assert sent(node)[1]["search_pipeline"] == "other"


def test_query_embeddings_are_cached(call: Call, models: Models) -> None:
    for _ in range(3):
        assert call("POST", "/docs/_search", json=neural()).status_code == 200
    assert models.dense.calls == [["wing lift"]]


def test_unknown_model_is_a_404(call: Call) -> None:
    resp = call("POST", "/docs/_search", json=neural("nope"))
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "status_exception"


def test_upstream_errors_come_back_as_they_are(call: Call, node: FakeNode) -> None:
    body = {
        "query": {"neural_sparse": {"text_sparse": {"query_text": "x", "model_id": "sparse-1"}}}
    }
    resp = call("POST", "/missing/_search", json=body)
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "index_not_found_exception"


def test_neural_sparse_becomes_rank_features(call: Call, node: FakeNode) -> None:
    node.index("docs", {"text_sparse": {"type": "rank_features"}})
    body = {"query": {"neural_sparse": {"text_sparse": {"query_text": "wing wing lift",
                                                        "model_id": "sparse-1"}}}}  # fmt: skip
    assert call("POST", "/docs/_search", json=body).status_code == 200
    clauses = json.dumps(sent(node)[2])
    assert "rank_feature" in clauses and "text_sparse.wing" in clauses


@pytest.mark.parametrize("path", ["/_msearch", "/docs/_msearch"])
def test_msearch_mixes_plain_and_neural(call: Call, node: FakeNode, path: str) -> None:
    lines = [{"index": "docs"}, {"query": {"match_all": {}}},
             {}, neural(),
             {"index": "docs"}, neural("nope")]  # fmt: skip
    raw = "".join(json.dumps(line) + "\n" for line in lines)
    resp = call("POST", path, content=raw, headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 200, resp.text
    responses = resp.json()["responses"]
    assert [r["status"] for r in responses] == [200, 200, 404]
    assert responses[2]["error"]["type"] == "status_exception"
    msearch = [s for s in node.searches if s[0] == "msearch"]
    assert msearch == [("msearch", {}, {"query": {"match_all": {}}})]
    assert "knn" in [s for s in node.searches if s[0] != "msearch"][-1][2]["query"]


def test_msearch_without_neural_is_streamed(call: Call, node: FakeNode) -> None:
    raw = b'{"index": "docs"}\n{"query": {"match_all": {}}}\n'
    call("POST", "/_msearch", content=raw)
    assert node.last("/_msearch").content == raw


def test_vectors_are_sent_with_the_digits_float32_needs() -> None:
    from processors.proxy.search_routes import dumps

    rng = np.random.default_rng(5)
    for scale in (1e-6, 1e-2, 1.0, 1e3):
        vector = (rng.standard_normal(384) * scale).astype(np.float32)
        body = {"size": 3, "query": {"bool": {"should": [
            {"knn": {"v": {"vector": vector.tolist(), "k": 3}}}, {"match": {"t": "vector"}}]}}}  # fmt: skip
        sent = json.loads(dumps(body))
        back = np.asarray(sent["query"]["bool"]["should"][0]["knn"]["v"]["vector"], np.float32)
        assert np.array_equal(back, vector)  # the same float32, bit for bit
        assert sent["query"]["bool"]["should"][1] == {"match": {"t": "vector"}}
    short = {"vector": [0.5, 1.0]}  # not a query vector: as json has it
    assert dumps(dict(short)) == b'{"vector":[0.5,1.0]}'
    odd = {"vector": [0.5] * 7 + ["x"]}
    assert json.loads(dumps(dict(odd))) == odd
