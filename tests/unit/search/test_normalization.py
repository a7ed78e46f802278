"""Hybrid fusion arithmetic: every technique, the reference's worked example, the plugin's quirks."""

from __future__ import annotations

import math
import statistics
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

from processors.compat.floats import json_score
from processors.errors import InvalidQueryError
from processors.search.fusion_config import FusionConfig, NormalizationConfig, RRFConfig
from processors.search.normalization import (
    Hit,
    combine,
    fuse,
    java_hashmap_order,
    normalize,
    rrf_score,
)

F = np.float32
# Reference §9.6: A returns d1=4, d2=2, d3=1; B returns d2=10, d3=5, d4=1 (doc ids 1..4).
A = [Hit("d1", 4.0, 1), Hit("d2", 2.0, 2), Hit("d3", 1.0, 3)]
B = [Hit("d2", 10.0, 2), Hit("d3", 5.0, 3), Hit("d4", 1.0, 4)]


def fused(config: FusionConfig, a: list[Hit] = A, b: list[Hit] = B) -> list[tuple[Any, float]]:
    return [(f.key, json_score(f.score)) for f in fuse([[a, b]], config)]


NORM = NormalizationConfig.from_body
RRF = RRFConfig.from_body
# Rows of the worked example whose printed values the float32 arithmetic reproduces digit for digit.
EXACT_ROWS = [
    (NORM({}), [("d2", 0.6666667), ("d1", 0.5), ("d3", 0.22272222), ("d4", 0.0005)]),
    (
        NORM({"normalization": {"technique": "z_score"}}),
        [("d1", 0.54554474), ("d2", 0.5179549), ("d3", 0.001), ("d4", 0.0005)],
    ),
    (
        RRF({}),
        [("d2", 0.032522473), ("d3", 0.032002047), ("d1", 0.016393442), ("d4", 0.015873017)],
    ),
    (
        RRF({"combination": {"rank_constant": 1}}),
        [("d2", 0.8333334), ("d3", 0.5833334), ("d1", 0.5), ("d4", 0.25)],
    ),
    (
        RRF({"combination": {"rank_constant": 60, "parameters": {"weights": [0.7, 0.3]}}}),
        [("d2", 0.016208354), ("d3", 0.015949821), ("d1", 0.011475409), ("d4", 0.0047619054)],
    ),
]
# Rows where the reference prints a value one float32 step away (it rounded a product or a
# logarithm in double, or cut digits); the plugin's float arithmetic gives ours, checked by hand:
# 0.001f * 0.7f = 0.000700000021 -> nearest float 0.00070000003; (float) ln(0.001f) loses bits,
# exp of it is 0.0009999999; 2 / (1000 + 2.25) = 0.0019955102; 0.5 / sqrt(126) = 0.044543542.
ROUNDED_ROWS = [
    (
        NORM({"combination": {"parameters": {"weights": [0.3, 0.7]}}}),
        [("d2", 0.8), ("d3", 0.3114111), ("d1", 0.3), ("d4", 0.00070000003)],
        [0.8, 0.3114111, 0.3, 0.0007],
    ),
    (
        NORM({"combination": {"technique": "geometric_mean"}}),
        [("d1", 1.0), ("d2", 0.57735026), ("d3", 0.02108185), ("d4", 0.0009999999)],
        [1.0, 0.57735026, 0.02108185, 0.001],
    ),
    (
        NORM({"combination": {"technique": "harmonic_mean"}}),
        [("d1", 1.0), ("d2", 0.5), ("d3", 0.0019955102), ("d4", 0.001)],
        [1.0, 0.5, 0.0019955, 0.001],
    ),
    (
        NORM({"normalization": {"technique": "l2"}}),
        [("d2", 0.66365325), ("d1", 0.43643576), ("d3", 0.33182663), ("d4", 0.044543542)],
        [0.66365325, 0.43643576, 0.33182663, 0.04454354],
    ),
]


@pytest.mark.parametrize(("config", "expected"), EXACT_ROWS)
def test_worked_example_exact_rows(config: FusionConfig, expected: list[tuple[str, float]]) -> None:
    assert fused(config) == expected


