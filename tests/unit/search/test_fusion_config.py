"""normalization-processor / score-ranker-processor bodies: defaults and the plugin's messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from processors.errors import InvalidProcessorConfigError
from processors.search.fusion_config import NormalizationConfig, RRFConfig
from processors.search.minmax_bounds import Bound


def norm_error(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidProcessorConfigError) as info:
        NormalizationConfig.from_body(body)
    return info.value.problems


def rrf_error(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidProcessorConfigError) as info:
        RRFConfig.from_body(body)
    return info.value.problems


def test_normalization_defaults() -> None:
    cfg = NormalizationConfig.from_body({"tag": "t", "description": "d", "ignore_failure": True})
    assert cfg == NormalizationConfig("min_max", "arithmetic_mean", (), 60, "t", "d", True)


def test_weights_are_float32() -> None:
    cfg = NormalizationConfig.from_body(
        {
            "normalization": {"technique": "l2"},
            "combination": {"technique": "harmonic_mean", "parameters": {"weights": [0.3, 0.7]}},
        }
    )
    assert cfg.technique == "l2" and cfg.combination == "harmonic_mean"
    assert cfg.weights == (np.float32(0.3), np.float32(0.7))
    assert all(isinstance(w, np.float32) for w in cfg.weights)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"normalization": {"technique": "max"}},
            ("normalization.technique", "provided normalization technique is not supported"),
        ),
        (
            {"combination": {"technique": "mean"}},
            ("combination.technique", "provided combination technique is not supported"),
        ),
        (
            {"combination": {"parameters": {"weights": 0.5}}},
            (
                "combination.parameters.weights",
                "parameter [weights] must be a collection of numbers",
            ),
        ),
        (
            {"combination": {"parameters": {"weights": ["a"]}}},
            (
                "combination.parameters.weights",
                "parameter [weights] must be a collection of numbers",
            ),
        ),
        (
            {"combination": {"parameters": {"weights": [0.5, 1.5]}}},
            (
                "combination.parameters.weights",
                "all weights must be in range [0.0 ... 1.0], submitted weights: [0.5, 1.5]",
            ),
        ),
        (
            {"combination": {"parameters": {"weights": [0.3, 0.3]}}},
            (
                "combination.parameters.weights",
                "sum of weights for combination must be equal to 1.0, submitted weights: [0.3, 0.3]",
            ),
        ),
        (
            {"combination": {"parameters": {"weight": [1.0]}}},
            (
                "combination.parameters",
                "provided parameter for combination technique is not supported. supported parameters are [weights]",
            ),
        ),
        (
            {"normalization": {"technique": "l2", "parameters": {"x": 1}}},
            ("normalization.parameters", "unrecognized parameters in normalization technique"),
        ),
        (
            {"normalization": "min_max"},
            (
                "normalization",
                "[normalization] property isn't a map, but of type [java.lang.String]",
            ),
        ),
        (
            {"normalization": {"technique": 3}},
            (
                "normalization.technique",
                "[technique] property isn't a string, but of type [java.lang.Integer]",
            ),
        ),
        (
            {
                "normalization": {"technique": "z_score"},
                "combination": {"technique": "harmonic_mean"},
            },
            (
                "combination.technique",
                "provided combination technique harmonic_mean is not supported for normalization technique z_score. Supported techniques are: arithmetic_mean",
            ),
        ),
        (
            {"combine": {}},
            (
                "combine",
                "processor [normalization-processor] doesn't support one or more provided configuration parameters [combine]",
            ),
        ),
        (
            {"ignore_failure": "yes"},
            (
                "ignore_failure",
                "[ignore_failure] property isn't a boolean, but of type [java.lang.String]",
            ),
        ),
    ],
)
def test_normalization_validation(body: dict[str, Any], problem: tuple[str, str]) -> None:
    assert problem in norm_error(body)


def test_weights_sum_tolerance_is_0_01() -> None:
    assert NormalizationConfig.from_body({"combination": {"parameters": {"weights": [0.5, 0.495]}}})
    assert norm_error({"combination": {"parameters": {"weights": [0.5, 0.489]}}})


def test_every_problem_is_reported() -> None:
    problems = norm_error({"normalization": {"technique": "x"}, "combination": {"technique": "y"}})
    assert [path for path, _ in problems] == ["normalization.technique", "combination.technique"]


def test_typo_inside_a_section_is_an_error() -> None:
    (problem,) = norm_error({"combination": {"technique": "arithmetic_mean", "parameter": {}}})
    assert problem[0] == "combination.parameter"


def test_min_max_bounds_are_read() -> None:
    params = {"upper_bounds": [{}], "lower_bounds": [{"mode": "Clip", "min_score": "0.25"}]}
    body = {"normalization": {"technique": "min_max", "parameters": params}}
    cfg = NormalizationConfig.from_body(body)
    assert cfg.upper_bounds == (Bound("apply", 1.0),)
    assert cfg.lower_bounds == (Bound("clip", 0.25),)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lower_bounds": [{"mode": "cut"}]}, "invalid mode: cut, valid values are: apply, clip, ignore"),
        ({"lower_bounds": {"mode": "clip"}}, "lower_bounds must be a List"),
        ({"upper_bounds": [{}] * 6}, "upper_bounds size 6 should be less than or equal to 5"),
        ({"upper_bounds": [{"min_score": 1}]}, "unrecognized parameters in normalization technique"),
        ({"lower_bounds": ["clip"]}, "unrecognized parameters in normalization technique"),
        ({"bounds": []}, "unrecognized parameters in normalization technique"),
        ({"lower_bounds": [{"min_score": "x"}]}, "invalid format for min_score: must be a valid float value"),
        (
            {"lower_bounds": [{"min_score": -10001}]},
            "min_score must be a valid finite number between -10000.000000 and 10000.000000",
        ),
    ],
)  # fmt: skip
def test_min_max_bounds_errors(params: dict[str, object], message: str) -> None:
    body = {"normalization": {"technique": "min_max", "parameters": params}}
    (problem,) = norm_error(body)
    assert problem == ("normalization.parameters", message)


def test_rrf_normalization_takes_a_rank_constant() -> None:
    body = {"normalization": {"technique": "rrf", "parameters": {"rank_constant": 5}}}
    assert NormalizationConfig.from_body(body).rank_constant == 5


def test_rrf_defaults() -> None:
    cfg = RRFConfig.from_body({})
    assert (cfg.technique, cfg.combination, cfg.rank_constant, cfg.weights) == (
        "rrf",
        "rrf",
        60,
        (),
    )


@pytest.mark.parametrize(
    "combination",
    [
        {"rank_constant": 100},
        {"rank_constant": "100"},
        {"rank_constant": "0x64"},
    ],
)
def test_rrf_rank_constant_forms(combination: dict[str, Any]) -> None:
    assert (
        RRFConfig.from_body({"combination": {"technique": "rrf", **combination}}).rank_constant
        == 100
    )


@pytest.mark.parametrize(
    ("combination", "message"),
    [
        (
            {"rank_constant": 0},
            "rank constant must be in the interval between 1 and 10000, submitted rank constant: 0",
        ),
        (
            {"rank_constant": 10_001},
            "rank constant must be in the interval between 1 and 10000, submitted rank constant: 10001",
        ),
        ({"rank_constant": 60.0}, "parameter [rank_constant] must be an integer"),
        ({"rank_constant": "sixty"}, "parameter [rank_constant] must be an integer"),
        (
            {"parameters": {"rank_constant": 2}},
            "provided parameter for combination technique is not supported. "
            "supported parameters are [weights]",
        ),
        (
            {"parameters": {"weights": [0.6, 0.6]}},
            "sum of weights for combination must be equal to 1.0, submitted weights: [0.6, 0.6]",
        ),
        ({"technique": "borda"}, "provided combination technique is not supported"),
    ],
)
def test_rrf_validation(combination: dict[str, Any], message: str) -> None:
    assert message in [m for _, m in rrf_error({"combination": combination})]


def test_rrf_weights() -> None:
    cfg = RRFConfig.from_body({"combination": {"parameters": {"weights": [0.7, 0.3]}}})
    assert cfg.weights == (np.float32(0.7), np.float32(0.3))


def test_rrf_unknown_processor_key() -> None:
    (problem,) = rrf_error({"normalization": {}})
    assert problem == (
        "normalization",
        "processor [score-ranker-processor] doesn't support one or more provided configuration parameters [normalization]",
    )
