"""Hybrid search on the real node: fused scores equal the plugin's formulas applied, by hand,
to the raw scores the node returns for each sub-query on its own."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

from processors.compat.floats import json_score
from processors.errors import InvalidQueryError
from processors.search.fusion_config import NormalizationConfig, RRFConfig
from processors.search.hybrid import run_hybrid

pytestmark = pytest.mark.integration
F = np.float32

MAPPING = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        "properties": {
            "text": {"type": "text"},
            "cat": {"type": "keyword"},
            "vec": {
                "type": "knn_vector",
                "dimension": 4,
                "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
            },
            "sparse": {"type": "rank_features"},
        }
    },
}
# (id, text, category, vector, sparse tokens); indexed in this order in one bulk (doc ids 0..11).
DOCS = [
    ("a", "wing flow over the wing", "x", [1.0, 0.0, 0.0, 0.0], {"wing": 2.0}),
    ("b", "heat flow in a plate", "y", [0.9, 0.1, 0.0, 0.0], {"heat": 1.5}),
    ("c", "boundary layer flow", "x", [0.0, 1.0, 0.0, 0.0], {"flow": 0.7}),
    ("d", "shock wave", "y", [0.0, 0.0, 1.0, 0.0], {"shock": 1.0}),
    ("e", "wing", "x", [0.2, 0.2, 0.9, 0.1], {"wing": 0.4}),
    ("f", "a wing in a flow of air and heat", "y", [0.7, 0.7, 0.0, 0.0], {"air": 0.9}),
    ("g", "rain", "x", [0.0, 0.0, 0.0, 1.0], {"rain": 1.0}),
    ("h", "flow flow flow", "y", [0.5, 0.5, 0.5, 0.5], {"flow": 2.5}),
    ("i", "the wing", "x", [0.1, 0.0, 0.0, 1.0], {"wing": 1.1}),
    ("j", "nothing relevant", "y", [0.95, 0.05, 0.05, 0.0], {"x": 0.1}),
    ("k", "wing flow", "x", [0.0, 0.3, 0.3, 0.9], {"wing": 0.2, "flow": 0.2}),
    ("l", "air", "y", [0.6, 0.0, 0.0, 0.8], {"air": 2.0}),
]
DOC_ID = {doc[0]: n for n, doc in enumerate(DOCS)}
MATCH = {"match": {"text": "wing flow"}}
KNN = {"knn": {"vec": {"vector": [1.0, 0.05, 0.0, 0.0], "k": 4}}}
SPARSE = {
    "bool": {
        "should": [
            {"rank_feature": {"field": "sparse.wing", "linear": {}}},
            {"rank_feature": {"field": "sparse.air", "linear": {}}},
        ]
    }
}


@pytest.fixture
def index(client: Any, index_name: str) -> str:
    client.indices.create(index=index_name, body=MAPPING)
    lines: list[dict[str, Any]] = []
    for doc_id, text, cat, vec, sparse in DOCS:
        lines += [
            {"index": {"_id": doc_id}},
            {"text": text, "cat": cat, "vec": vec, "sparse": sparse},
        ]
    client.bulk(index=index_name, body=lines, refresh=True)
    return index_name


def raw(client: Any, index: str, query: dict[str, Any], size: int) -> list[tuple[str, np.float32]]:
    """A sub-query on its own, as the node scores it."""
    hits = client.search(index=index, body={"query": query, "size": size})["hits"]["hits"]
    return [(h["_id"], F(h["_score"])) for h in hits]


def min_max_arithmetic(
    lists: list[list[tuple[str, np.float32]]], weights: list[float] | None = None
) -> dict[str, np.float32]:
    """Reference §9.3 min_max then §9.4 arithmetic_mean, written out independently."""
    w = [F(x) for x in weights] if weights else [F(1.0)] * len(lists)
    per_doc: dict[str, list[np.float32]] = {}
    for j, hits in enumerate(lists):
        lo, hi = min(s for _, s in hits), max(s for _, s in hits)
        for doc, s in hits:
            n = F(1.0) if lo == hi else F((s - lo) / (hi - lo))
            per_doc.setdefault(doc, [F(0.0)] * len(lists))[j] = F(0.001) if n == 0 else n
    out = {}
    for doc, scores in per_doc.items():
        total, weight = F(0.0), F(0.0)
        for s, wj in zip(scores, w, strict=True):
            total, weight = F(total + F(s * wj)), F(weight + wj)
        out[doc] = F(total / weight)
    return out


def rrf(lists: list[list[tuple[str, np.float32]]], k: int = 60) -> dict[str, np.float32]:
    out: dict[str, np.float32] = {}
    for hits in lists:
        for rank, (doc, _) in enumerate(hits, start=1):
            reciprocal = (Decimal(1) / Decimal(k + rank)).quantize(Decimal("1E-10"), ROUND_HALF_UP)
            out[doc] = F(out.get(doc, F(0.0)) + F(str(reciprocal)))
    return out


def scored(response: dict[str, Any]) -> list[tuple[str, float]]:
    return [(h["_id"], h["_score"]) for h in response["hits"]["hits"]]


def ordered(expected: dict[str, np.float32]) -> list[tuple[str, float]]:
    """Score descending; ties by Lucene doc id (the plugin's HashMap order for ids under 16)."""
    docs = sorted(expected, key=lambda d: (-float(expected[d]), DOC_ID[d]))
    return [(d, json_score(expected[d])) for d in docs]


def test_min_max_arithmetic_equals_the_formula_on_the_nodes_raw_scores(
    client: Any, index: str
) -> None:
    body = {"query": {"hybrid": {"queries": [MATCH, KNN]}}, "size": 10}
    response = run_hybrid(client, index, body, NormalizationConfig())
    expected = min_max_arithmetic([raw(client, index, MATCH, 10), raw(client, index, KNN, 10)])
    assert scored(response) == ordered(expected)
    assert response["hits"]["max_score"] == ordered(expected)[0][1]
    union = {"bool": {"should": [MATCH, KNN]}}
    assert response["hits"]["total"] == {
        "value": client.count(index=index, body={"query": union})["count"],
        "relation": "eq",
    }
    assert response["_shards"]["total"] == 1 and response["hits"]["hits"][0]["_source"]["text"]


def test_weighted_three_sub_queries_with_breakdown(client: Any, index: str) -> None:
    body = {
        "query": {"hybrid": {"queries": [MATCH, KNN, SPARSE]}},
        "size": 10,
        "ext": {"neuralpipe": {"hybrid_breakdown": True}},
        "_source": False,
    }
    config = NormalizationConfig.from_body(
        {"combination": {"parameters": {"weights": [0.2, 0.5, 0.3]}}}
    )
    response = run_hybrid(client, index, body, config)
    lists = [raw(client, index, q, 10) for q in (MATCH, KNN, SPARSE)]
    assert scored(response) == ordered(min_max_arithmetic(lists, [0.2, 0.5, 0.3]))
    for hit in response["hits"]["hits"]:
        assert "_source" not in hit
        for j, sub in enumerate(hit["_neuralpipe"]["hybrid"]["sub_queries"]):
            node = dict(lists[j]).get(hit["_id"])
            assert sub["raw_score"] == (None if node is None else json_score(node))


def test_other_normalizations_and_combinations_run(client: Any, index: str) -> None:
    body = {"query": {"hybrid": {"queries": [MATCH, KNN]}}, "size": 10}
    lists = [raw(client, index, MATCH, 10), raw(client, index, KNN, 10)]
    l2 = run_hybrid(
        client,
        index,
        body,
        NormalizationConfig.from_body(
            {"normalization": {"technique": "l2"}, "combination": {"technique": "geometric_mean"}}
        ),
    )
    norms = [F(math.sqrt(float(_f32_sum([F(s * s) for _, s in hits])))) for hits in lists]
    expected = {}
    for doc in {d for hits in lists for d, _ in hits}:
        total, weight = F(0.0), F(0.0)
        for j, hits in enumerate(lists):
            if doc in dict(hits):
                weight = F(weight + F(1.0))
                total = F(float(total) + math.log(float(F(dict(hits)[doc] / norms[j]))))
        expected[doc] = F(math.exp(float(F(total / weight))))
    assert scored(l2) == ordered(expected)


def _f32_sum(values: list[np.float32]) -> np.float32:
    total = F(0.0)
    for v in values:
        total = F(total + v)
    return total


def test_rrf_orders_by_reciprocal_ranks(client: Any, index: str) -> None:
    body = {"query": {"hybrid": {"queries": [MATCH, KNN]}}, "size": 10}
    response = run_hybrid(client, index, body, RRFConfig())
    expected = rrf([raw(client, index, MATCH, 10), raw(client, index, KNN, 10)])
    assert scored(response) == ordered(expected)


def test_rrf_ties_come_out_in_doc_id_order(client: Any, index: str) -> None:
    """Two disjoint lists: rank r of one ties with rank r of the other, every time."""
    cat_x, cat_y = {"term": {"cat": "x"}}, {"term": {"cat": "y"}}
    body = {"query": {"hybrid": {"queries": [cat_x, cat_y]}}, "size": 12}
    response = run_hybrid(
        client, index, body, RRFConfig.from_body({"combination": {"rank_constant": 1}})
    )
    assert [d for d, _ in scored(response)] == [d for d, *_ in DOCS]  # a(x) b(y) c(x) d(y) ...
    expected = rrf([raw(client, index, cat_x, 12), raw(client, index, cat_y, 12)], k=1)
    assert scored(response) == ordered(expected)


def test_size_sets_how_many_hits_each_sub_query_contributes(client: Any, index: str) -> None:
    body = {"query": {"hybrid": {"queries": [MATCH, KNN]}}, "size": 2}
    response = run_hybrid(client, index, body, NormalizationConfig())
    expected = min_max_arithmetic([raw(client, index, MATCH, 2), raw(client, index, KNN, 2)])
    assert scored(response) == ordered(expected)[:2]


def test_pagination_depth_from_and_size(client: Any, index: str) -> None:
    query = {"hybrid": {"queries": [MATCH, KNN], "pagination_depth": 5}}
    everything = scored(run_hybrid(client, index, {"query": query, "size": 50}, RRFConfig()))
    assert everything == ordered(rrf([raw(client, index, MATCH, 5), raw(client, index, KNN, 5)]))
    pages = [
        scored(run_hybrid(client, index, {"query": query, "from": start, "size": 3}, RRFConfig()))
        for start in (0, 3, 6)
    ]
    assert [hit for page in pages for hit in page] == everything
    assert (
        scored(run_hybrid(client, index, {"query": query, "from": len(everything)}, RRFConfig()))
        == []
    )
    with pytest.raises(InvalidQueryError, match="Reached end of search result"):
        run_hybrid(client, index, {"query": query, "from": len(everything) + 1}, RRFConfig())
    with pytest.raises(InvalidQueryError, match="pagination_depth param is missing"):
        run_hybrid(
            client, index, {"query": {"hybrid": {"queries": [MATCH]}}, "from": 1}, RRFConfig()
        )


def test_hybrid_filter_pre_filters_knn_and_filters_the_others(client: Any, index: str) -> None:
    cat_x = {"term": {"cat": "x"}}
    body = {
        "query": {"hybrid": {"queries": [MATCH, KNN, SPARSE], "filter": cat_x}},
        "size": 10,
        "aggs": {"cats": {"terms": {"field": "cat"}}},
    }
    response = run_hybrid(client, index, body, NormalizationConfig())
    knn_filtered = {"knn": {"vec": {**KNN["knn"]["vec"], "filter": cat_x}}}
    lists = [
        raw(client, index, {"bool": {"must": [q], "filter": [cat_x]}}, 10) for q in (MATCH, SPARSE)
    ]
    lists.insert(1, raw(client, index, knn_filtered, 10))
    assert len(lists[1]) == 4  # a pre-filter: still k hits, all in the category
    assert scored(response) == ordered(min_max_arithmetic(lists))
    assert {h["_source"]["cat"] for h in response["hits"]["hits"]} == {"x"}
    assert [b["key"] for b in response["aggregations"]["cats"]["buckets"]] == ["x"]


def shard_raw(
    client: Any, index: str, query: dict[str, Any], shard: int
) -> list[tuple[str, np.float32]]:
    body = {"query": query, "size": 20}
    hits = client.search(index=index, body=body, preference=f"_shards:{shard}")["hits"]["hits"]
    return [(h["_id"], F(h["_score"])) for h in hits]


def test_multi_shard_index_is_fused_shard_by_shard(client: Any, index_name: str) -> None:
    body = {
        **MAPPING,
        "settings": {"index": {**MAPPING["settings"]["index"], "number_of_shards": 2}},
    }
    client.indices.create(index=index_name, body=body)
    lines: list[dict[str, Any]] = []
    for doc_id, text, cat, vec, sparse in DOCS:
        lines += [
            {"index": {"_id": doc_id}},
            {"text": text, "cat": cat, "vec": vec, "sparse": sparse},
        ]
    client.bulk(index=index_name, body=lines, refresh=True)
    request = {"query": {"hybrid": {"queries": [MATCH, KNN]}}, "size": 20}
    response = run_hybrid(client, index_name, request, NormalizationConfig())
    per_shard = [[shard_raw(client, index_name, q, n) for q in (MATCH, KNN)] for n in (0, 1)]
    merged = [per_shard[0][j] + per_shard[1][j] for j in range(2)]  # statistics span both shards
    expected = min_max_arithmetic(merged)
    assert dict(scored(response)) == {d: json_score(s) for d, s in expected.items()}
    assert response["_shards"]["total"] == 2
