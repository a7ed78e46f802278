"""The hybrid query's validation, filter push-down, request plan, and run_hybrid on a fake client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opensearchpy.exceptions import RequestError

from processors.errors import InvalidQueryError, UnsupportedFeatureError
from processors.search.fusion_config import NormalizationConfig, RRFConfig
from processors.search.hybrid import run_hybrid
from processors.search.hybrid_request import parse_hybrid, plan_search, sub_query_body, with_filter

MATCH = {"match": {"text": "wing"}}
KNN = {"knn": {"vec": {"vector": [1.0, 0.0], "k": 5}}}


def hybrid(**extra: Any) -> dict[str, Any]:
    return {"query": {"hybrid": {"queries": [MATCH, KNN], **extra}}}


@pytest.mark.parametrize(
    ("body", "message", "kind"),
    [
        (
            {"queries": []},
            "[hybrid] requires 'queries' field with at least one clause",
            "parsing_exception",
        ),
        (
            {"queries": [MATCH] * 6},
            "Number of sub-queries exceeds maximum supported by [hybrid] query",
            "parsing_exception",
        ),
        (
            {"queries": [MATCH], "boost": 2.0},
            "[hybrid] query does not support [boost]",
            "parsing_exception",
        ),
        (
            {"queries": [MATCH], "size": 2},
            "Field is not supported by [hybrid] query",
            "parsing_exception",
        ),
        (
            {"queries": [MATCH], "filter": [MATCH]},
            "Field is not supported by [hybrid] query",
            "parsing_exception",
        ),
        (
            {"queries": [MATCH], "pagination_depth": -1},
            "pagination_depth should be greater than 0",
            "illegal_argument_exception",
        ),
        (
            {"queries": [MATCH], "pagination_depth": 10_001},
            "pagination_depth should be less than or equal to index.max_result_window setting",
            "illegal_argument_exception",
        ),
    ],
)
def test_hybrid_validation(body: dict[str, Any], message: str, kind: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        parse_hybrid(body)
    assert (str(info.value), info.value.error_type) == (message, kind)


def test_hybrid_accepts_one_object_boost_one_and_a_name() -> None:
    parsed = parse_hybrid({"queries": MATCH, "boost": 1.0, "_name": "h", "pagination_depth": "7"})
    assert parsed.queries == (MATCH,) and parsed.pagination_depth == 7


def test_filter_becomes_the_knn_pre_filter() -> None:
    term = {"term": {"c": "x"}}
    assert with_filter({"knn": {"v": {"vector": [1], "k": 3}}}, term) == {
        "knn": {"v": {"vector": [1], "k": 3, "filter": term}}
    }
    knn = {"knn": {"v": {"vector": [1], "k": 3, "filter": {"range": {"n": {"gt": 1}}}}}}
    assert with_filter(knn, term)["knn"]["v"]["filter"] == {
        "bool": {"must": [{"range": {"n": {"gt": 1}}}], "filter": [term]}
    }


def test_filter_is_appended_to_a_scoring_bool_and_wraps_a_should_only_bool() -> None:
    term = {"term": {"c": "x"}}
    assert with_filter({"bool": {"must": [MATCH], "filter": MATCH}}, term) == {
        "bool": {"must": [MATCH], "filter": [MATCH, term]}
    }
    should = {"bool": {"should": [{"rank_feature": {"field": "s.a", "linear": {}}}]}}
    assert with_filter(should, term) == {"bool": {"must": [should], "filter": [term]}}
    assert with_filter(MATCH, term) == {"bool": {"must": [MATCH], "filter": [term]}}


def test_plan_depth_size_and_breakdown() -> None:
    plan = plan_search({**hybrid(), "size": 3, "ext": {"neuralpipe": {"hybrid_breakdown": True}}})
    assert (plan.start, plan.size, plan.depth, plan.breakdown) == (0, 3, 3, True)
    plan = plan_search({**hybrid(pagination_depth=20), "from": 5}, params={"size": "4"})
    assert (plan.start, plan.size, plan.depth, plan.breakdown) == (5, 4, 20, False)


def test_from_needs_pagination_depth() -> None:
    with pytest.raises(
        InvalidQueryError, match="pagination_depth param is missing in the search request"
    ):
        plan_search({**hybrid(), "from": 1})


@pytest.mark.parametrize("key", ["sort", "search_after", "rescore", "post_filter", "profile"])
def test_unsupported_options_are_named(key: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=rf"\[{key}\]"):
        plan_search({**hybrid(), key: {}})


def test_collapse_on_a_field_collects_its_values_and_checks_it_on_the_node() -> None:
    plan = plan_search({**hybrid(), "collapse": {"field": "cat"}})
    assert plan.collapse == "cat"
    assert sub_query_body(plan.hybrid.queries[0], plan)["docvalue_fields"] == ["cat"]
    assert plan.count is not None and plan.count["collapse"] == {"field": "cat"}
    with pytest.raises(UnsupportedFeatureError, match=r"\[collapse.inner_hits\]"):
        plan_search({**hybrid(), "collapse": {"field": "cat", "inner_hits": {"name": "x"}}})
    with pytest.raises(InvalidQueryError, match="collapse"):
        plan_search({**hybrid(), "collapse": {}})


def test_inner_hits_in_a_sub_query_fetch_the_page_with_the_sub_queries() -> None:
    nested = {"nested": {"path": "p", "query": {"match_all": {}}, "inner_hits": {}}}
    plan = plan_search({"query": {"hybrid": {"queries": [{"match_all": {}}, nested]}}})
    assert plan.inner_hits and not plan.inline_fetch
    assert not plan_search(hybrid()).inner_hits


def test_unsupported_url_parameter() -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"\[scroll\]"):
        plan_search(hybrid(), params={"scroll": "1m"})


def test_count_body_unions_the_sub_queries_and_carries_aggregations() -> None:
    aggs = {"c": {"terms": {"field": "c"}}}
    plan = plan_search({**hybrid(filter={"term": {"c": 1}}), "aggs": aggs, "track_total_hits": 50})
    assert plan.count is not None
    assert plan.count["size"] == 0 and plan.count["aggs"] == aggs
    assert plan.count["track_total_hits"] == 50
    should = plan.count["query"]["bool"]["should"]
    assert should[1]["knn"]["vec"]["filter"] == {"term": {"c": 1}}
    assert plan_search({**hybrid(), "track_total_hits": False}).count is None


class FakeClient:
    """Canned ``_msearch`` answers: sub-query hits per shard, computed from a small table."""

    def __init__(self, scores: list[dict[str, float]], shards: int = 1) -> None:
        self.scores, self.shards = scores, shards
        self.calls: list[list[dict[str, Any]]] = []

    def search_shards(self, index: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"shards": [[{"shard": n, "index": index}] for n in range(self.shards)]}

    def msearch(self, body: str) -> dict[str, Any]:
        assert body.endswith("\n")  # ndjson, as the node reads it
        lines: list[dict[str, Any]] = [json.loads(line) for line in body.splitlines()]
        self.calls.append(lines)
        return {
            "responses": [self._answer(h, b) for h, b in zip(lines[::2], lines[1::2], strict=True)]
        }

    def _answer(self, header: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        shards = {"total": 1 if "_shards:" in header.get("preference", "") else self.shards}
        if body.get("size") == 0:
            return {
                "_shards": shards,
                "hits": {"total": {"value": 4, "relation": "eq"}, "hits": []},
            }
        if "sort" not in body:  # the fetch by ids
            ids = [
                i
                for c in body["query"]["bool"]["should"]
                for i in c["bool"]["filter"][1]["ids"]["values"]
            ]
            return {
                "_shards": shards,
                "hits": {"hits": [{"_index": "i", "_id": i, "_source": {"id": i}} for i in ids]},
            }
        which = 0 if body["query"] == MATCH else 1
        ranked = sorted(self.scores[which].items(), key=lambda kv: -kv[1])[: body["size"]]
        hits = [{"_index": "i", "_id": d, "_score": s, "sort": [s, int(d[1:])]} for d, s in ranked]
        if body.get("_source") is not False:
            hits = [{**h, "_source": {"id": h["_id"], "inline": True}} for h in hits]
        return {"_shards": shards, "hits": {"hits": hits}}


SCORES = [{"d1": 4.0, "d2": 2.0, "d3": 1.0}, {"d2": 10.0, "d3": 5.0, "d4": 1.0}]


def test_run_hybrid_response_shape_and_breakdown() -> None:
    client = FakeClient(SCORES)
    body = {**hybrid(), "ext": {"neuralpipe": {"hybrid_breakdown": True}}}
    response = run_hybrid(client, "i", body, NormalizationConfig())
    assert response["hits"]["total"] == {"value": 4, "relation": "eq"}
    assert response["hits"]["max_score"] == 0.6666667
    hits = response["hits"]["hits"]
    assert [(h["_id"], h["_score"]) for h in hits] == [
        ("d2", 0.6666667),
        ("d1", 0.5),
        ("d3", 0.22272222),
        ("d4", 0.0005),
    ]
    assert hits[0]["_source"] == {"id": "d2", "inline": True}
    assert hits[3]["_neuralpipe"] == {
        "hybrid": {
            "score": 0.0005,
            "sub_queries": [
                {"raw_score": None, "normalized_score": None},
                {"raw_score": 1.0, "normalized_score": 0.001},
            ],
        }
    }
    (first,) = client.calls  # the sources came with the sub-query hits
    assert "ext" not in first[1] and first[1]["size"] == 10
    assert first[0]["preference"].startswith("neuralpipe-")
    assert len({h["preference"] for h in first[::2]}) == 1


def test_run_hybrid_fetches_the_page_separately_for_deep_collections_and_highlight() -> None:
    client = FakeClient(SCORES)
    body = {**hybrid(pagination_depth=150), "size": 2}
    response = run_hybrid(client, "i", body, NormalizationConfig())
    assert [h["_source"] for h in response["hits"]["hits"]] == [{"id": "d2"}, {"id": "d1"}]
    sub_query, fetch = client.calls
    assert sub_query[1]["_source"] is False and fetch[1]["size"] == 2
    client = FakeClient(SCORES)
    run_hybrid(client, "i", {**hybrid(), "highlight": {"fields": {"text": {}}}}, RRFConfig())
    highlight = client.calls[1][1]["highlight"]
    assert highlight["highlight_query"] == {"bool": {"should": [MATCH, KNN]}}


def test_run_hybrid_pages_and_reports_the_end() -> None:
    client = FakeClient(SCORES)
    body = {**hybrid(pagination_depth=3), "from": 1, "size": 2, "_source": False}
    response = run_hybrid(client, "i", body, NormalizationConfig())
    assert [h["_id"] for h in response["hits"]["hits"]] == ["d1", "d3"]
    assert response["hits"]["max_score"] == 0.6666667
    assert len(client.calls) == 1  # _source: false, nothing else asked: no fetch
    assert run_hybrid(client, "i", {**body, "from": 4}, NormalizationConfig())["hits"]["hits"] == []
    with pytest.raises(
        InvalidQueryError,
        match="Reached end of search result, increase pagination_depth value to see more results",
    ):
        run_hybrid(client, "i", {**body, "from": 5}, NormalizationConfig())


def test_run_hybrid_without_hits_has_max_score_zero() -> None:
    response = run_hybrid(FakeClient([{}, {}]), "i", hybrid(), RRFConfig())
    assert response["hits"]["max_score"] == 0.0 and response["hits"]["hits"] == []


def test_run_hybrid_queries_each_shard_of_a_multi_shard_index() -> None:
    client = FakeClient(SCORES, shards=2)
    response = run_hybrid(client, "i", hybrid(), RRFConfig())
    prefs = [h.get("preference") for h in client.calls[1][::2]]
    assert prefs == ["_shards:0", "_shards:0", "_shards:1", "_shards:1"]
    ids = [h["_id"] for h in response["hits"]["hits"]]  # both fake shards hold every doc
    assert ids == ["d2", "d2", "d3", "d3", "d1", "d1", "d4", "d4"]


def test_msearch_item_errors_raise_like_search() -> None:
    class Failing(FakeClient):
        def msearch(self, body: str) -> dict[str, Any]:
            return {"responses": [{"error": {"type": "parsing_exception"}, "status": 400}]}

    with pytest.raises(RequestError):
        run_hybrid(Failing(SCORES), "i", hybrid(), RRFConfig())


def test_min_score_is_planned_and_checked() -> None:
    assert plan_search({**hybrid(), "min_score": 0.25}).min_score == 0.25
    assert plan_search(hybrid()).min_score is None
    with pytest.raises(InvalidQueryError, match=r"\[min_score\] failed to parse field"):
        plan_search({**hybrid(), "min_score": {}})


def test_collapse_keeps_the_first_best_per_group_in_merge_order() -> None:
    import numpy as np

    from processors.search.hybrid import collapse
    from processors.search.normalization import Fused

    def fused(key: str, score: float, doc: int, *raw: float | None) -> Fused:
        raws = tuple(None if r is None else np.float32(r) for r in raw)
        norm = tuple(None if r is None else np.float32(score) for r in raw)
        return Fused(key, np.float32(score), 0, doc, raws, norm)

    hits = [
        fused("1", 0.5, 0, 2.0, None),  # ties with 7 on combined score, lower raw score
        fused("7", 0.5, 6, None, 3.0),
        fused("3", 0.4, 2, 1.0, None),
        fused("8", 0.1, 7, 0.5, None),
        fused("5", 0.6, 4, None, 0.2),  # a later, strictly better member of group "c"
        fused("6", 0.3, 5, 1.5, None),
    ]
    groups = {"1": "a", "7": "a", "3": "b", "8": None, "5": "c", "6": "c"}
    assert [f.key for f in collapse(hits, groups)] == ["5", "7", "3", "8"]
