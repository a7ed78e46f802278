"""Pipeline APIs: stored in the node's hidden index, validated, node-only bodies to the node."""

from __future__ import annotations

import json

from tests.unit.proxy.conftest import Call
from tests.unit.proxy.fake_node import FakeNode

OURS = {"description": "d", "processors": [
    {"text_embedding": {"model_id": "dense-1", "field_map": {"text": "text_embedding"}}}]}  # fmt: skip
CORE = {"processors": [{"set": {"field": "a", "value": 1}}]}


def test_put_get_delete_an_ingest_pipeline(call: Call, node: FakeNode) -> None:
    resp = call("PUT", "/_ingest/pipeline/mine", json=OURS)
    assert resp.json() == {"acknowledged": True}
    created = [
        r for r in node.requests if r.method == "PUT" and r.url.path == "/.neuralpipe-pipelines"
    ]
    assert json.loads(created[0].content)["settings"]["index"]["hidden"] is True
    assert node.docs[(".neuralpipe-pipelines", "ingest:mine")]["body"] == OURS
    assert call("GET", "/_ingest/pipeline/mine").json() == {"mine": OURS}
    listed = call("GET", "/_ingest/pipeline").json()
    assert listed["mine"] == OURS and "embed" in listed  # files too
    assert call("GET", "/_ingest/pipeline/m*").json() == {"mine": OURS}
    assert call("DELETE", "/_ingest/pipeline/mine").json() == {"acknowledged": True}
    resp = call("GET", "/_ingest/pipeline/mine")
    assert resp.status_code == 404 and resp.json() == {}


def test_a_stored_pipeline_is_used_by_bulk(call: Call, node: FakeNode) -> None:
    call("PUT", "/_ingest/pipeline/mine", json=OURS)
    body = b'{"index": {"_index": "docs", "_id": "1"}}\n{"text": "hello"}\n'
    assert call("POST", "/_bulk?pipeline=mine", content=body).json()["errors"] is False
    assert "text_embedding" in node.bulks[-1][2][0]["source"]


def test_invalid_bodies_are_400_with_the_first_problem(call: Call) -> None:
    bad = {"processors": [{"text_embeding": {}}, {"sparse_encoding": {"field_map": {}}}]}
    resp = call("PUT", "/_ingest/pipeline/bad", json=bad)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["type"] == "parse_exception"
    assert error["reason"] == (
        "No processor type exists with name [text_embeding]. Did you mean 'text_embedding'?"
    )
    assert error["root_cause"] == [{"type": "parse_exception", "reason": error["reason"]}]
    resp = call("PUT", "/_search/pipeline/bad", json={"request_processors": [{"nope": {}}]})
    assert resp.status_code == 400


def test_core_only_pipelines_go_to_the_node(call: Call, node: FakeNode) -> None:
    resp = call("PUT", "/_ingest/pipeline/core", json=CORE)
    assert resp.json()["echo"]["method"] == "PUT"
    assert json.loads(resp.json()["echo"]["body"]) == CORE
    assert (".neuralpipe-pipelines", "ingest:core") not in node.docs


def test_search_pipelines(call: Call, node: FakeNode) -> None:
    body = {"request_processors": [{"neural_query_enricher": {"default_model_id": "dense-1"}}]}
    assert call("PUT", "/_search/pipeline/sp", json=body).json() == {"acknowledged": True}
    assert call("GET", "/_search/pipeline/sp").json() == {"sp": body}
    query = {"query": {"neural": {"text_embedding": {"query_text": "x", "k": 2}}}}
    assert call("POST", "/docs/_search?search_pipeline=sp", json=query).status_code == 200
    assert "knn" in node.searches[-1][2]["query"]
    assert call("DELETE", "/_search/pipeline/sp").status_code == 200
    resp = call("POST", "/docs/_search?search_pipeline=sp", json=query)
    assert resp.status_code == 400  # no model id without the enricher
    call("POST", "/docs/_search?search_pipeline=sp", json={"query": {"match_all": {}}})
    assert node.last("/docs/_search").url.params["search_pipeline"] == "sp"  # the node's now


def test_file_pipelines_cannot_be_deleted(call: Call) -> None:
    resp = call("DELETE", "/_ingest/pipeline/embed")
    assert resp.status_code == 400
    assert "file" in resp.json()["error"]["reason"]


def test_simulate(call: Call) -> None:
    docs = {"docs": [{"_id": "1", "_source": {"text": "hello"}}, {"_source": {"text": 3}}]}
    answer = call("POST", "/_ingest/pipeline/embed/_simulate", json=docs).json()
    first, second = answer["docs"]
    assert len(first["doc"]["_source"]["text_embedding"]) == 8
    assert second["error"]["type"] == "illegal_argument_exception"
    inline = {"pipeline": OURS, "docs": docs["docs"][:1]}
    answer = call("POST", "/_ingest/pipeline/_simulate?verbose=true", json=inline).json()
    assert answer["docs"][0]["processor_results"][0]["processor_type"] == "text_embedding"
    core = {"pipeline": CORE, "docs": docs["docs"][:1]}
    assert call("POST", "/_ingest/pipeline/_simulate", json=core).json()["docs"][0]["doc"]
    resp = call("POST", "/_ingest/pipeline/embed/_simulate", json={"docs": []})
    assert resp.status_code == 400
