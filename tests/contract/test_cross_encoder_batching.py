"""Cross-encoder runtime: length-sorted batches under a token budget, the int8 build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processors.models.build.builder import BuildResult
from processors.models.loader import LoadedModel, load_model
from processors.models.runtimes import CROSS_TOKEN_BUDGET, PAD_SLACK, CrossRuntime

QUERY = "what is the capital of france"
DOCS = [
    "paris",
    "the quick brown fox jumps over the lazy dog and the cat in the city of paris",
    "rain",
    "paris is the capital and a large city of france on a river",
    "a small dog",
    "high speed air flow over a wing with a shock wave and a boundary layer",
    "test data",
]


def _hf_logits(source: Path, model: CrossRuntime, texts: list[str]) -> list[float]:
    """The unoptimised transformers model, one pair at a time (no padding at all)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    hf = AutoModelForSequenceClassification.from_pretrained(str(source)).eval()
    out = []
    for text in texts:
        feed = model.tokenizer.encode_pairs(QUERY, [text]).feed(
            ["input_ids", "attention_mask", "token_type_ids"]
        )
        with torch.no_grad():
            out.append(float(hf(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits[0, 0]))
    return out


@pytest.mark.parametrize("budget", [16, 40, 2048])
def test_length_sorted_batches_give_scores_in_input_order(
    tiny_zips: dict[str, BuildResult], tiny_root: Path, tiny_sources: Path, budget: int
) -> None:
    built = tiny_zips["cross-onnx"]
    model = load_model(
        built.zip_path,
        built.registration,
        cache_dir=tiny_root / "extracted",
        token_budget=budget,
        threads=1,  # batches one after the other through run(), which the spy sees
    )
    assert isinstance(model, CrossRuntime)
    shapes: list[tuple[int, ...]] = []
    shortest: list[int] = []
    run = model.runner.run

    def spy(feed: dict[str, Any]) -> Any:
        shapes.append(feed["input_ids"].shape)
        shortest.append(int(feed["attention_mask"].sum(axis=1).min()))
        return run(feed)

    model.runner.run = spy  # type: ignore[method-assign]
    scores = model.score(QUERY, DOCS)
    widths = [s[1] for s in shapes]
    assert widths == sorted(widths, reverse=True)  # longest first: the batches were sorted
    cap = min(budget, CROSS_TOKEN_BUDGET)
    assert all(b * w <= cap or b == 1 for b, w in shapes)
    # tight batches: no row padded by more than PAD_SLACK of its batch's longest
    assert all(n >= (1 - PAD_SLACK) * w for n, (_, w) in zip(shortest, shapes, strict=True))
    if budget < 2048:
        assert len(shapes) > 1
    expected = _hf_logits(tiny_sources / "cross", model, DOCS)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    single = [model.score(QUERY, [d])[0] for d in DOCS]
    np.testing.assert_allclose(scores, single, atol=1e-5)


def test_int8_cross_encoder_build_reports_quality_and_stays_close(
    tiny_zips: dict[str, BuildResult], tiny_models: dict[str, LoadedModel]
) -> None:
    built = tiny_zips["cross-onnx-int8"]
    assert built.model_id == "tiny-cross-onnx-int8"
    assert built.registration.function_name.value == "TEXT_SIMILARITY"
    quality = built.quality
    assert quality is not None
    assert set(quality) == {
        "max_abs_logit_diff",
        "mean_top5_overlap",
        "min_top5_overlap",
        "queries",
        "sentences",
    }
    assert 0.0 <= quality["min_top5_overlap"] <= quality["mean_top5_overlap"] <= 1.0
    assert built.yaml_path is not None and "# int8 quality vs fp32" in built.yaml_path.read_text()
    fp32, int8 = tiny_models["cross-onnx"], tiny_models["cross-onnx-int8"]
    assert isinstance(fp32, CrossRuntime) and isinstance(int8, CrossRuntime)
    a, b = fp32.score(QUERY, DOCS), int8.score(QUERY, DOCS)
    assert b.shape == a.shape and b.dtype == np.float32
    assert float(np.abs(a - b).max()) <= max(0.05, quality["max_abs_logit_diff"] * 4)
    assert not np.array_equal(a, b)  # it is another graph
