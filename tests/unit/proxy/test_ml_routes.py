"""ml-commons routes map onto the registry; its refusals keep their status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.applications import Starlette

from processors.models.mlcommons.errors import NOT_DEPLOYED, MLCommonsError, model_not_found
from processors.testing.fakes import HashEmbedder
from tests.unit.proxy.conftest import caller
from tests.unit.proxy.fake_node import FakeNode


class FakeRegistry:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if name in ("get_model", "runtime") and args[0] == "missing":
                raise model_not_found()
            if name == "predict" and args[0] == "cold":
                raise MLCommonsError(NOT_DEPLOYED)
            if name == "runtime":
                return HashEmbedder(8)
            if name == "undeploy_model":
                return {"node-1": {"stats": {args[0]: "undeployed"}}}
            return {"called": name}

        return method


def test_routes_map_to_registry_methods(make_app: Callable[..., Starlette]) -> None:
    registry = FakeRegistry()
    call = caller(make_app(registry=registry))
    ml = "/_plugins/_ml"
    allow = {"plugins.ml_commons.allow_registering_model_via_local_file": True}
    assert call("PUT", "/_cluster/settings", json={"persistent": allow}).status_code == 200
    requests = [
        ("POST", f"{ml}/model_groups/_register", {"name": "g"}, "register_model_group", ({"name": "g"},)),
        ("GET", f"{ml}/model_groups/G1", None, "get_model_group", ("G1",)),
        ("DELETE", f"{ml}/model_groups/G1", None, "delete_model_group", ("G1",)),
        ("POST", f"{ml}/model_groups/_search", {"query": {"match_all": {}}}, "search_model_groups", ({"query": {"match_all": {}}},)),
        ("POST", f"{ml}/models/_register_meta", {"name": "m"}, "register_model_meta", ({"name": "m"},)),
        ("POST", f"{ml}/models/M1/_deploy", None, "deploy_model", ("M1",)),
        ("POST", f"{ml}/models/M1/_undeploy", None, "undeploy_model", ("M1",)),
        ("GET", f"{ml}/models/M1", None, "get_model", ("M1",)),
        ("DELETE", f"{ml}/models/M1", None, "delete_model", ("M1",)),
        ("GET", f"{ml}/models/_search", None, "search_models", ({},)),
        ("POST", f"{ml}/models/M1/_predict", {"text_docs": ["a"]}, "predict", ("M1", {"text_docs": ["a"]})),
        ("POST", f"{ml}/_predict/text_embedding/M1", {"text_docs": ["a"]}, "predict", ("M1", {"text_docs": ["a"]})),
        ("GET", f"{ml}/tasks/T1", None, "get_task", ("T1",)),
        ("DELETE", f"{ml}/tasks/T1", None, "delete_task", ("T1",)),
        ("POST", f"{ml}/tasks/_search", {}, "search_tasks", ({},)),
    ]  # fmt: skip
    for method, path, body, name, args in requests:
        resp = call(method, path, json=body) if body is not None else call(method, path)
        assert resp.status_code == 200, (path, resp.text)
        expected = (
            {"node-1": {"stats": {"M1": "undeployed"}}} if "undeploy" in name else {"called": name}
        )
        assert resp.json() == expected, path
        assert registry.calls[-1][:2] == (name, args), path


def test_register_deploy_flag_chunks_and_bulk_undeploy(make_app: Callable[..., Starlette]) -> None:
    registry = FakeRegistry()
    call = caller(make_app(registry=registry))
    allow = {"plugins.ml_commons.allow_registering_model_via_local_file": True}
    assert call("PUT", "/_cluster/settings", json={"persistent": allow}).status_code == 200
    call("POST", "/_plugins/_ml/models/_register?deploy=true", json={"name": "m"})
    assert registry.calls[-1] == ("register_model", ({"name": "m"},), {"deploy": True})
    call("POST", "/_plugins/_ml/models/M1/upload_chunk/2", content=b"\x00\x01zip")
    assert registry.calls[-1] == ("upload_chunk", ("M1", 2, b"\x00\x01zip"), {})
    resp = call("POST", "/_plugins/_ml/models/_undeploy", json={"model_ids": ["a", "b"]})
    assert resp.json() == {"node-1": {"stats": {"a": "undeployed", "b": "undeployed"}}}


def test_refusals_keep_ml_commons_status(make_app: Callable[..., Starlette]) -> None:
    call = caller(make_app(registry=FakeRegistry()))
    resp = call("GET", "/_plugins/_ml/models/missing")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"root_cause": [{"type": "status_exception", "reason": "Failed to find model"}],
                                     "type": "status_exception", "reason": "Failed to find model"},
                           "status": 404}  # fmt: skip
    resp = call("POST", "/_plugins/_ml/models/cold/_predict", json={"text_docs": ["a"]})
    assert resp.status_code == 400 and resp.json()["error"]["reason"] == NOT_DEPLOYED
    resp = call("POST", "/_plugins/_ml/models/_register", content=b"{oops")
    assert resp.status_code == 400


def test_registry_models_serve_neural_queries(
    make_app: Callable[..., Starlette], node: FakeNode
) -> None:
    call = caller(make_app(registry=FakeRegistry()))
    body = {"query": {"neural": {"v": {"query_text": "x", "model_id": "reg-model", "k": 1}}}}
    assert call("POST", "/docs/_search", json=body).status_code == 200
    vector = node.searches[-1][2]["query"]["knn"]["v"]["vector"]
    assert np.allclose(vector, HashEmbedder(8).embed(["x"])[0])
    body["query"]["neural"]["v"]["model_id"] = "missing"
    assert call("POST", "/docs/_search", json=body).status_code == 404


def test_without_a_registry_ml_routes_say_so(make_app: Callable[..., Starlette]) -> None:
    resp = caller(make_app())("GET", "/_plugins/_ml/models/x")
    assert resp.status_code == 400
