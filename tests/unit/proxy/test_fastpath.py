"""The pure-ASGI fast path: which requests it relays itself, and that they arrive unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.applications import Starlette
from starlette.routing import Match, Route

from processors.proxy import search_routes
from processors.proxy.fastpath import FastPath
from processors.proxy.routes import passthrough, routes
from tests.unit.proxy.conftest import Call, caller
from tests.unit.proxy.fake_node import FakeNode

REQUESTS = [
    ("GET", "/"), ("HEAD", "/docs"), ("GET", "/_cat/indices"), ("POST", "/_search"),
    ("GET", "/docs/_search"), ("DELETE", "/docs/_search"), ("POST", "/a,b/_msearch"),
    ("PUT", "/docs"), ("GET", "/docs"), ("PUT", "/_cluster/settings"), ("PUT", "/docs/_settings"),
    ("GET", "/docs/_settings"), ("POST", "/docs/_doc"), ("PUT", "/docs/_doc/1"),
    ("GET", "/docs/_doc/1"), ("POST", "/docs/_create/1"), ("POST", "/_bulk"), ("GET", "/_bulk"),
    ("PUT", "/_ingest/pipeline/p"), ("POST", "/_ingest/pipeline/p/_simulate"),
    ("GET", "/_search/pipeline"), ("DELETE", "/_search/pipeline/p"),
    ("POST", "/_plugins/_ml/models/m/_predict"), ("GET", "/_plugins/_ml/models/m"),
    ("POST", "/_plugins/_ml/models/m"), ("GET", "/docs/_mapping"), ("POST", "/docs/_refresh"),
    ("POST", "/_search/scroll"), ("GET", "/docs/_count"),
]  # fmt: skip


def starlette_choice(table: list[Route], method: str, path: str) -> Callable[..., object]:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in table:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route.endpoint
    raise AssertionError("the catch-all takes everything")


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_fast_path_picks_the_route_starlette_picks(method: str, path: str) -> None:
    table = [r for r in routes() if isinstance(r, Route)]
    fast = FastPath(Starlette(), state=None, table=table, catch_all=passthrough)  # type: ignore[arg-type]
    found = fast.match(method, path)
    expected = starlette_choice(table, method, path)
    assert (passthrough if found is None else found[0]) is expected


def test_path_parameters_come_with_the_route() -> None:
    fast = FastPath(Starlette(), state=None, table=routes(), catch_all=passthrough)  # type: ignore[arg-type]
    assert fast.match("POST", "/docs,other/_search") == (
        search_routes.search,
        {"index": "docs,other"},
    )
    _, params = fast.match("POST", "/_plugins/_ml/models/m1/upload_chunk/3") or (None, {})
    assert params == {"model_id": "m1", "chunk": "3"}
    assert fast.match("GET", "/docs/_stats") is None


def test_plain_search_is_relayed_without_parsing_the_body(
    call: Call, node: FakeNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(raw: bytes, **kwargs: object) -> None:
        raise AssertionError("a plain search body was parsed")

    monkeypatch.setattr(search_routes, "json_object", refuse)
    raw = b'{"query": {"match": {"text": "wing"}}}'
    resp = call("POST", "/docs/_search?size=2", content=raw, headers={"X-Opaque-Id": "abc"})
    assert resp.status_code == 200 and resp.json()["hits"]["total"]["value"] == 1
    sent = node.last("/docs/_search")
    assert sent.content == raw and sent.url.query == b"size=2"
    assert sent.headers["x-opaque-id"] == "abc"
    assert "upstream;dur=" in resp.headers["server-timing"]


def test_a_default_search_pipeline_still_runs(call: Call, node: FakeNode) -> None:
    node.index("docs", **{"search.default_pipeline": "enrich"})
    body = {"query": {"neural": {"text_embedding": {"query_text": "wing", "k": 2}}}}
    resp = call("POST", "/docs/_search", json=body)
    assert resp.status_code == 200, resp.text
    assert "knn" in node.searches[-1][2]["query"]
    assert "embed;dur=" in resp.headers["server-timing"]


def test_fast_path_errors_have_opensearchs_shape(
    make_app: Callable[..., Starlette], node: FakeNode
) -> None:
    call = caller(make_app(max_body_bytes=16))
    resp = call("POST", "/docs/_search", content=b'{"query": {"match_all": {}}}')
    assert resp.status_code == 413 and resp.json()["error"]["type"] == "content_too_long_exception"
    node.down = True
    for path in ("/docs/_search", "/docs/_count"):
        resp = call("POST", path, content=b"{}")
        assert resp.status_code == 502 and resp.json()["error"]["type"] == "connect_exception"