@pytest.mark.parametrize(("config", "expected", "printed"), ROUNDED_ROWS)
def test_worked_example_rows_printed_rounded(
    config: FusionConfig, expected: list[tuple[str, float]], printed: list[float]
) -> None:
    result = fused(config)
    assert result == expected
    for (_, ours), theirs in zip(result, printed, strict=True):
        assert ours == pytest.approx(theirs, rel=2e-7, abs=1e-7)


def test_worked_example_size_two_collects_two_hits_per_sub_query() -> None:
    assert fused(NORM({}), A[:2], B[:2]) == [("d2", 0.5005), ("d1", 0.5), ("d3", 0.0005)]


def test_worked_example_bounds_row() -> None:
    body = {
        "normalization": {
            "technique": "min_max",
            "parameters": {
                "lower_bounds": [{"mode": "apply", "min_score": 0.0}, {"mode": "ignore"}]
            },
        }
    }
    expected = [("d2", 0.75), ("d1", 0.5), ("d3", 0.3472222), ("d4", 0.0005)]
    assert [(k, pytest.approx(v, rel=1e-6)) for k, v in expected] == fused(NORM(body))


def test_min_max_single_and_equal_scores_are_one() -> None:
    assert normalize("min_max", [[[Hit("a", 3.0)]]]) == [[[F(1.0)]]]
    assert normalize("min_max", [[[Hit("a", 2.0), Hit("b", 2.0)]]]) == [[[F(1.0), F(1.0)]]]


def test_min_max_lowest_score_becomes_0_001() -> None:
    assert normalize("min_max", [[[Hit("a", 3.0), Hit("b", 1.0)]]]) == [[[F(1.0), F(0.001)]]]


def test_min_max_max_starts_at_float_min_value() -> None:
    """The plugin seeds max with Float.MIN_VALUE (the smallest positive float): negative scores."""
    ((row,),) = normalize("min_max", [[[Hit("a", -1.0), Hit("b", -2.0)]]])
    assert row == [F(0.5), F(0.001)]


def test_min_max_and_l2_statistics_span_all_shards() -> None:
    shards = [[[Hit("a", 4.0, 0)]], [[Hit("b", 2.0, 0), Hit("c", 1.0, 1)]]]
    assert normalize("min_max", shards) == [[[F(1.0)]], [[F(F(1.0) / F(3.0)), F(0.001)]]]
    norm = F(math.sqrt(float(F(F(16) + F(4)) + F(1))))
    assert normalize("l2", shards)[1][0] == [F(F(2.0) / norm), F(F(1.0) / norm)]


def test_l2_zero_norm_gives_zero() -> None:
    assert normalize("l2", [[[Hit("a", 0.0)]]]) == [[[F(0.0)]]]


def test_z_score_uses_the_sample_standard_deviation() -> None:
    scores = [9.5, 7.25, 3.0, 2.5, 1.75]
    ((row,),) = normalize("z_score", [[[Hit(i, s) for i, s in enumerate(scores)]]])
    mean, std = F(statistics.fmean(scores)), F(statistics.stdev(scores))
    expected = [F((F(s) - mean) / std) for s in scores]
    assert row == [e if e > 0 else F(0.001) for e in expected]


def test_z_score_single_hit_keeps_its_raw_score() -> None:
    assert normalize("z_score", [[[Hit("a", 7.5)]]]) == [[[F(7.5)]]]


def test_rrf_reciprocal_is_rounded_half_up_to_ten_decimals() -> None:
    for k, position in [(60, 0), (60, 4), (1, 0), (10_000, 0), (3, 2)]:
        exact = (Decimal(1) / Decimal(k + position + 1)).quantize(Decimal("1E-10"), ROUND_HALF_UP)
        assert rrf_score(k, position) == F(str(exact))
    assert rrf_score(60, 0) == F(0.0163934426)


def test_rrf_ranks_are_per_shard() -> None:
    shards = [[[Hit("a", 9.0, 0), Hit("b", 1.0, 1)]], [[Hit("c", 0.1, 0)]]]
    assert normalize("rrf", shards) == [
        [[rrf_score(60, 0), rrf_score(60, 1)]],
        [[rrf_score(60, 0)]],
    ]


