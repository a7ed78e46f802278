"""``neural_sparse_two_phase_processor`` on both nodes (issue #17, section 3).

Searches over the corpus of :mod:`.search_cases` (``text_sparse`` indexed with the
``bert-uncased`` tokenizer): prune types and ratios with windows small enough that the rescore
shows (hits inside the window score high + low tokens, the others high only), doc-only queries
(tokenizer model, default analyzer, raw ``query_tokens``), a bi-encoder query (SPLADE), bool
nesting and boosts, a request with its own rescore; then the processor's configuration errors
and its window-size refusal.
"""

from __future__ import annotations

from typing import Any

from tests.differential.harness.compare import Case
from tests.differential.harness.search_cases import MATCH, SPARSE_Q
from tests.differential.harness.sides import SPLADE, JSONObject, Sides, search_case

TYPE = "neural_sparse_two_phase_processor"
SPLADE_Q = {
    "neural_sparse": {"text_sparse": {"query_text": "lift on a swept wing", "model_id": SPLADE}}
}
ANALYZER_Q = {"neural_sparse": {"text_sparse": {"query_text": "wing lift drag shock"}}}
TOKENS_Q = {
    "neural_sparse": {
        "text_sparse": {
            "query_tokens": {"wing": 3.0, "lift": 2.5, "drag": 1.0, "flow": 0.6, "shock": 0.3}
        }
    }
}


def _pipeline(enabled: Any = None, **parameters: Any) -> JSONObject:
    options: JSONObject = {}
    if enabled is not None:
        options["enabled"] = enabled
    if parameters:
        options["two_phase_parameter"] = parameters
    return {"request_processors": [{TYPE: options}]}


def _search(query: JSONObject, size: int = 3, **body: Any) -> JSONObject:
    return {"size": size, "query": query, **body}


SEARCHES: list[tuple[str, JSONObject, JSONObject]] = [
    ("defaults (max_ratio 0.4, x5), tokenizer model", _pipeline(), _search(SPARSE_Q, 8)),
    (
        "max_ratio 0.6, window 3, tokenizer model",
        _pipeline(prune_ratio=0.6, expansion_rate=1.0),
        _search(SPARSE_Q),
    ),
    (
        "max_ratio 0.8, window 2 of size 2, default analyzer",
        _pipeline(prune_ratio=0.8, expansion_rate=1.0),
        _search(ANALYZER_Q, 2),
    ),
    (
        "top_k 1, window 3 of size 2, raw query_tokens",
        _pipeline(prune_type="top_k", prune_ratio=1, expansion_rate=1.5),
        _search(TOKENS_Q, 2),
    ),
    (
        "alpha_mass 0.5, window 3, raw query_tokens",
        _pipeline(prune_type="alpha_mass", prune_ratio=0.5, expansion_rate=1.0),
        _search(TOKENS_Q),
    ),
    (
        "abs_value 1.0, window 3, raw query_tokens",
        _pipeline(prune_type="abs_value", prune_ratio=1.0, expansion_rate=1.0),
        _search(TOKENS_Q),
    ),
    (
        "max_ratio 0.5, window 3, bi-encoder (SPLADE)",
        _pipeline(prune_ratio=0.5, expansion_rate=1.0),
        _search(SPLADE_Q),
    ),
    (
        "bool.should nesting with boosts, window 4",
        _pipeline(prune_ratio=0.6, expansion_rate=2.0),
        _search(
            {
                "bool": {
                    "boost": 2.0,
                    "should": [
                        MATCH,
                        {"bool": {"boost": 0.5, "should": [TOKENS_Q]}},
                        {
                            "neural_sparse": {
                                "text_sparse": {
                                    **TOKENS_Q["neural_sparse"]["text_sparse"],
                                    "boost": 3.0,
                                }
                            }
                        },
                    ],
                }
            },
            2,
        ),
    ),
    (
        "neural_sparse under bool.must is not split",
        _pipeline(prune_ratio=0.6, expansion_rate=1.0),
        _search({"bool": {"must": [TOKENS_Q]}}),
    ),
    (
        "the request's own rescore (query_weight 0.5) comes first",
        _pipeline(prune_ratio=0.6, expansion_rate=1.0),
        _search(
            TOKENS_Q,
            rescore={"window_size": 5, "query": {"rescore_query": MATCH, "query_weight": 0.5}},
        ),
    ),
    ("enabled false", _pipeline(enabled=False, prune_ratio=0.9), _search(TOKENS_Q)),
    (
        "prune_ratio 0: nothing happens",
        _pipeline(prune_ratio=0, expansion_rate=1.0),
        _search(TOKENS_Q),
    ),
    (
        "prune_type none: empty rescore",
        _pipeline(prune_type="none", expansion_rate=1.0),
        _search(TOKENS_Q),
    ),
]

BAD: list[tuple[str, JSONObject, JSONObject]] = [
    ("window 15000 > max_window_size", _pipeline(), _search(TOKENS_Q, 3000)),
    ("max_ratio prune_ratio 1.2", _pipeline(prune_ratio=1.2), _search(TOKENS_Q)),
    ("top_k prune_ratio 2.5", _pipeline(prune_type="top_k", prune_ratio=2.5), _search(TOKENS_Q)),
    (
        "abs_value prune_ratio -1",
        _pipeline(prune_type="abs_value", prune_ratio=-1),
        _search(TOKENS_Q),
    ),
    ("unknown prune_type", _pipeline(prune_type="top_p"), _search(TOKENS_Q)),
    ("expansion_rate 0.5", _pipeline(expansion_rate=0.5), _search(TOKENS_Q)),
    ("max_window_size 10", _pipeline(max_window_size=10), _search(TOKENS_Q)),
    ("prune_ratio 'abc'", _pipeline(prune_ratio="abc"), _search(TOKENS_Q)),
    ("enabled 'yes'", _pipeline(enabled="yes"), _search(TOKENS_Q)),
    (
        "two_phase_parameter not a map",
        {"request_processors": [{TYPE: {"two_phase_parameter": 0.4}}]},
        _search(TOKENS_Q),
    ),
    ("unknown option", {"request_processors": [{TYPE: {"ratio": 0.4}}]}, _search(TOKENS_Q)),
    (
        "negative query token weight",
        _pipeline(),
        _search({"neural_sparse": {"text_sparse": {"query_tokens": {"wing": 1, "lift": -1}}}}),
    ),
]


def two_phase_cases(sides: Sides, known: dict[str, str] | None = None) -> list[Case]:
    """Every two-phase case (the corpus of :mod:`.search_cases` must be indexed)."""
    known = known or {}
    cases = []
    for number, (name, pipeline, body) in enumerate(SEARCHES + BAD):
        case = Case("two_phase", name, known=known.get(name, ""))
        cases.append(search_case(case, sides, pipeline, body, f"diff-two-phase-{number}"))
    return cases
