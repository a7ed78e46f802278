"""Passthrough, errors in OpenSearch's shape, size limits, auth and Server-Timing."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.applications import Starlette

from tests.unit.proxy.conftest import Call, caller
from tests.unit.proxy.fake_node import FakeNode


def test_unhandled_requests_reach_the_node_unchanged(call: Call, node: FakeNode) -> None:
    resp = call(
        "POST", "/some-index/_update/7?refresh=wait_for&if_seq_no=3&x=a%2Cb",
        content=b'{"doc": {"a": 1}}',
        headers={"Authorization": "Bearer secret", "X-Custom": "kept", "Content-Type": "application/json"},
    )  # fmt: skip
    assert resp.status_code == 200
    assert resp.headers["x-node"] == "yes"
    echo = resp.json()["echo"]
    assert echo["method"] == "POST"
    assert echo["path"] == "/some-index/_update/7"
    assert echo["query"] == "refresh=wait_for&if_seq_no=3&x=a%2Cb"
    assert echo["body"] == '{"doc": {"a": 1}}'
    assert echo["headers"]["authorization"] == "Bearer secret"
    assert echo["headers"]["x-custom"] == "kept"
    assert "server-timing" in resp.headers and "upstream;dur=" in resp.headers["server-timing"]


def test_cat_get_and_delete_pass_through(call: Call, node: FakeNode) -> None:
    assert call("GET", "/_cat/indices?v").json()["echo"]["path"] == "/_cat/indices"
    assert call("DELETE", "/gone").json()["echo"]["method"] == "DELETE"
    assert call("HEAD", "/docs").status_code == 200
    assert call("GET", "/").json()["echo"]["path"] == "/"


def test_upstream_down_is_a_502_in_opensearch_shape(call: Call, node: FakeNode) -> None:
    node.down = True
    for method, path, body in (
        ("GET", "/_cat/indices", None),
        ("POST", "/docs/_search", b'{"query": {"neural": {"v": {"query_text": "x", "model_id": "dense-1", "k": 1}}}}'),
        ("POST", "/_bulk?pipeline=embed", b'{"index": {"_index": "d"}}\n{"text": "a"}\n'),
    ):  # fmt: skip
        resp = call(method, path, content=body)
        assert resp.status_code == 502, resp.text
        error = resp.json()
        assert error["status"] == 502
        assert error["error"]["type"] == "connect_exception"
        assert error["error"]["root_cause"][0]["type"] == "connect_exception"
        assert "unreachable" in error["error"]["reason"]


def test_request_size_limit(make_app: Callable[..., Starlette]) -> None:
    call = caller(make_app(max_body_bytes=64))
    big = b'{"query": {"match": {"text": "' + b"x" * 100 + b'"}}}'
    for path in ("/docs/_search", "/docs/_refresh", "/_bulk"):
        resp = call("POST", path, content=big)
        assert resp.status_code == 413, path
        assert resp.json()["error"]["type"] == "content_too_long_exception"

    async def chunks():  # no content-length: counted while streaming
        for _ in range(10):
            yield b"x" * 20

    resp = call("POST", "/docs/_refresh", content=chunks())
    assert resp.status_code == 413


def test_malformed_json_is_a_400_in_opensearch_shape(call: Call, node: FakeNode) -> None:
    resp = call("POST", "/docs/_search", content=b'{"query": {"neural": ')
    assert resp.status_code == 400
    body = resp.json()
    assert body["status"] == 400
    assert body["error"]["type"] in ("json_parse_exception", "json_e_o_f_exception")
    assert body["error"]["root_cause"] == [
        {"type": body["error"]["type"], "reason": body["error"]["reason"]}
    ]
    # a pipeline body that is not JSON goes to the node, whose core route answers it in its own
    # words (tests/integration/test_proxy_compat.py compares them with the real node's)
    call("PUT", "/_ingest/pipeline/p", content=b"not json")
    assert node.last("/_ingest/pipeline/p").content == b"not json"


def test_authorization_is_passed_on_by_the_proxys_own_requests(call: Call, node: FakeNode) -> None:
    body = {"query": {"neural": {"v": {"query_text": "x", "model_id": "dense-1", "k": 1}}}}
    call("POST", "/docs/_search", json=body, headers={"Authorization": "Bearer tok"})
    search = node.last("/docs/_search")
    assert search.headers["authorization"] == "Bearer tok"
    assert json.loads(search.content)["query"]["knn"]["v"]["k"] == 1


def test_forwarded_requests_carry_only_the_clients_headers(app: Starlette) -> None:
    call = caller(app, drop=("accept-encoding", "user-agent", "accept"))
    sent = call("GET", "/_cat/health").json()["echo"]["headers"]
    assert not {"accept-encoding", "user-agent", "accept"} & set(sent)
