"""``neural_sparse_two_phase_processor``: options, the token split, the rewritten request."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from processors.config.search_body import parse_search_pipeline
from processors.errors import ConfigError, InvalidProcessorConfigError, InvalidQueryError
from processors.pipeline.search import SearchPipeline
from processors.search.neural_sparse_two_phase import (
    SEISMIC,
    TwoPhaseConfig,
    apply_two_phase,
    split_tokens,
)
from processors.search.rewrite import parse_clauses, rewrite_clauses
from processors.testing.fakes import CountSparseEncoder
from tests.unit.search.test_search_pipeline import Client

TOKENS = {"a": 4.0, "b": 1.0, "c": 3.0, "d": 0.5}


def _sparse(boost: float | None = None, **tokens: float) -> dict[str, Any]:
    params: dict[str, Any] = {"query_tokens": tokens or TOKENS}
    if boost is not None:
        params["boost"] = boost
    return {"neural_sparse": {"s": params}}


def _features(query: dict[str, Any]) -> dict[str, float]:
    return {c["rank_feature"]["field"]: c["rank_feature"]["boost"] for c in query["bool"]["should"]}


def _rewrite(body: dict[str, Any], config: TwoPhaseConfig, size: int | None = None) -> Any:
    found = apply_two_phase(parse_clauses(body), config, body, size)
    rewrite_clauses(found, lambda _: CountSparseEncoder())
    return body


def test_defaults_are_the_plugins() -> None:
    config = TwoPhaseConfig.from_body({})
    assert (config.enabled, config.prune_type, config.prune_ratio) == (True, "max_ratio", 0.4)
    assert (config.expansion_rate, config.max_window_size) == (5.0, 10_000)
    assert config.window_size(None) == 50 and config.window_size(7) == 35


@pytest.mark.parametrize(
    ("prune_type", "ratio", "high"),
    [
        ("max_ratio", 0.5, {"a", "c"}),
        ("top_k", 1, {"a"}),
        ("abs_value", 1.0, {"a", "b", "c"}),
        ("alpha_mass", 0.6, {"a"}),
        ("none", 0.4, {"a", "b", "c", "d"}),
    ],
)
def test_split_keeps_the_high_tokens_and_returns_the_rest(
    prune_type: str, ratio: float, high: set[str]
) -> None:
    kept, pruned = split_tokens(TOKENS, prune_type, ratio)
    assert set(kept) == high and set(pruned) == set(TOKENS) - high
    assert {**kept, **pruned} == TOKENS


def test_split_refuses_non_positive_weights() -> None:
    with pytest.raises(InvalidQueryError, match="Pruned values must be positive"):
        split_tokens({"a": 1.0, "b": 0.0}, "max_ratio", 0.4)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"two_phase_parameter": {"prune_ratio": 1.2}},
            "Illegal prune_ratio 1.200000 for prune_type: max_ratio. prune_ratio should be in the "
            "range [0, 1).",
        ),
        (
            {"two_phase_parameter": {"prune_type": "top_k", "prune_ratio": 2.5}},
            "Illegal prune_ratio 2.500000 for prune_type: top_k. prune_ratio should be positive "
            "integer.",
        ),
        ({"two_phase_parameter": {"prune_type": "top_p"}}, "Unknown prune type: top_p"),
        (
            {"two_phase_parameter": {"expansion_rate": 0.5}},
            "The two_phase_parameter.expansion_rate must >= 1.0. Received: 0.500000",
        ),
        (
            {"two_phase_parameter": {"max_window_size": 49.9}},
            "The two_phase_parameter.max_window_size must >= 50. Received: \n49",
        ),
        (
            {"two_phase_parameter": {"prune_ratio": "abc"}},
            "class java.lang.String cannot be cast to class java.lang.Number",
        ),
        (
            {"two_phase_parameter": 0.4},
            "[two_phase_parameter] property isn't a map, but of type [java.lang.Double]",
        ),
        ({"enabled": "yes"}, "[enabled] property isn't a boolean, but of type [java.lang.String]"),
        (
            {"ratio": 1},
            "processor [neural_sparse_two_phase_processor] doesn't support one or "
            "more provided configuration parameters: [ratio]",
        ),
    ],
)
def test_bad_options_get_the_plugins_message(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        TwoPhaseConfig.from_body(body)
    assert str(caught.value).startswith(message)


def test_a_pipeline_body_takes_it_as_a_request_processor() -> None:
    spec = parse_search_pipeline(
        "p", {"request_processors": [{"neural_sparse_two_phase_processor": {"tag": "t"}}]}
    )
    assert spec.request[0].config == TwoPhaseConfig(tag="t")
    with pytest.raises(ConfigError, match=r"p.request_processors\[0\].*two_phase_parameter"):
        parse_search_pipeline(
            "p",
            {
                "request_processors": [
                    {"neural_sparse_two_phase_processor": {"two_phase_parameter": []}}
                ]
            },
        )


def test_top_level_clause_keeps_high_tokens_and_rescores_the_low_ones() -> None:
    config = TwoPhaseConfig(prune_ratio=0.5, expansion_rate=2.0)
    body = _rewrite({"size": 3, "query": _sparse(boost=2.0)}, config)
    assert _features(body["query"]) == {"s.a": 4.0, "s.c": 3.0}
    assert body["query"]["bool"]["boost"] == 2.0
    [rescore] = body["rescore"]
    assert rescore["window_size"] == 6
    [copy_] = rescore["query"]["rescore_query"]["bool"]["should"]
    assert _features(copy_) == {"s.b": 1.0, "s.d": 0.5}
    assert copy_["bool"]["boost"] == 2.0


def test_bool_should_boosts_multiply_equal_clauses_merge_and_must_is_left_alone() -> None:
    body = {
        "query": {
            "bool": {
                "boost": 2.0,
                "should": [
                    {"bool": {"boost": 0.5, "should": [_sparse()]}},
                    _sparse(boost=3.0),
                    {"bool": {"must": [_sparse(x=1.0, y=0.1)]}},
                ],
            }
        }
    }
    out = _rewrite(body, TwoPhaseConfig(prune_ratio=0.5))
    should = out["query"]["bool"]["should"]
    assert _features(should[0]["bool"]["should"][0]) == {"s.a": 4.0, "s.c": 3.0}
    assert _features(should[2]["bool"]["must"][0]) == {"s.x": 1.0, "s.y": 0.1}  # not split
    [copy_] = out["rescore"][0]["query"]["rescore_query"]["bool"]["should"]
    assert copy_["bool"]["boost"] == 2.0 * 0.5 + 2.0 * 3.0  # one copy, boosts summed
    assert out["rescore"][0]["window_size"] == 50


def test_the_requests_own_rescorers_come_first_and_weigh_the_copy() -> None:
    own = {"window_size": 5, "query": {"rescore_query": {"match_all": {}}, "query_weight": 0.5}}
    body = _rewrite({"query": _sparse(), "rescore": own}, TwoPhaseConfig(), size=4)
    assert body["rescore"][0] == own
    assert body["rescore"][1]["window_size"] == 20  # the URL's size
    assert body["rescore"][1]["query"]["rescore_query"]["bool"]["boost"] == 0.5


@pytest.mark.parametrize("config", [TwoPhaseConfig(enabled=False), TwoPhaseConfig(prune_ratio=0)])
def test_disabled_or_ratio_zero_changes_nothing(config: TwoPhaseConfig) -> None:
    body = _rewrite({"query": _sparse()}, config)
    assert "rescore" not in body and len(_features(body["query"])) == 4


def test_model_tokens_are_split_after_inference() -> None:
    body = {
        "query": {"neural_sparse": {"s": {"query_text": "wing wing wing lift", "model_id": "m"}}}
    }
    out = _rewrite(body, TwoPhaseConfig(prune_ratio=0.9))
    assert list(_features(out["query"])) == ["s.wing"]
    [copy_] = out["rescore"][0]["query"]["rescore_query"]["bool"]["should"]
    assert list(_features(copy_)) == ["s.lift"]


def test_a_window_above_max_window_size_is_refused_unless_failures_are_ignored() -> None:
    with pytest.raises(InvalidQueryError) as caught:
        _rewrite({"size": 3000, "query": _sparse()}, TwoPhaseConfig())
    assert str(caught.value) == (
        "The two-phase window size of neural_sparse_two_phase_processor should be [0,10000], "
        "but get the value of 15000"
    )
    body = _rewrite({"size": 3000, "query": _sparse()}, TwoPhaseConfig(ignore_failure=True))
    assert "rescore" not in body and len(_features(body["query"])) == 2


def test_search_pipeline_sends_the_split_query_with_its_rescore() -> None:
    spec = parse_search_pipeline(
        "p",
        {
            "request_processors": [
                {"neural_sparse_two_phase_processor": {"two_phase_parameter": {"prune_ratio": 0.5}}}
            ]
        },
    )
    client = Client()
    pipeline = SearchPipeline(spec, models=lambda _: CountSparseEncoder(), client=client)
    sent = pipeline.node_request("idx", {"query": _sparse()}, params={"size": "2"})
    assert sent is not None and sent["rescore"][0]["window_size"] == 10
    pipeline.search("idx", {"query": _sparse()})
    assert client.searches[-1][1]["rescore"][0]["window_size"] == 50


def test_sparse_vector_fields_are_refused() -> None:
    from processors.search.neural_sparse_two_phase import TwoPhaseSparseQuery

    query = TwoPhaseSparseQuery.parse({"s": {"query_tokens": {"1": 1.0}}})
    assert isinstance(query, TwoPhaseSparseQuery)
    with pytest.raises(InvalidQueryError, match=SEISMIC.replace("[", r"\[")):
        query.on_sparse_vector(object(), None).to_query({"1": 1.0})  # type: ignore[arg-type]


def test_the_request_as_written_is_not_changed_by_a_search() -> None:
    spec = parse_search_pipeline(
        "p", {"request_processors": [{"neural_sparse_two_phase_processor": {}}]}
    )
    body = {"query": _sparse()}
    before = copy.deepcopy(body)
    SearchPipeline(spec, models=lambda _: CountSparseEncoder(), client=Client()).search("i", body)
    assert body == before
