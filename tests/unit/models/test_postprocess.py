from __future__ import annotations

import numpy as np
import pytest

from processors.errors import ModelError
from processors.models.postprocess import apply_prefix, l2_normalize, pool, sparse_maps
from processors.models.registration import ModelConfig

RNG = np.random.default_rng(7)
TOKENS = RNG.normal(size=(2, 4, 3)).astype(np.float32)
MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=np.int64)


def _expected(mode: str, row: int) -> np.ndarray:
    n = int(MASK[row].sum())
    h = TOKENS[row, :n].astype(np.float64)
    if mode == "mean":
        return h.sum(0) / n
    if mode == "mean_sqrt_len":
        return h.sum(0) / np.sqrt(n)
    if mode == "max":
        return h.max(0)
    if mode == "weightedmean":
        w = np.arange(1, n + 1)[:, None]
        return (h * w).sum(0) / w.sum()
    if mode == "cls":
        return TOKENS[row, 0]
    return TOKENS[row, n - 1]  # lasttoken


@pytest.mark.parametrize(
    "mode", ["mean", "mean_sqrt_len", "max", "weightedmean", "cls", "lasttoken"]
)
def test_pooling_matches_hand_computation(mode: str) -> None:
    got = pool(TOKENS, MASK, mode)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    for row in range(2):
        np.testing.assert_allclose(got[row], _expected(mode, row), rtol=1e-6, atol=1e-6)


def test_pooling_none_needs_pooled_output() -> None:
    with pytest.raises(ModelError, match="pooling_mode none"):
        pool(TOKENS, MASK, "none")


def test_max_pooling_ignores_masked_positions() -> None:
    tokens = np.zeros((1, 2, 1), np.float32)
    tokens[0, 1, 0] = 100.0
    assert pool(tokens, np.array([[1, 0]]), "max")[0, 0] == 0.0


def test_l2_normalize() -> None:
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_sparse_maps_drop_zero_and_empty() -> None:
    vocab = {0: "", 1: "hello", 2: "##ing", 3: "world"}
    weights = np.array([[0.5, 1.0, 0.0, 2.0], [0.0, 0.0, 0.25, 0.0]], np.float32)
    assert sparse_maps(weights, vocab.__getitem__) == [
        {"hello": 1.0, "world": 2.0},
        {"##ing": 0.25},
    ]
    assert sparse_maps(weights[:1], vocab.__getitem__, token_ids=True) == [{"1": 1.0, "3": 2.0}]


def test_sparse_maps_match_a_row_by_row_scan_and_decode_each_id_once() -> None:
    rng = np.random.default_rng(7)
    weights = np.where(rng.random((5, 60)) < 0.2, rng.random((5, 60)), 0).astype(np.float32)
    weights[1, 3] = -0.0  # a negative zero is a zero, as np.flatnonzero has it
    weights[2] = 0  # a row without features
    vocab = {i: ("" if i < 2 else "dup" if i in (40, 50) else f"t{i}") for i in range(60)}
    expected = []
    for row in weights:
        m: dict[str, float] = {}
        for i in np.flatnonzero(row):
            if vocab[int(i)]:
                m[vocab[int(i)]] = float(str(row[i]))  # the float32's shortest decimal
        expected.append(m)
    calls: list[int] = []

    def decode(i: int) -> str:
        calls.append(i)
        return vocab[i]

    names: dict[int, str] = {}
    got = sparse_maps(weights, decode, names=names)
    assert got == expected
    assert [list(m) for m in got] == [list(m) for m in expected]  # same key order: same JSON
    for m, row in zip(got, weights, strict=True):  # the same float32s, written as Java does
        assert all(np.float32(w) in row and repr(w) == str(np.float32(w)) for w in m.values())
    assert got[2] == {}
    assert len(calls) == len(set(calls))  # each id decoded once
    first = len(calls)
    assert sparse_maps(weights, decode, names=names) == expected
    assert len(calls) == first  # the cache carried over: no decode the second time
    assert sparse_maps(np.zeros((0, 60), np.float32), decode) == []


def test_prefixes() -> None:
    cfg = ModelConfig(query_prefix="query: ", passage_prefix="passage: ")
    assert apply_prefix(["a"], cfg, "query") == ["query: a"]
    assert apply_prefix(["a"], cfg, "passage") == ["passage: a"]
    assert apply_prefix(["a"], None, "query") == ["a"]
