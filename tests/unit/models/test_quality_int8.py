"""int8 builds: which functions may be quantized; the cross-encoder agreement metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.errors import ModelError
from processors.models.build.builder import build_model
from processors.models.build.quality import cross_quality, top_k_overlap
from processors.models.registration import FunctionName


def test_int8_is_refused_for_sparse_models(tmp_path: Path) -> None:
    with pytest.raises(
        ModelError, match="only supported for TEXT_EMBEDDING, TEXT_SIMILARITY and NLP task models"
    ):
        build_model(
            tmp_path, FunctionName.SPARSE_ENCODING, model_id="s", cache_dir=tmp_path,
            quantize="int8",
        )  # fmt: skip


def test_top_k_overlap() -> None:
    a = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert top_k_overlap(a, a, 3) == 1.0
    assert top_k_overlap(a, -a, 2) == 0.0
    assert top_k_overlap(a, np.array([5.0, 1.0, 3.0, 2.0, 4.0]), 2) == 0.5


class Shifted:
    """A cross-encoder whose score is the text length, plus a fixed offset per text."""

    def __init__(self, noise: float) -> None:
        self.noise = noise

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        lengths = np.array([len(t) for t in texts], dtype=np.float32)
        return lengths + self.noise * np.cos(np.arange(len(texts), dtype=np.float32))


def test_cross_quality_reports_logit_difference_and_top5_agreement() -> None:
    same = cross_quality(Shifted(0.0), Shifted(0.0))
    assert same["max_abs_logit_diff"] == 0.0
    assert same["mean_top5_overlap"] == same["min_top5_overlap"] == 1.0
    moved = cross_quality(Shifted(0.0), Shifted(100.0))
    assert moved["max_abs_logit_diff"] == pytest.approx(100.0)
    assert moved["min_top5_overlap"] < 1.0
    assert moved["queries"] > 0 and moved["sentences"] == 24.0
