"""Query walking: neural clauses are found in every place a query can hold one."""

from __future__ import annotations

from typing import Any

import pytest

from processors.errors import InvalidQueryError
from processors.search.query_walk import find_clauses

N = {"neural": {"v": {"query_text": "x"}}}


def _n(tag: str) -> dict[str, Any]:
    return {"neural": {"v": {"query_text": tag}}}


PLACES = [
    ({"query": _n("a")}, "query"),
    ({"query": {"bool": {"must": [{"match_all": {}}, _n("a")]}}}, "query.bool.must[1]"),
    ({"query": {"bool": {"should": _n("a")}}}, "query.bool.should"),
    ({"query": {"bool": {"filter": [_n("a")]}}}, "query.bool.filter[0]"),
    ({"query": {"bool": {"must_not": [_n("a")]}}}, "query.bool.must_not[0]"),
    ({"query": {"nested": {"path": "p", "query": _n("a")}}}, "query.nested.query"),
    ({"query": {"function_score": {"query": _n("a")}}}, "query.function_score.query"),
    (
        {"query": {"function_score": {"functions": [{"filter": _n("a"), "weight": 2}]}}},
        "query.function_score.functions[0].filter",
    ),
    ({"query": {"dis_max": {"queries": [{"term": {"t": 1}}, _n("a")]}}}, "query.dis_max.queries[1]"),
    ({"query": {"constant_score": {"filter": _n("a")}}}, "query.constant_score.filter"),
    ({"query": {"boosting": {"positive": _n("a"), "negative": {}}}}, "query.boosting.positive"),
    ({"query": {"boosting": {"negative": _n("a")}}}, "query.boosting.negative"),
    ({"query": {"script_score": {"query": _n("a"), "script": {}}}}, "query.script_score.query"),
    ({"query": {"has_child": {"type": "c", "query": _n("a")}}}, "query.has_child.query"),
    ({"query": {"hybrid": {"queries": [{"match": {"t": "x"}}, _n("a")]}}}, "query.hybrid.queries[1]"),
    ({"query": {"hybrid": {"queries": [], "filter": _n("a")}}}, "query.hybrid.filter"),
    ({"query": {"knn": {"v": {"vector": [1], "k": 1, "filter": _n("a")}}}}, "query.knn.v.filter"),
    ({"post_filter": _n("a")}, "post_filter"),
    ({"rescore": {"query": {"rescore_query": _n("a")}}}, "rescore[0].query.rescore_query"),
    ({"rescore": [{"window_size": 5, "query": {"rescore_query": _n("a")}}]}, "rescore[0].query.rescore_query"),
    ({"aggs": {"f": {"filter": _n("a")}}}, "aggs.f.filter"),
    ({"aggregations": {"f": {"filters": {"filters": {"x": _n("a")}}}}}, "aggregations.f.filters.filters.x"),
    ({"aggs": {"f": {"filters": {"filters": [_n("a")]}}}}, "aggs.f.filters.filters[0]"),
    ({"aggs": {"t": {"terms": {"field": "f"}, "aggs": {"g": {"filter": _n("a")}}}}}, "aggs.t.aggs.g.filter"),
    ({"aggs": {"s": {"significant_terms": {"background_filter": _n("a")}}}}, "aggs.s.significant_terms.background_filter"),
    ({"highlight": {"highlight_query": _n("a")}}, "highlight.highlight_query"),
    ({"highlight": {"fields": {"t": {"highlight_query": _n("a")}}}}, "highlight.fields.t.highlight_query"),
    ({"sort": [{"price": {"nested": {"path": "p", "filter": _n("a")}}}]}, "sort[0].price.nested0.filter"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "path"), PLACES, ids=[p for _, p in PLACES])
def test_a_neural_clause_is_found_and_replaced_wherever_it_is(
    body: dict[str, Any], path: str
) -> None:
    [ref] = find_clauses(body)
    assert (ref.kind, ref.path) == ("neural", path)
    assert ref.body == {"v": {"query_text": "a"}}
    ref.replace({"match_none": {}})
    assert find_clauses(body) == []
    assert "match_none" in str(body)


def test_inner_clauses_come_before_the_clause_that_holds_them() -> None:
    body = {"query": {"neural": {"v": {"query_text": "outer", "filter": _n("inner")}}}}
    refs = find_clauses(body)
    assert [r.path for r in refs] == ["query.neural.v.filter", "query"]
    for ref in refs:  # replacing in that order keeps the outer reference valid
        ref.replace({"knn": {"v": ref.body["v"]}})
    assert body["query"]["knn"]["v"]["filter"] == {"knn": {"v": {"query_text": "inner"}}}


def test_both_kinds_and_only_query_scope() -> None:
    body = {
        "query": {"bool": {"should": [_n("a"), {"neural_sparse": {"s": {"query_text": "b"}}}]}},
        "post_filter": _n("c"),
    }
    assert [r.kind for r in find_clauses(body)] == ["neural", "neural_sparse", "neural"]
    assert [r.path for r in find_clauses(body, query_only=True)] == [
        "query.bool.should[0]",
        "query.bool.should[1]",
    ]
    assert [r.kind for r in find_clauses(body, kinds=["neural_sparse"])] == ["neural_sparse"]


def test_leaf_queries_are_not_entered() -> None:
    body = {"query": {"bool": {"must": [{"term": {"neural": {"value": "x"}}}, {"match": N}]}}}
    assert find_clauses(body) == []


def test_hybrid_must_be_the_top_level_query() -> None:
    with pytest.raises(InvalidQueryError) as caught:
        find_clauses({"query": {"bool": {"must": [{"hybrid": {"queries": []}}]}}})
    assert str(caught.value) == (
        "hybrid query must be a top level query and cannot be wrapped into other queries. To use "
        "scoring wrapper queries (function_score, script_score, etc.) with hybrid sub-queries, "
        "replace the hybrid clause with a bool query using should clauses containing the same "
        "sub-queries"
    )
    with pytest.raises(InvalidQueryError):
        find_clauses({"query": {"hybrid": {"queries": [{"hybrid": {"queries": []}}]}}})


def test_non_objects_are_ignored() -> None:
    assert find_clauses([]) == []
    assert find_clauses({"query": None, "aggs": [], "sort": "f", "highlight": 1}) == []
