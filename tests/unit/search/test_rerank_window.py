"""Opt-in rerank windows: one search + rerank per window, pages served from the cache."""

from __future__ import annotations

from typing import Any

import pytest

from processors.errors import InvalidQueryError
from processors.search.rerank import RerankConfig, apply_rerank
from processors.search.rerank_window import (
    RerankWindowCache,
    rerank_window,
    window_request,
    windowed_rerank,
)

JSONObject = dict[str, Any]
STARS = [3, 9, 1, 7, 5, 8, 2]  # doc i has STARS[i]; the node ranks doc 0 first


class Node:
    """Answers searches by position (doc 0 best) and counts them."""

    def __init__(self) -> None:
        self.bodies: list[JSONObject] = []

    def search(self, body: JSONObject) -> JSONObject:
        self.bodies.append(body)
        start, size = body.get("from", 0), body.get("size", 10)
        hits = [
            {"_id": str(i), "_score": float(10 - i), "_source": {"stars": STARS[i]}}
            for i in range(len(STARS))
        ][start : start + size]
        total = {"value": len(STARS), "relation": "eq"}
        return {"hits": {"total": total, "max_score": 10.0, "hits": hits}}


CONFIG = RerankConfig.from_body({"by_field": {"target_field": "stars"}})


def page(node: Node, cache: RerankWindowCache, body: JSONObject) -> list[str]:
    def rerank(response: JSONObject) -> JSONObject:
        return apply_rerank(response, CONFIG, body, None)

    result = windowed_rerank("docs", body, node.search, rerank, cache, pipeline_id="p")
    return [h["_id"] for h in result["hits"]["hits"]]


def test_pages_come_from_one_reranked_window() -> None:
    node, cache = Node(), RerankWindowCache()
    body = {"query": {"match_all": {}}, "size": 2, "ext": {"neuralpipe": {"rerank_window": 6}}}
    pages = [page(node, cache, {**body, "from": start}) for start in (0, 2, 4, 6)]
    assert pages == [["1", "5"], ["3", "4"], ["0", "2"], []]  # doc 6 is outside the window
    assert len(node.bodies) == 1
    assert node.bodies[0] == {"query": {"match_all": {}}, "size": 6, "from": 0}


def test_without_the_flag_each_page_is_reranked_alone() -> None:
    node, cache = Node(), RerankWindowCache()
    body = {"query": {"match_all": {}}, "size": 2}
    assert [page(node, cache, {**body, "from": s}) for s in (0, 2)] == [["1", "0"], ["3", "2"]]
    assert len(node.bodies) == 2


def test_another_query_or_window_is_another_entry() -> None:
    cache = RerankWindowCache()
    base = {"query": {"match_all": {}}, "ext": {"neuralpipe": {"rerank_window": 3}}}
    assert cache.key("docs", {**base, "from": 3}) == cache.key("docs", {**base, "size": 1})
    assert cache.key("docs", base) != cache.key("docs", {**base, "query": {"term": {"a": 1}}})
    assert cache.key("docs", base) != cache.key("other", base)
    assert cache.key("docs", base, "p1") != cache.key("docs", base, "p2")


def test_entries_expire_and_the_least_recently_used_goes_first() -> None:
    now = [0.0]
    cache = RerankWindowCache(max_entries=2, ttl_seconds=10, clock=lambda: now[0])
    cache.put("a", {"a": 1})
    cache.put("b", {"b": 1})
    assert cache.get("a") == {"a": 1}
    cache.put("c", {"c": 1})  # "b" was used least recently
    assert cache.get("b") is None and cache.get("c") == {"c": 1}
    now[0] = 11.0
    assert cache.get("a") is None


@pytest.mark.parametrize("window", [0, -1, 10_001, "5", 2.5, True])
def test_window_must_be_a_positive_integer(window: Any) -> None:
    with pytest.raises(InvalidQueryError, match="rerank_window"):
        rerank_window({"ext": {"neuralpipe": {"rerank_window": window}}})


def test_window_request_strips_only_our_ext() -> None:
    body = {"from": 4, "size": 2, "ext": {"neuralpipe": {"rerank_window": 9}, "rerank": {"a": 1}}}
    assert window_request(body, 9) == {"from": 0, "size": 9, "ext": {"rerank": {"a": 1}}}
    assert body["ext"]["neuralpipe"] == {"rerank_window": 9}  # the input is untouched
