"""min_max ``lower_bounds`` / ``upper_bounds`` (3.2+): the plugin's modes, through fuse()."""

from __future__ import annotations

import numpy as np
import pytest

from processors.compat.floats import json_score
from processors.errors import InvalidQueryError
from processors.search.fusion_config import NormalizationConfig
from processors.search.minmax_bounds import Bound, bounded_min_max
from processors.search.normalization import Hit, fuse, normalize

F = np.float32
A = [Hit("d1", 4.0, 1), Hit("d2", 2.0, 2), Hit("d3", 1.0, 3)]
B = [Hit("d2", 10.0, 2), Hit("d3", 5.0, 3), Hit("d4", 1.0, 4)]


def norm(score: float, low: float, high: float, lower: Bound | None, upper: Bound | None) -> float:
    return float(bounded_min_max(F(score), F(low), F(high), lower, upper))


def test_no_bounds_is_plain_min_max() -> None:
    plain = normalize("min_max", [[A, B]])
    bounded = normalize("min_max", [[A, B]], min_max_bounds=((Bound("ignore", 0.0),) * 2, None))
    assert plain == bounded


@pytest.mark.parametrize(
    ("mode", "score", "expected"),
    [
        ("apply", 3.0, (3.0 - 2.0) / (4.0 - 2.0)),  # score above the bound: bound is the minimum
        ("apply", 1.5, (1.5 - 1.0) / (4.0 - 1.0)),  # below it: the real minimum
        ("clip", 1.5, 0.001),  # below a clip bound: MIN_SCORE
        ("clip", 3.0, (3.0 - 2.0) / (4.0 - 2.0)),
        ("ignore", 3.0, (3.0 - 1.0) / (4.0 - 1.0)),
    ],
)
def test_lower_bound_modes(mode: str, score: float, expected: float) -> None:
    assert norm(score, 1.0, 4.0, Bound(mode, 2.0), None) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("mode", "score", "expected"),
    [
        ("apply", 2.0, (2.0 - 1.0) / (3.0 - 1.0)),  # below the bound: bound is the maximum
        ("apply", 3.5, (3.5 - 1.0) / (4.0 - 1.0)),
        ("clip", 3.5, 1.0),  # above a clip bound: 1.0
        ("ignore", 2.0, (2.0 - 1.0) / (4.0 - 1.0)),
    ],
)
def test_upper_bound_modes(mode: str, score: float, expected: float) -> None:
    assert norm(score, 1.0, 4.0, None, Bound(mode, 3.0)) == pytest.approx(expected, rel=1e-6)


def test_single_score_is_one_and_zero_is_min_score() -> None:
    assert norm(2.0, 2.0, 2.0, Bound("clip", 5.0), None) == 1.0
    assert norm(1.0, 1.0, 4.0, None, None) == pytest.approx(0.001)


def test_fuse_uses_the_bounds_of_each_sub_query() -> None:
    body = {"normalization": {"technique": "min_max", "parameters": {
        "lower_bounds": [{"mode": "clip", "min_score": 2.0}, {"mode": "ignore"}]}}}  # fmt: skip
    scores = {
        f.key: json_score(f.score) for f in fuse([[A, B]], NormalizationConfig.from_body(body))
    }
    # d3: A clipped to 0.001, B (5-1)/(10-1); arithmetic mean of the two
    assert scores["d3"] == pytest.approx((0.001 + 4 / 9) / 2, rel=1e-6)


def test_bounds_count_must_match_the_sub_queries() -> None:
    body = {"normalization": {"technique": "min_max", "parameters": {"upper_bounds": [{}] * 3}}}
    with pytest.raises(InvalidQueryError, match="expected bounds array to contain 2 elements"):
        fuse([[A, B]], NormalizationConfig.from_body(body))
