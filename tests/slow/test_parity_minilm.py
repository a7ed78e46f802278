"""Real models vs their reference implementations (sentence-transformers, transformers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.models.build.builder import BuildResult
from processors.models.loader import load_model
from processors.models.runtimes import DenseRuntime, SparseRuntime

from .conftest import MINILM, SPLADE, cranfield_passages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def passages() -> list[str]:
    texts = cranfield_passages(220)
    assert len(texts) >= 200
    return texts


@pytest.fixture(scope="module")
def reference(passages: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MINILM), device="cpu")
    vectors: np.ndarray = model.encode(passages, batch_size=32, convert_to_numpy=True)
    return vectors


@pytest.mark.parametrize("model_id", ["all-minilm-l6-v2-onnx", "all-minilm-l6-v2-torchscript"])
def test_minilm_matches_sentence_transformers(
    minilm_zips: dict[str, BuildResult],
    models_dir: Path,
    passages: list[str],
    reference: np.ndarray,
    model_id: str,
) -> None:
    result = minilm_zips[model_id]
    model = load_model(
        result.zip_path,
        result.registration,
        cache_dir=models_dir / "extracted",
        truncation="silent",
    )
    assert isinstance(model, DenseRuntime) and model.dimension == 384
    got = model.embed(passages)
    cosine = (got * reference).sum(axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1)
    )
    assert cosine.min() >= 0.9999, (model_id, float(cosine.min()))


def _reference_maps(texts: list[str], tokenizer: object) -> list[dict[str, float]]:
    import torch
    from transformers import AutoModelForMaskedLM

    mlm = AutoModelForMaskedLM.from_pretrained(str(SPLADE)).eval()
    out = []
    for text in texts:
        batch = tokenizer.encode([text])  # type: ignore[attr-defined]
        with torch.no_grad():
            logits = mlm(
                input_ids=torch.from_numpy(batch.input_ids),
                attention_mask=torch.from_numpy(batch.attention_mask),
            ).logits[0]
        weights = torch.log1p(torch.relu(logits.max(dim=0).values)).numpy()
        row: dict[str, float] = {}
        for i in np.flatnonzero(weights):
            token = tokenizer.decode_id(int(i))  # type: ignore[attr-defined]
            if token:
                row[token] = float(weights[i])
        out.append(row)
    return out


def test_splade_matches_transformers(
    splade_zips: dict[str, BuildResult], models_dir: Path, passages: list[str]
) -> None:
    texts = passages[:24]
    models = {}
    for model_id, result in splade_zips.items():
        model = load_model(
            result.zip_path,
            result.registration,
            cache_dir=models_dir / "extracted",
            truncation="silent",
        )
        assert isinstance(model, SparseRuntime)
        models[model_id] = model
    expected = _reference_maps(texts, models["splade-tiny-onnx"].tokenizer)
    for model_id, model in models.items():
        for got, want in zip(model.encode(texts), expected, strict=True):
            assert not {"[CLS]", "[SEP]", "[PAD]"} & set(got)
            keys = sorted(set(got) | set(want))
            diff = max(abs(got.get(k, 0.0) - want.get(k, 0.0)) for k in keys)
            assert diff <= 1e-4, (model_id, diff)
