"""int8 builds give a text the same output alone or in any batch (per-row activation scales)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import numpy as np
import pytest

from processors.models.build.builder import BuildResult
from processors.models.loader import LoadedModel
from processors.models.runtimes import DEFAULT_TOKEN_BUDGET, CrossRuntime, DenseRuntime

TEXTS = [
    "paris",
    "the quick brown fox jumps over the lazy dog and the cat in the city of paris",
    "rain",
    "high speed air flow over a wing with a shock wave and a boundary layer of air",
    "a small dog",
    "what is the capital of france",
    "test data for a dense vector search model with sparse and dense query text",
    "hello world",
]


@pytest.fixture
def one_batch(tiny_models: dict[str, LoadedModel]) -> Iterator[dict[str, LoadedModel]]:
    """The int8 runtimes with a budget that puts every text of a call in one padded batch."""
    keys = ("embed-onnx-int8", "cross-onnx-int8")
    budgets = {key: tiny_models[key].token_budget for key in keys}
    for key in keys:
        tiny_models[key].token_budget = 1 << 20
    yield tiny_models
    for key, budget in budgets.items():
        tiny_models[key].token_budget = budget


@pytest.mark.parametrize("size", [2, 3, 5, len(TEXTS)])
def test_int8_embedding_does_not_depend_on_the_batch(
    one_batch: dict[str, LoadedModel], size: int
) -> None:
    model = one_batch["embed-onnx-int8"]
    assert isinstance(model, DenseRuntime)
    alone = np.concatenate([model.embed([t]) for t in TEXTS])
    order = np.random.default_rng(size).permutation(len(TEXTS))
    for start in range(0, len(TEXTS), size):
        idx = order[start : start + size]
        batched = model.embed([TEXTS[i] for i in idx])
        cosine = (batched * alone[idx]).sum(axis=1)
        assert cosine.min() >= 0.99999, (size, float(cosine.min()))
        np.testing.assert_allclose(batched, alone[idx], atol=1e-5)


def test_int8_cross_encoder_does_not_depend_on_the_batch(
    one_batch: dict[str, LoadedModel],
) -> None:
    model = one_batch["cross-onnx-int8"]
    assert isinstance(model, CrossRuntime)
    alone = np.array([model.score("what is paris", [t])[0] for t in TEXTS])
    for size in (2, 3, len(TEXTS)):
        for start in range(0, len(TEXTS), size):
            got = model.score("what is paris", TEXTS[start : start + size])
            np.testing.assert_allclose(got, alone[start : start + size], atol=1e-5)


def test_int8_embedding_stays_close_to_fp32(tiny_models: dict[str, LoadedModel]) -> None:
    fp32, int8 = tiny_models["embed-onnx"], tiny_models["embed-onnx-int8"]
    assert isinstance(fp32, DenseRuntime) and isinstance(int8, DenseRuntime)
    cosine = (fp32.embed(TEXTS) * int8.embed(TEXTS)).sum(axis=1)
    assert cosine.min() >= 0.99, float(cosine.min())


@pytest.mark.parametrize("key", ["embed-onnx-int8", "cross-onnx-int8"])
def test_int8_graph_has_per_row_scales_only(tiny_zips: dict[str, BuildResult], key: str) -> None:
    import onnx

    with zipfile.ZipFile(tiny_zips[key].zip_path) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".onnx")]
        graph = onnx.load_from_string(zf.read(name)).graph
    ops = {n.op_type for n in graph.node}
    assert "DynamicQuantizeLinear" not in ops and "QAttention" not in ops
    assert {"MatMulIntegerToFloat", "MultiHeadAttention", "QuantizeLinear"} <= ops
    assert "MatMulInteger" not in ops  # dequantized in the GEMM (MatMulIntegerToFloat)


def test_int8_embedding_build_runs_in_its_own_smaller_batches(
    tiny_models: dict[str, LoadedModel],
) -> None:
    # the graph's neuralpipe.token_budget metadata; no other build carries one
    assert tiny_models["embed-onnx-int8"].token_budget == 512
    assert tiny_models["embed-onnx"].token_budget == DEFAULT_TOKEN_BUDGET
    assert tiny_models["cross-onnx-int8"].token_budget == DEFAULT_TOKEN_BUDGET


@pytest.mark.parametrize("key", ["embed-onnx-int8", "embed-onnx"])
def test_batches_side_by_side_give_what_one_batch_alone_gives(
    tiny_models: dict[str, LoadedModel], key: str
) -> None:
    # a small budget: several batches per call, which the ONNX runner runs side by side on
    # one-thread sessions (run_many); a text alone goes through the all-threads session (run)
    model = tiny_models[key]
    assert isinstance(model, DenseRuntime)
    runner = model.runner
    workers, runner.workers = runner.workers, 2  # type: ignore[attr-defined]
    budget, model.token_budget = model.token_budget, 24
    try:
        alone = np.concatenate([model.embed([t]) for t in TEXTS])
        many = model.embed(TEXTS * 3)
    finally:
        model.token_budget, runner.workers = budget, workers  # type: ignore[attr-defined]
    assert runner._single is not None  # type: ignore[attr-defined]  # run_many was used
    np.testing.assert_allclose(many, np.concatenate([alone] * 3), atol=1e-5)
    assert float((many * np.concatenate([alone] * 3)).sum(axis=1).min()) >= 0.99999
