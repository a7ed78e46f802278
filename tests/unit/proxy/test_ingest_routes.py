"""_bulk / _doc / _create through ingest pipelines; per-item answers; PUT index settings."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.proxy.conftest import Call
from tests.unit.proxy.fake_node import FakeNode

NDJSON = {"content-type": "application/x-ndjson"}


def ndjson(*lines: dict[str, Any]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def test_bulk_with_our_pipeline_sends_finished_documents(call: Call, node: FakeNode) -> None:
    body = ndjson({"index": {"_index": "docs", "_id": "1"}}, {"text": "wing lift"},
                  {"create": {"_index": "docs", "_id": "2"}}, {"text": "flow"},
                  {"delete": {"_index": "docs", "_id": "3"}})  # fmt: skip
    resp = call("POST", "/_bulk?pipeline=embed&refresh=true", content=body, headers=NDJSON)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["errors"] is False
    assert [next(iter(i)) for i in answer["items"]] == ["index", "create", "delete"]
    assert "ingest_took" in answer and "took" in answer
    _, params, actions = node.bulks[-1]
    assert params == {"refresh": "true"}
    assert actions[0]["meta"] == {"_index": "docs", "_id": "1", "pipeline": "_none"}
    assert len(actions[0]["source"]["text_embedding"]) == 8
    assert actions[2] == {"op": "delete", "meta": {"_index": "docs", "_id": "3"}, "source": None}


def test_a_failed_embedding_is_a_failed_item_and_the_rest_goes_on(
    call: Call, node: FakeNode
) -> None:
    body = ndjson({"index": {"_index": "docs", "_id": "ok"}}, {"text": "fine"},
                  {"index": {"_index": "docs", "_id": "bad", "pipeline": "broken-model"}},
                  {"text": "boom"},
                  {"index": {"_index": "docs"}}, {"text": 5})  # fmt: skip
    resp = call("POST", "/_bulk?pipeline=embed", content=body, headers=NDJSON)
    answer = resp.json()
    assert resp.status_code == 200 and answer["errors"] is True
    ok, bad, wrong = (next(iter(i.values())) for i in answer["items"])
    assert ok["status"] == 201
    assert bad == {"_index": "docs", "_id": "bad", "status": 400, "error": {
        "type": "illegal_argument_exception", "reason": bad["error"]["reason"]}}  # fmt: skip
    assert "the model failed" in bad["error"]["reason"]
    assert wrong["status"] == 400 and wrong["_id"] is None
    assert "text" in wrong["error"]["reason"]
    assert [a["meta"].get("_id") for a in node.bulks[-1][2]] == ["ok"]


def test_dropped_documents_are_noop_items(call: Call, node: FakeNode) -> None:
    body = ndjson({"index": {"_index": "docs", "_id": "1"}}, {"text": "a", "drop": True},
                  {"create": {"_index": "docs"}}, {"text": "b", "drop": True},
                  {"index": {"_index": "docs", "_id": "3"}}, {"text": "kept"})  # fmt: skip
    answer = call("POST", "/docs/_bulk?pipeline=tag-and-drop", content=body).json()
    first, second, third = (next(iter(i.values())) for i in answer["items"])
    assert first == {"_index": "docs", "_id": "1", "_version": -3, "result": "noop",
                     "_shards": {"total": 0, "successful": 0, "failed": 0}, "status": 200}  # fmt: skip
    assert second["_id"] == "auto-generated" and second["_version"] == -4
    assert third["status"] == 201
    (sent,) = node.bulks[-1][2]
    assert sent["source"]["tagged"] is True and "text_sparse" in sent["source"]


def test_default_and_final_pipelines_from_meta(call: Call, node: FakeNode) -> None:
    node.index("docs", default_pipeline="embed", final_pipeline="tag-and-drop")
    node.index("plain", default_pipeline="node-side")
    body = ndjson({"index": {"_index": "docs", "_id": "1"}}, {"text": "wing"},
                  {"index": {"_index": "plain", "_id": "2"}}, {"text": "x"},
                  {"index": {"_index": "docs", "_id": "3", "pipeline": "_none"}}, {"text": "y"})  # fmt: skip
    assert call("POST", "/_bulk", content=body).json()["errors"] is False
    first, second, third = node.bulks[-1][2]
    assert "text_embedding" in first["source"] and first["source"]["tagged"] is True
    assert second["meta"]["pipeline"] == "node-side"
    assert "text_embedding" not in third["source"] and third["source"]["tagged"] is True


def test_bulk_without_pipelines_is_streamed(call: Call, node: FakeNode) -> None:
    raw = ndjson({"index": {"_index": "docs", "_id": "1"}}, {"text": "a"})
    call("POST", "/_bulk?pipeline=node-only", content=raw)
    request = node.last("/_bulk")
    assert request.content == raw and request.url.params["pipeline"] == "node-only"


def test_single_documents(call: Call, node: FakeNode) -> None:
    resp = call("PUT", "/docs/_doc/1?pipeline=embed&refresh=true", json={"text": "wing"})
    assert resp.status_code == 201, resp.text
    request = node.last("/docs/_doc/1")
    assert dict(request.url.params) == {"refresh": "true", "pipeline": "_none"}
    assert len(node.docs[("docs", "1")]["text_embedding"]) == 8
    resp = call("POST", "/docs/_create/2?pipeline=broken-model", json={"text": "boom"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "illegal_argument_exception"
    resp = call("POST", "/docs/_doc?pipeline=tag-and-drop", json={"text": "x", "drop": True})
    assert resp.json() == {"_index": "docs", "_id": "auto-generated", "_version": -4,
                           "result": "noop", "_shards": {"total": 0, "successful": 0, "failed": 0}}  # fmt: skip
    resp = call("PUT", "/docs/_doc/9", json={"text": "no pipeline"})
    assert node.docs[("docs", "9")] == {"text": "no pipeline"}


def test_create_index_keeps_pipeline_settings_in_meta(call: Call, node: FakeNode) -> None:
    body = {"settings": {"index.default_pipeline": "embed", "index": {
        "search.default_pipeline": "enrich", "final_pipeline": "tag-and-drop", "knn": True}},
        "mappings": {"properties": {"text": {"type": "text"}}}}  # fmt: skip
    assert call("PUT", "/fresh", json=body).status_code == 200
    sent = json.loads(node.last("/fresh").content)
    assert sent["settings"] == {"index": {"knn": True}}
    assert sent["mappings"]["_meta"]["neuralpipe"] == {
        "index.default_pipeline": "embed", "index.search.default_pipeline": "enrich",
        "index.final_pipeline": "tag-and-drop"}  # fmt: skip
    call("PUT", "/other", json={"settings": {"index.final_pipeline": "node-final"}})
    assert json.loads(node.last("/other").content)["settings"] == {
        "index.final_pipeline": "node-final"
    }
    assert call("PUT", "/_cluster/settings", json={"persistent": {}}).json()["acknowledged"]


def test_update_settings_keeps_pipeline_settings_in_meta(call: Call, node: FakeNode) -> None:
    node.index("docs", default_pipeline="old")
    resp = call("PUT", "/docs/_settings", json={"index.search.default_pipeline": "enrich"})
    assert resp.json() == {"acknowledged": True}
    assert node.indices["docs"]["mappings"]["_meta"]["neuralpipe"] == {
        "index.default_pipeline": "old", "index.search.default_pipeline": "enrich"}  # fmt: skip
    body = {
        "index": {"default_pipeline": None, "final_pipeline": "embed", "refresh_interval": "2s"}
    }
    call("PUT", "/docs/_settings", json=body)
    assert node.indices["docs"]["mappings"]["_meta"]["neuralpipe"] == {
        "index.search.default_pipeline": "enrich", "index.final_pipeline": "embed"}  # fmt: skip
    assert json.loads(node.last("/docs/_settings").content) == {"index": {"refresh_interval": "2s"}}
    neural = {"query": {"neural": {"text_embedding": {"query_text": "x", "k": 1}}}}
    assert call("POST", "/docs/_search", json=neural).status_code == 200  # the enricher applies
    resp = call("PUT", "/missing/_settings", json={"index.default_pipeline": "embed"})
    assert resp.status_code == 404
