"""Maximal marginal relevance (``ext.mmr``, 3.3+) on both nodes.

MMR is the k-NN plugin's (system-generated search processors ``mmr_over_sample_factory`` and
``mmr_rerank_factory``, enabled by ``cluster.search.enabled_system_generated_factories``);
neural-search only adds a transformer that lets it take a ``neural`` query. neuralpipe rewrites
``neural`` into ``knn`` and leaves ``ext.mmr`` in the request, so the main node's own k-NN
plugin over-samples and reranks, as on a cluster with the plugins. The cases enable the
setting on both nodes and reset it afterwards.
"""

from __future__ import annotations

from typing import Any

from tests.differential.harness.compare import Case
from tests.differential.harness.sides import ONNX, JSONObject, Sides, judge, search_case

SETTING = "cluster.search.enabled_system_generated_factories"


def _neural(mmr: JSONObject, size: int = 4, **params: Any) -> JSONObject:
    query = {"query_text": "lift on a wing", "model_id": ONNX, **params}
    return {"size": size, "query": {"neural": {"text_embedding": query}}, "ext": {"mmr": mmr}}


SEARCHES: list[tuple[str, JSONObject]] = [
    ("mmr neural candidates 8 diversity 0.5", _neural({"candidates": 8, "diversity": 0.5})),
    ("mmr neural candidates 6 diversity 0.9", _neural({"candidates": 6, "diversity": 0.9})),
    ("mmr neural default candidates", _neural({"diversity": 0.3})),
    (
        "mmr neural with filter and vector_field_path",
        _neural(
            {"candidates": 8, "diversity": 0.7, "vector_field_path": "text_embedding"},
            filter={"range": {"n": {"gte": 3}}},
        ),
    ),
    ("mmr neural min_score", _neural({"candidates": 8, "diversity": 0.5}, min_score=0.5)),
    ("mmr diversity 1.5", _neural({"candidates": 8, "diversity": 1.5})),
    ("mmr candidates < size", _neural({"candidates": 2, "diversity": 0.5})),
    (
        "mmr on a match query",
        {"size": 3, "query": {"match": {"text": "wing"}}, "ext": {"mmr": {"diversity": 0.5}}},
    ),
]


def _set(sides: Sides, value: Any) -> None:
    body = {"persistent": {SETTING: value}}
    sides.ref("PUT", "/_cluster/settings", body)
    sides.client.cluster.put_settings(body=body)


def mmr_cases(sides: Sides) -> list[Case]:
    """Every MMR case (the corpus of :mod:`.search_cases` must be indexed)."""
    cases = []
    case = Case("search3", "mmr without the system processors enabled")
    body = SEARCHES[0][1]
    ref = sides.ref_search(None, body, "diff-mmr")
    ours = sides.ours(lambda: sides.search(None, body, sides.index))
    judge(case, sides, ref, ours)
    cases.append(case)
    _set(sides, ["mmr_over_sample_factory", "mmr_rerank_factory"])
    try:
        for name, body in SEARCHES:
            cases.append(search_case(Case("search3", name), sides, None, body, "diff-mmr"))
    finally:
        _set(sides, None)
    return cases