def test_arithmetic_mean_counts_missing_sub_queries_as_zero() -> None:
    assert combine("arithmetic_mean", [F(0.8), F(0.0)], ()) == F(0.4)
    assert combine("arithmetic_mean", [F(0.8), F(0.0)], (F(0.25), F(0.75))) == F(F(0.8) * F(0.25))


def test_geometric_and_harmonic_skip_missing_sub_queries() -> None:
    assert combine("geometric_mean", [F(0.8), F(0.0)], ()) == F(0.8)
    assert combine("harmonic_mean", [F(0.8), F(0.0)], ()) == F(0.8)
    assert combine("geometric_mean", [F(0.0), F(0.0)], ()) == F(0.0)
    assert combine("harmonic_mean", [F(0.0), F(0.0)], ()) == F(0.0)


def test_weighted_geometric_mean_in_double_then_float() -> None:
    weights = (F(0.25), F(0.75))
    ln_sum = F(float(F(0.25)) * math.log(float(F(0.5))))
    ln_sum = F(float(ln_sum) + float(F(0.75)) * math.log(float(F(0.2))))
    expected = F(math.exp(float(F(ln_sum / F(1.0)))))
    assert combine("geometric_mean", [F(0.5), F(0.2)], weights) == expected


def test_rrf_combination_sums_without_dividing() -> None:
    assert combine("rrf", [F(0.25), F(0.5)], ()) == F(0.75)
    assert combine("rrf", [F(0.25), F(0.5)], (F(0.5), F(0.5))) == F(0.375)


def test_weights_must_match_the_sub_query_count() -> None:
    with pytest.raises(InvalidQueryError) as info:
        combine("arithmetic_mean", [F(1.0)] * 3, (F(1.0),))
    assert (
        str(info.value)
        == "number of weights [1] must match number of sub-queries [3] in hybrid query"
    )


def test_hashmap_order_puts_new_keys_at_the_head_of_their_bin() -> None:
    assert java_hashmap_order([1, 17]) == [17, 1]
    assert java_hashmap_order([17, 1]) == [1, 17]


def test_hashmap_order_after_resizes_is_by_bucket() -> None:
    assert java_hashmap_order(range(15, -1, -1)) == list(range(16))
    assert java_hashmap_order([8, 24]) == [24, 8]  # 16 buckets: both in bin 8, newest first
    order = java_hashmap_order([8, 24, *range(100, 113)])  # call 14 sees size 13 > 12: 32 bins
    assert len(order) == 15 and order.index(8) < order.index(24)


def test_combined_ties_keep_hashmap_order() -> None:
    """RRF ties (rank 1 in A only vs rank 1 in B only) come out in the plugin's HashMap order."""

    def order(doc_x: int, doc_y: int) -> list[Any]:
        a, b = [Hit("x", 5.0, doc_x)], [Hit("y", 3.0, doc_y)]
        return [f.key for f in fuse([[a, b]], RRF({}))]

    assert order(5, 3) == ["y", "x"]  # different bins: by doc id
    assert order(3, 5) == ["x", "y"]
    assert order(1, 17) == ["y", "x"]  # one bin (17 % 16 == 1): the later insert comes first


def test_shards_merge_by_score_then_shard() -> None:
    shards = [[[Hit("s0", 1.0, 0)], []], [[Hit("s1", 1.0, 0)], []]]
    result = fuse(shards, RRF({}))
    assert [(f.key, f.shard) for f in result] == [("s0", 0), ("s1", 1)]
    assert result[0].score == result[1].score == rrf_score(60, 0)


def test_fused_hits_carry_raw_and_normalized_scores() -> None:
    first = fuse([[A, B]], NORM({}))[0]
    assert (first.key, first.doc, first.shard) == ("d2", 2, 0)
    assert first.raw == (F(2.0), F(10.0))
    assert first.normalized == (F(F(1.0) / F(3.0)), F(1.0))
    last = fuse([[A, B]], NORM({}))[-1]
    assert last.raw == (None, F(1.0)) and last.normalized == (None, F(0.001))
