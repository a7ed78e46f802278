"""numpy post-processing of model outputs, as ml-commons does it (reference §10.3-10.5).

* :func:`pool`: ``mean``, ``mean_sqrt_len``, ``max``, ``weightedmean``, ``cls``, ``lasttoken``
  over token embeddings ``(batch, seq, hidden)`` with an attention mask ``(batch, seq)``.
* :func:`l2_normalize`: ``v / ||v||``.
* :func:`sparse_maps`: non-zero weights to ``{token: weight}`` by single-id decoding (special
  tokens and ids that decode to ``""`` are dropped).
* :func:`apply_prefix`: asymmetric models' ``query_prefix`` / ``passage_prefix``.

Example:
    >>> import numpy as np
    >>> pool(np.ones((1, 2, 3), np.float32), np.array([[1, 0]]), "mean").tolist()
    [[1.0, 1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from processors.errors import ModelError
from processors.models.registration import ModelConfig, PoolingMode

FloatArray = npt.NDArray[np.float32]
ContentType = Literal["query", "passage"]


def pool(tokens: FloatArray, mask: npt.NDArray[np.int64], mode: PoolingMode | str) -> FloatArray:
    """Pool token embeddings ``(B, L, H)`` into ``(B, H)`` with ``mask`` ``(B, L)``.

    Raises:
        ModelError: for ``none`` (needs a pre-pooled output) or an unknown mode.
    """
    return np.asarray(_pool(tokens, mask, PoolingMode(mode)), dtype=np.float32)


def _pool(tokens: FloatArray, mask: npt.NDArray[np.int64], mode: PoolingMode) -> Any:
    m = mask.astype(np.float32)[:, :, None]
    if mode in (PoolingMode.MEAN, PoolingMode.MEAN_SQRT_LEN):
        total = (tokens * m).sum(axis=1)
        count = np.maximum(m.sum(axis=1), 1e-9)
        return (total / (count if mode is PoolingMode.MEAN else np.sqrt(count))).astype(np.float32)
    if mode is PoolingMode.MAX:
        return np.where(m > 0, tokens, np.float32(-1e9)).max(axis=1).astype(np.float32)
    if mode is PoolingMode.WEIGHTEDMEAN:
        weights = m * np.arange(1, tokens.shape[1] + 1, dtype=np.float32)[None, :, None]
        return ((tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)).astype(
            np.float32
        )
    if mode is PoolingMode.CLS:
        return tokens[:, 0, :].astype(np.float32)
    if mode is PoolingMode.LASTTOKEN:
        last = np.maximum(mask.sum(axis=1) - 1, 0)
        return tokens[np.arange(tokens.shape[0]), last, :].astype(np.float32)
    raise ModelError("pooling_mode none needs a model with a pooled (second) output")


def l2_normalize(vectors: FloatArray) -> FloatArray:
    """Row-wise L2 normalisation (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def sparse_maps(
    weights: FloatArray,
    decode: Callable[[int], str],
    *,
    token_ids: bool = False,
) -> list[dict[str, float]]:
    """``(B, V)`` weights to one ``{token: weight}`` per row (ml-commons WORD format).

    Args:
        weights: The model's ``output``.
        decode: Single-id decode with special tokens skipped.
        token_ids: Key by decimal token id (``sparse_embedding_format: TOKEN_ID``).
    """
    cache: dict[int, str] = {}
    out: list[dict[str, float]] = []
    for row in weights:
        result: dict[str, float] = {}
        for idx in np.flatnonzero(row):
            i = int(idx)
            if i not in cache:
                cache[i] = decode(i)
            token = cache[i]
            if token:
                result[str(i) if token_ids else token] = float(row[i])
        out.append(result)
    return out


def apply_prefix(
    texts: Sequence[str], config: ModelConfig | None, content_type: ContentType
) -> list[str]:
    """Prepend ``query_prefix`` or ``passage_prefix`` from ``model_config`` (if set)."""
    if config is None:
        return list(texts)
    prefix = config.query_prefix if content_type == "query" else config.passage_prefix
    return [f"{prefix}{t}" for t in texts] if prefix else list(texts)
