"""all-MiniLM-L6-v2 int8: a text's vector alone equals it in any batch; close to fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from processors.models.build.builder import BuildResult, build_model
from processors.models.loader import load_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import DenseRuntime

from .conftest import MINILM

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[2] / "scripts" / "data" / "corpus" / "aero-notes.jsonl"


@pytest.fixture(scope="module")
def builds(models_dir: Path) -> dict[str, BuildResult]:
    results = build_model(
        MINILM,
        FunctionName.TEXT_EMBEDDING,
        model_id="all-minilm-l6-v2",
        formats=[ModelFormat.ONNX],
        cache_dir=models_dir,
        yaml_dir=None,
        quantize="int8",
    )
    return {r.model_id: r for r in results}


def _load(result: BuildResult, models_dir: Path) -> DenseRuntime:
    model = load_model(
        result.zip_path,
        result.registration,
        cache_dir=models_dir / "extracted",
        truncation="silent",
    )
    assert isinstance(model, DenseRuntime)
    return model


def test_minilm_int8_is_deterministic_per_text_and_close_to_fp32(
    builds: dict[str, BuildResult], models_dir: Path
) -> None:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    notes = [json.loads(line)["text"] for line in lines][:48]
    texts = ["lift", "shock wave", *notes]
    int8 = _load(builds["all-minilm-l6-v2-onnx-int8"], models_dir)
    alone = np.concatenate([int8.embed([t]) for t in texts])
    int8.token_budget = 1 << 20  # one padded batch per call: short texts next to long ones
    for size in (4, 17, len(texts)):
        for start in range(0, len(texts), size):
            got = int8.embed(texts[start : start + size])
            cosine = (got * alone[start : start + size]).sum(axis=1)
            assert cosine.min() >= 0.9999, (size, float(cosine.min()))
    fp32 = _load(builds["all-minilm-l6-v2-onnx"], models_dir).embed(texts)
    cosine = (fp32 * alone).sum(axis=1)
    # measured 0.9948 minimum on 128 Cranfield abstracts (per-tensor dynamic int8: 0.9894)
    assert cosine.min() >= 0.99 and cosine.mean() >= 0.995, (cosine.min(), cosine.mean())
