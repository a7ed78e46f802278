"""Routes as OpenSearch and ml-commons take them: old aliases, trailing slashes, every
endpoint with a query body, index settings in every form, one error per refused pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from starlette.applications import Starlette

from tests.unit.proxy.conftest import Call, caller
from tests.unit.proxy.fake_node import FakeNode
from tests.unit.proxy.test_ml_routes import FakeRegistry

ML = "/_plugins/_ml"
NEURAL = {"query": {"neural": {"text_embedding": {"query_text": "wing", "model_id": "dense-1",
                                                  "k": 2}}}}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("POST", f"{ML}/models/_upload", "register_model"),
        ("POST", f"{ML}/models/M1/1/_upload", "register_model"),
        ("POST", f"{ML}/models/M1/_load", "deploy_model"),
        ("POST", f"{ML}/models/M1/_unload", "undeploy_model"),
        ("POST", f"{ML}/models/M1/_predict/", "predict"),
        ("POST", f"{ML}/models/_search/", "search_models"),
        ("GET", f"{ML}/tasks/_search", "search_tasks"),
        ("PUT", f"{ML}/models/M1", "update_model"),
        ("PUT", f"{ML}/model_groups/G1", "update_model_group"),
        ("GET", f"{ML}/profile", "profile"),
        ("GET", f"{ML}/profile/models", "profile"),
        ("GET", f"{ML}/profile/models/M1,M2", "profile"),
        ("GET", f"{ML}/stats", "stats"),
        ("GET", f"{ML}/stats/ml_model_count", "stats"),
        ("GET", f"{ML}/node-1/stats/", "stats"),
    ],
)
def test_ml_commons_aliases_and_new_routes(
    make_app: Callable[..., Starlette], method: str, path: str, name: str
) -> None:
    registry = FakeRegistry()
    call = caller(make_app(registry=registry))
    body = {"text_docs": ["a"]} if method in ("POST", "PUT") else None
    resp = call(method, path, json=body) if body else call(method, path)
    assert resp.status_code == 200, resp.text
    assert registry.calls[-1][0] == name


def test_profile_ids_and_unserved_apis(make_app: Callable[..., Starlette]) -> None:
    registry = FakeRegistry()
    call = caller(make_app(registry=registry))
    call("GET", f"{ML}/profile/models/M1,M2")
    assert registry.calls[-1][1] == (["M1", "M2"],)
    assert call("GET", f"{ML}/profile/tasks").json() == {}
    resp = call("POST", f"{ML}/connectors/_create", json={"name": "c"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "illegal_argument_exception"
    assert "does not serve" in resp.json()["error"]["reason"]


@pytest.mark.parametrize(
    "path",
    ["/docs/_count", "/docs/_explain/1", "/docs/_validate/query", "/docs/_delete_by_query",
     "/docs/_update_by_query", "/_count"],
)  # fmt: skip
def test_neural_is_rewritten_in_every_query_body(call: Call, node: FakeNode, path: str) -> None:
    node.index("docs", {"text_embedding": {"type": "knn_vector", "dimension": 8}})
    resp = call("POST", path, json=NEURAL)
    assert resp.status_code == 200, resp.text
    sent = json.loads(node.last(path.split("/")[-1]).content)
    knn = sent["query"]["knn"]["text_embedding"]
    assert len(knn["vector"]) == 8 and knn["k"] == 2
    plain = call("POST", path, json={"query": {"match_all": {}}})
    assert json.loads(plain.json()["echo"]["body"]) == {"query": {"match_all": {}}}


def test_trailing_slash_on_search(call: Call, node: FakeNode) -> None:
    node.index("docs", {"text_embedding": {"type": "knn_vector", "dimension": 8}})
    assert call("POST", "/docs/_search/", json=NEURAL).status_code == 200
    assert "knn" in node.searches[-1][2]["query"]


SETTING_FORMS = [
    {"index.default_pipeline": "embed"},
    {"default_pipeline": "embed"},
    {"index": {"default_pipeline": "embed"}},
    {"settings": {"index": {"default_pipeline": "embed"}}},
    {"settings": {"default_pipeline": "embed"}},
]
SEARCH_FORMS = [
    {"index.search.default_pipeline": "enrich"},
    {"search.default_pipeline": "enrich"},
    {"index": {"search": {"default_pipeline": "enrich"}}},
    {"index": {"search.default_pipeline": "enrich"}},
    {"index.search": {"default_pipeline": "enrich"}},
]


@pytest.mark.parametrize("form", SETTING_FORMS + SEARCH_FORMS, ids=json.dumps)
def test_put_settings_in_every_form(call: Call, node: FakeNode, form: dict[str, object]) -> None:
    node.index("docs")
    resp = call("PUT", "/docs/_settings", json=form)
    assert resp.status_code == 200 and resp.json() == {"acknowledged": True}, resp.text
    kept = node.indices["docs"]["mappings"]["_meta"]["neuralpipe"]
    assert kept in ({"index.default_pipeline": "embed"},
                    {"index.search.default_pipeline": "enrich"})  # fmt: skip
    assert not [r for r in node.requests if r.method == "PUT" and r.url.path == "/docs/_settings"]


@pytest.mark.parametrize("form", SETTING_FORMS[:3] + SEARCH_FORMS, ids=json.dumps)
def test_create_index_in_every_form(call: Call, node: FakeNode, form: dict[str, object]) -> None:
    body = {"settings": {**form, "number_of_shards": 1}}
    assert call("PUT", "/docs", json=body).status_code == 200
    sent = json.loads(node.last("/docs").content)
    assert sent["settings"] == {"number_of_shards": 1}
    assert sent["mappings"]["_meta"]["neuralpipe"] in (
        {"index.default_pipeline": "embed"},
        {"index.search.default_pipeline": "enrich"},
    )


def test_templates_keep_pipeline_settings_in_meta(call: Call, node: FakeNode) -> None:
    body = {
        "index_patterns": ["logs-*"],
        "template": {"settings": {"default_pipeline": "embed", "number_of_shards": 1}},
    }
    call("PUT", "/_index_template/t1", json=body)
    sent = json.loads(node.last("_index_template").content)
    assert sent["template"]["settings"] == {"number_of_shards": 1}
    assert sent["template"]["mappings"]["_meta"]["neuralpipe"] == {
        "index.default_pipeline": "embed"
    }
    legacy = {"index_patterns": ["x-*"], "settings": {"index.search.default_pipeline": "enrich"}}
    call("PUT", "/_template/t2", json=legacy)
    sent = json.loads(node.last("_template").content)
    assert sent["settings"] == {}
    assert sent["mappings"]["_meta"]["neuralpipe"] == {"index.search.default_pipeline": "enrich"}


def test_pipeline_put_error_is_one_error(call: Call) -> None:
    body = {"processors": [{"text_embedding": {"field_map": {"a": "b"}}},
                           {"text_embedding": {"model_id": "m"}}]}  # fmt: skip
    resp = call("PUT", "/_ingest/pipeline/p1", json=body)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["reason"] == "[model_id] required property is missing"
    assert (
        error["type"] == "parse_exception" and error["root_cause"][0]["reason"] == error["reason"]
    )
