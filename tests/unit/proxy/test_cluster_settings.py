"""``_cluster/settings``: the plugins' settings in every form, kept by the proxy, merged back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from processors.proxy.cluster_settings import flatten, nest, split_update
from processors.proxy.errors import ProxyError
from processors.proxy.ml_routes import inside
from tests.unit.proxy.conftest import caller
from tests.unit.proxy.fake_node import FakeNode
from tests.unit.proxy.test_ml_routes import FakeRegistry

ML = "plugins.ml_commons"
FORMS: list[tuple[str, Any]] = [
    ("flat, strings", {f"{ML}.only_run_on_ml_node": "false"}),
    ("flat, JSON values", {f"{ML}.only_run_on_ml_node": False}),
    ("nested", {"plugins": {"ml_commons": {"only_run_on_ml_node": "false"}}}),
    ("half nested", {"plugins.ml_commons": {"only_run_on_ml_node": False}}),
]


@pytest.mark.parametrize(("form", "values"), FORMS, ids=[f for f, _ in FORMS])
@pytest.mark.parametrize("scope", ["persistent", "transient"])
def test_every_form_is_kept_and_merged(
    make_app: Callable[..., Starlette], node: FakeNode, form: str, values: Any, scope: str
) -> None:
    call = caller(make_app())
    body = {scope: {**values, "cluster.routing.allocation.enable": "all"}}
    resp = call("PUT", "/_cluster/settings", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["acknowledged"] is True
    assert answer[scope]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"
    assert node.cluster[scope] == {"cluster.routing.allocation.enable": "all"}  # only the node's
    nested = call("GET", "/_cluster/settings").json()
    assert nested[scope]["plugins"]["ml_commons"] == {"only_run_on_ml_node": "false"}
    flat = call("GET", "/_cluster/settings?flat_settings=true").json()
    assert flat[scope][f"{ML}.only_run_on_ml_node"] == "false"


def test_defaults_reset_and_wildcards(make_app: Callable[..., Starlette]) -> None:
    call = caller(make_app())
    body = {"persistent": {f"{ML}.native_memory_threshold": 99,
                           "plugins.neural_search.hybrid_search_disabled": True}}  # fmt: skip
    assert call("PUT", "/_cluster/settings?flat_settings=true", json=body).json()["persistent"] == {
        f"{ML}.native_memory_threshold": "99", "plugins.neural_search.hybrid_search_disabled": "true",
    }  # fmt: skip
    defaults = call("GET", "/_cluster/settings?include_defaults=true&flat_settings=true").json()
    assert defaults["defaults"][f"{ML}.allow_registering_model_via_url"] == "false"
    assert f"{ML}.native_memory_threshold" not in defaults["defaults"]  # set: not a default
    call("PUT", "/_cluster/settings", json={"persistent": {f"{ML}.*": None}})
    after = call("GET", "/_cluster/settings?flat_settings=true").json()["persistent"]
    assert after == {"plugins.neural_search.hybrid_search_disabled": "true"}
    call("PUT", "/_cluster/settings",
         json={"persistent": {"plugins.neural_search.hybrid_search_disabled": None}})  # fmt: skip
    assert call("GET", "/_cluster/settings").json()["persistent"] == {}


def test_bad_values_are_refused_as_opensearch_does(make_app: Callable[..., Starlette]) -> None:
    call = caller(make_app())
    resp = call(
        "PUT", "/_cluster/settings", json={"persistent": {f"{ML}.only_run_on_ml_node": "no"}}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "illegal_argument_exception"
    assert "only [true] or [false]" in resp.json()["error"]["reason"]
    resp = call("PUT", "/_cluster/settings",
                json={"transient": {f"{ML}.max_model_on_node": "many"}})  # fmt: skip
    assert resp.status_code == 400 and "Failed to parse value [many]" in resp.text


def test_a_node_refusal_stores_nothing(make_app: Callable[..., Starlette]) -> None:
    call = caller(make_app())
    body = {"persistent": {f"{ML}.native_memory_threshold": 99, "plugins.security.x": "y"}}
    resp = call("PUT", "/_cluster/settings", json=body)
    assert resp.status_code == 400 and "not recognized" in resp.text
    assert call("GET", "/_cluster/settings").json()["persistent"] == {}


def test_flatten_nest_and_split() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": [1]}}) == {"a.b.c": 1, "a.d": [1]}
    assert nest({"a.b": "1", "a.c.d": "2"}) == {"a": {"b": "1", "c": {"d": "2"}}}
    left, taken = split_update({"persistent": {"plugins": {"ml_commons": {"x": 1}}, "k": "v"}})
    assert left == {"persistent": {"k": "v"}}
    assert taken == {"persistent": {f"{ML}.x": "1"}, "transient": {}}
    with pytest.raises(ProxyError):
        split_update({"persistent": "nope"})


# -- _register: URL and local files only when the settings allow them ---------------------------

URL_BODY = {"name": "m", "version": "1", "model_format": "ONNX", "function_name": "TEXT_EMBEDDING",
            "model_content_hash_value": "ab" * 32,
            "model_config": {"model_type": "bert", "embedding_dimension": 8,
                             "framework_type": "sentence_transformers"}}  # fmt: skip


def _allow(call: Any, **flags: bool) -> None:
    settings = {f"{ML}.allow_registering_model_via_{k}": v for k, v in flags.items()}
    assert call("PUT", "/_cluster/settings", json={"persistent": settings}).status_code == 200


def test_register_by_url_needs_the_settings(make_app: Callable[..., Starlette]) -> None:
    registry = FakeRegistry()
    call = caller(make_app(registry=registry))
    register = "/_plugins/_ml/models/_register"
    for url in ("http://127.0.0.1:1/m.zip", "/etc/passwd", "file:///etc/passwd"):
        resp = call("POST", register, json={**URL_BODY, "url": url})
        assert resp.status_code == 400, url
        assert "allow_registering_model_via_url" in resp.json()["error"]["reason"]
    _allow(call, url=True)
    resp = call("POST", register, json={**URL_BODY, "url": "/etc/passwd"})
    assert "allow_registering_model_via_local_file" in resp.json()["error"]["reason"]
    _allow(call, local_file=True)
    missing = call("POST", register, json={**URL_BODY, "url": "/no/such/file.zip"}).json()
    present = call("POST", register, json={**URL_BODY, "url": "/etc/passwd"}).json()
    assert missing["error"]["reason"].replace("/no/such/file.zip", "X") == \
        present["error"]["reason"].replace("/etc/passwd", "X")  # fmt: skip
    assert "outside the directory" in present["error"]["reason"]
    resp = call("POST", register, json={**URL_BODY, "url": "gopher://x/m.zip"})
    assert resp.status_code == 400  # neither trusted nor local
    assert not [c for c in registry.calls if c[0] == "register_model"]
    ok = call("POST", register, json={**URL_BODY, "url": "file:m.zip"})  # under the directory
    assert ok.status_code == 200 and registry.calls[-1][0] == "register_model"
    ok = call("POST", register, json={**URL_BODY, "url": "http://127.0.0.1:1/m.zip"})
    assert ok.status_code == 200


def test_chunk_upload_needs_the_local_file_setting(make_app: Callable[..., Starlette]) -> None:
    registry = FakeRegistry()
    call = caller(make_app(registry=registry))
    for path in ("/_plugins/_ml/models/_register_meta", "/_plugins/_ml/models/meta"):
        resp = call("POST", path, json=URL_BODY)
        assert resp.status_code == 400
        assert "allow_registering_model_via_local_file" in resp.json()["error"]["reason"]
    for path in ("/_plugins/_ml/models/M/upload_chunk/0", "/_plugins/_ml/models/M/chunk/0"):
        assert call("POST", path, content=b"zip").status_code == 400
    assert registry.calls == []
    _allow(call, local_file=True)
    assert call("POST", "/_plugins/_ml/models/meta", json=URL_BODY).status_code == 200
    assert call("POST", "/_plugins/_ml/models/M/chunk/0", content=b"zip").status_code == 200
    assert [c[0] for c in registry.calls] == ["register_model_meta", "upload_chunk"]


def test_inside(tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    (tmp_path / "secret").write_text("x")
    (root / "link.zip").symlink_to(tmp_path / "secret")
    assert inside("a.zip", root) and inside(f"file:{root}/b/c.zip", root)
    assert not inside("../secret", root) and not inside(str(tmp_path / "secret"), root)
    assert not inside("link.zip", root)  # a link out of the directory
    assert not inside("a.zip", None) and not inside("http://x/a.zip", root)
