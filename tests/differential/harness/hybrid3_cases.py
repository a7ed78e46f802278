"""``hybrid`` features of neural-search 3.0-3.6 on both nodes (issue #17, section 3).

``filter`` (applied to every sub-query), ``min_score``, ``min_max`` ``lower_bounds`` /
``upper_bounds``, RRF ``weights``, ``collapse``, ``inner_hits``, ``explain`` with the
``hybrid_score_explanation`` response processor, and the 3.6 refusal of ``hybrid`` nested in
``function_score`` / ``script_score`` / ``constant_score``; searches and invalid requests over
the corpus of :mod:`.search_cases`.
"""

from __future__ import annotations

import re
from typing import Any

from tests.differential.harness.compare import Case, compare_json
from tests.differential.harness.known import KNOWN
from tests.differential.harness.search_cases import MATCH, NEURAL, SPARSE_Q, _hybrid, _norm
from tests.differential.harness.sides import JSONObject, Sides, search_case

HYBRID = _hybrid(MATCH, NEURAL)["query"]
RANGE = {"range": {"n": {"gte": 4}}}


def _bounded(lower: list[JSONObject] | None = None, upper: list[JSONObject] | None = None,
             combination: str = "arithmetic_mean") -> JSONObject:  # fmt: skip
    """A min_max normalization-processor with ``lower_bounds`` / ``upper_bounds``."""
    params: JSONObject = {}
    if lower is not None:
        params["lower_bounds"] = lower
    if upper is not None:
        params["upper_bounds"] = upper
    body: JSONObject = {
        "normalization": {"technique": "min_max", "parameters": params},
        "combination": {"technique": combination},
    }
    return {"phase_results_processors": [{"normalization-processor": body}]}


def _rrf(weights: list[float] | None = None, rank_constant: int | None = None) -> JSONObject:
    comb: JSONObject = {"technique": "rrf"}
    if rank_constant is not None:
        comb["rank_constant"] = rank_constant
    if weights is not None:
        comb["parameters"] = {"weights": weights}
    return {"phase_results_processors": [{"score-ranker-processor": {"combination": comb}}]}


def _filtered(*queries: JSONObject, filter_query: JSONObject = RANGE, **body: Any) -> JSONObject:
    return {
        "size": 8,
        "query": {"hybrid": {"queries": list(queries), "filter": filter_query}},
        **body,
    }


MINMAX = _norm("min_max", "arithmetic_mean")
APPLY, CLIP, IGNORE = ({"mode": m} for m in ("apply", "clip", "ignore"))

