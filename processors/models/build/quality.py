"""Quality of an int8 build vs its fp32 twin, on sample sentences.

* TEXT_EMBEDDING: cosine of the two builds' sentence vectors;
* TEXT_SIMILARITY (cross-encoders): every sample query against every sample sentence, the
  largest logit difference and how many of the fp32 top 5 the int8 top 5 keeps.

Example:
    >>> int8_quality(fp32_result, (int8_zip, int8_reg), cache_dir)  # doctest: +SKIP
    {'mean_cosine': 0.998, 'min_cosine': 0.993, 'sentences': 24.0}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from processors.errors import ModelError
from processors.models.registration import ModelRegistration

SAMPLE_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "Boundary layer separation on a swept wing at high angles of attack.",
    "Heat transfer in laminar flow over a flat plate.",
    "OpenSearch stores vectors in knn_vector fields.",
    "A cat sat on the mat and looked out of the window.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "Stock markets fell sharply after the announcement.",
    "The recipe calls for two cups of flour and one egg.",
    "Neural networks learn representations from data.",
    "Supersonic flow past a cone produces an attached shock wave.",
    "The meeting was postponed until next Thursday afternoon.",
    "Photosynthesis converts light energy into chemical energy.",
    "She played the violin at the concert last night.",
    "Vibrations of thin cylindrical shells under axial load.",
    "Download the latest release from the project website.",
    "The river flooded the valley after days of heavy rain.",
    "Quantum computers use qubits instead of classical bits.",
    "He forgot his umbrella and got soaked on the way home.",
    "An empirical evaluation of the destalling effects was made.",
    "Machine translation has improved with transformer models.",
    "The museum opens at nine in the morning on weekdays.",
    "Buckling of plates under combined compression and shear.",
]


def cosine_rows(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Row-wise cosine similarity of two ``(n, d)`` arrays."""
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(num / np.maximum(den, 1e-12))


SAMPLE_QUERIES = [
    "how does a shock wave form",
    "what is the capital of france",
    "heat transfer in boundary layers",
    "how do I get my password back",
    "buckling of thin shells and plates",
    "music performance",
]


def top_k_overlap(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], k: int) -> float:
    """The share of ``a``'s top ``k`` indices that are also in ``b``'s top ``k``.

    Example:
        >>> top_k_overlap(np.array([3.0, 2, 1, 0]), np.array([3.0, 1, 2, 0]), 2)
        0.5
    """
    top_a = set(np.argsort(-a, kind="stable")[:k].tolist())
    top_b = set(np.argsort(-b, kind="stable")[:k].tolist())
    return len(top_a & top_b) / k


def int8_quality(
    fp32: Any, int8: tuple[Path, ModelRegistration], cache_dir: Path
) -> dict[str, float]:
    """How close the int8 build stays to the fp32 build on :data:`SAMPLE_SENTENCES`.

    Args:
        fp32: The fp32 ONNX ``BuildResult``.
        int8: ``(zip path, registration)`` of the int8 build.
        cache_dir: Extraction directory root.

    Returns:
        TEXT_EMBEDDING: ``mean_cosine``, ``min_cosine``, ``sentences``. TEXT_SIMILARITY:
        ``max_abs_logit_diff``, ``mean_top5_overlap``, ``min_top5_overlap``, ``queries``,
        ``sentences``.
    """
    from processors.models.loader import load_model
    from processors.models.runtimes import CrossRuntime, DenseRuntime

    extracted = cache_dir / "extracted"
    ref = load_model(fp32.zip_path, fp32.registration, cache_dir=extracted, truncation="silent")
    got = load_model(int8[0], int8[1], cache_dir=extracted, truncation="silent")
    if isinstance(ref, CrossRuntime) and isinstance(got, CrossRuntime):
        return cross_quality(ref, got)
    if not isinstance(ref, DenseRuntime) or not isinstance(got, DenseRuntime):
        raise ModelError("int8 quality is measured for TEXT_EMBEDDING and TEXT_SIMILARITY models")
    cos = cosine_rows(ref.embed(SAMPLE_SENTENCES), got.embed(SAMPLE_SENTENCES))
    return {
        "mean_cosine": float(cos.mean()),
        "min_cosine": float(cos.min()),
        "sentences": float(len(SAMPLE_SENTENCES)),
    }


def cross_quality(ref: Any, got: Any, k: int = 5) -> dict[str, float]:
    """Logit difference and top-``k`` agreement of two cross-encoders on the samples."""
    diffs, overlaps = [], []
    for query in SAMPLE_QUERIES:
        a, b = ref.score(query, SAMPLE_SENTENCES), got.score(query, SAMPLE_SENTENCES)
        diffs.append(float(np.abs(a - b).max()))
        overlaps.append(top_k_overlap(a, b, k))
    return {
        "max_abs_logit_diff": max(diffs),
        f"mean_top{k}_overlap": float(np.mean(overlaps)),
        f"min_top{k}_overlap": min(overlaps),
        "queries": float(len(SAMPLE_QUERIES)),
        "sentences": float(len(SAMPLE_SENTENCES)),
    }