SEARCHES: list[tuple[str, JSONObject | None, JSONObject, str]] = [
    ("hybrid filter: match + neural", MINMAX, _filtered(MATCH, NEURAL), ""),
    (
        "hybrid filter: match + neural + neural_sparse, l2",
        _norm("l2", "arithmetic_mean", [0.2, 0.3, 0.5]),
        _filtered(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    (
        "hybrid filter on a bool sub-query",
        MINMAX,
        _filtered({"bool": {"must": [MATCH], "filter": [{"range": {"n": {"lte": 7}}}]}}, NEURAL),
        "",
    ),
    (
        "hybrid filter matching nothing",
        MINMAX,
        _filtered(MATCH, NEURAL, filter_query={"range": {"n": {"gte": 100}}}),
        "",
    ),
    ("hybrid min_score 0.5", MINMAX, {**_hybrid(MATCH, NEURAL), "min_score": 0.5}, ""),
    ("hybrid min_score 0.0001", MINMAX, {**_hybrid(MATCH, NEURAL), "min_score": 0.0001}, ""),
    (
        "hybrid min_score 0.3 + filter + size 3",
        MINMAX,
        _filtered(MATCH, NEURAL, min_score=0.3, size=3),
        "",
    ),
    (
        "min_max lower_bounds apply 0.5 / clip 0.6",
        _bounded(lower=[{"mode": "apply", "min_score": 0.5}, {"mode": "clip", "min_score": 0.6}]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "min_max lower_bounds ignore / default mode",
        _bounded(lower=[IGNORE, {"min_score": 0.2}]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "min_max upper_bounds clip 1.0 / apply 0.9",
        _bounded(upper=[{"mode": "clip", "max_score": 1.0}, {"mode": "apply", "max_score": 0.9}]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "min_max lower + upper bounds, 3 sub-queries, geometric",
        _bounded(
            lower=[CLIP, {"mode": "apply", "min_score": 0.1}, IGNORE],
            upper=[APPLY, {"mode": "clip", "max_score": 0.7}, {"max_score": 5}],
            combination="geometric_mean",
        ),
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    ("RRF weights [0.3, 0.7]", _rrf([0.3, 0.7]), _hybrid(MATCH, NEURAL), ""),
    (
        "RRF weights [0.2, 0.5, 0.3] rank_constant 10",
        _rrf([0.2, 0.5, 0.3], 10),
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
]

EXPLAINER: JSONObject = {"response_processors": [{"hybrid_score_explanation": {}}]}


def _explained(fusion: JSONObject, processor: bool = True) -> JSONObject:
    """``fusion`` with (or without) the ``hybrid_score_explanation`` response processor."""
    return {**fusion, **(EXPLAINER if processor else {})}


EXPLAINS: list[tuple[str, JSONObject | None, JSONObject, str]] = [
    (
        "explain + hybrid_score_explanation, min_max",
        _explained(MINMAX),
        {**_hybrid(MATCH, NEURAL, size=5), "explain": True},
        KNOWN["explain-double-min-max"],
    ),
    (
        "explain + hybrid_score_explanation, l2 weights",
        _explained(_norm("l2", "arithmetic_mean", [0.4, 0.6])),
        {**_hybrid(MATCH, NEURAL, size=5), "explain": True},
        "",
    ),
    (
        "explain + hybrid_score_explanation, RRF weights",
        _explained(_rrf([0.3, 0.7])),
        {**_hybrid(MATCH, NEURAL, size=5), "explain": True},
        "",
    ),
    (
        "explain + hybrid_score_explanation, bounds + min_score",
        _explained(_bounded(lower=[{"mode": "clip", "min_score": 0.5}, IGNORE], upper=[APPLY, {}])),
        {**_hybrid(MATCH, NEURAL), "explain": True, "min_score": 0.2},
        KNOWN["explain-double-min-max"],
    ),
    (
        "explain without hybrid_score_explanation",
        MINMAX,
        {**_hybrid(MATCH, NEURAL, size=5), "explain": True},
        KNOWN["explain-double-min-max"],
    ),
    (
        "hybrid_score_explanation without explain",
        _explained(MINMAX),
        _hybrid(MATCH, NEURAL, size=5),
        "",
    ),
]

BAD_SEARCHES: list[tuple[str, JSONObject | None, JSONObject, str]] = [
    (
        "hybrid inside function_score",
        MINMAX,
        {"query": {"function_score": {"query": HYBRID, "weight": 2}}},
        "",
    ),
    (
        "hybrid inside script_score",
        MINMAX,
        {"query": {"script_score": {"query": HYBRID, "script": {"source": "_score * 2"}}}},
        "",
    ),
    (
        "hybrid inside constant_score",
        MINMAX,
        {"query": {"constant_score": {"filter": HYBRID}}},
        "",
    ),
    (
        "hybrid filter not an object",
        MINMAX,
        {"query": {"hybrid": {"queries": [MATCH], "filter": [RANGE]}}},
        "",
    ),
    (
        "min_max lower_bounds count != sub-queries",
        _bounded(lower=[APPLY, APPLY, APPLY]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    ("min_max lower_bounds unknown mode", _bounded(lower=[{"mode": "cut"}]), _hybrid(MATCH), ""),
    (
        "min_max lower_bounds min_score 20000",
        _bounded(lower=[{"min_score": 20000}]),
        _hybrid(MATCH),
        "",
    ),
    (
        "min_max lower_bounds min_score 'abc'",
        _bounded(lower=[{"min_score": "abc"}]),
        _hybrid(MATCH),
        "",
    ),
    ("min_max lower_bounds not a list", _bounded(lower={"mode": "clip"}), _hybrid(MATCH), ""),  # type: ignore[arg-type]
    ("min_max upper_bounds of 6", _bounded(upper=[APPLY] * 6), _hybrid(MATCH), ""),
    (
        "min_max upper_bounds with min_score",
        _bounded(upper=[{"min_score": 0.5}]),
        _hybrid(MATCH),
        "",
    ),
    ("min_max bounds item not a map", _bounded(lower=["clip"]), _hybrid(MATCH), ""),  # type: ignore[list-item]
    ("RRF weights not summing to 1", _rrf([0.5, 0.6]), _hybrid(MATCH, NEURAL), ""),
    ("RRF weights count != sub-queries", _rrf([0.5, 0.5]), _hybrid(MATCH, NEURAL, SPARSE_Q), ""),
]


def _run(
    sides: Sides, category: str, runs: list[tuple[str, JSONObject | None, JSONObject, str]]
) -> list[Case]:
    cases = []
    for number, (name, pipeline, body, known) in enumerate(runs):
        case = Case(category, name, known=known)
        pipeline_id = f"diff-h3-{category}-{number}"
        cases.append(search_case(case, sides, pipeline, body, pipeline_id, more=_explanations))
    return cases


def _explanations(ref: JSONObject, ours: JSONObject) -> list[str]:
    """Each hit's ``_explanation`` (and whether it has ``_shard`` / ``_node``) on both sides."""
    out: list[str] = []
    for i, (a, b) in enumerate(zip(ref["hits"]["hits"], ours["hits"]["hits"], strict=False)):
        keys = ("_explanation", "_shard", "_node")
        if [k in a for k in keys] != [k in b for k in keys]:
            out.append(f"hits[{i}] keys {sorted(a)} vs {sorted(b)}")
        if "_explanation" in a and "_explanation" in b:
            mine, theirs = (
                _without_doc_numbers(a["_explanation"]),
                _without_doc_numbers(b["_explanation"]),
            )
            out += compare_json(mine, theirs, f"hits[{i}]._explanation")
    return out


DOC_NUMBER = re.compile(r" in \d+\)")


def _without_doc_numbers(value: Any) -> Any:
    """An explanation with Lucene's segment-local doc numbers (``weight(text:wing in 5)``)
    masked: they follow the order the shard indexed the bulk in, which the reference node's
    ingest pipeline does not keep from run to run."""
    if isinstance(value, dict):
        return {k: _without_doc_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_doc_numbers(v) for v in value]
    return DOC_NUMBER.sub(" in <doc>)", value) if isinstance(value, str) else value


def hybrid3_cases(sides: Sides) -> list[Case]:
    """Every 3.x hybrid case (the corpus of :mod:`.search_cases` must be indexed)."""
    runs = _run(sides, "search3", SEARCHES) + _run(sides, "search3", EXPLAINS)
    return runs + _run(sides, "search3", BAD_SEARCHES)
