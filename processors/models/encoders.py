"""What every model runtime offers, one protocol per ml-commons function (numpy in and out).

The ONNX Runtime and TorchScript backends implement these; processors depend only on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

ContentType = Literal["query", "passage"]


@runtime_checkable
class TextEmbedder(Protocol):
    """TEXT_EMBEDDING: texts to vectors of ``dimension`` floats."""

    dimension: int

    def embed(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> npt.NDArray[np.float32]:
        """``(len(texts), dimension)`` float32."""
        ...


@runtime_checkable
class SparseEncoder(Protocol):
    """SPARSE_ENCODING (bi-encoder) and SPARSE_TOKENIZE (tokenizer + IDF): texts to weights."""

    def encode(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> list[dict[str, float]]:
        """One ``{token: weight}`` per text, special tokens excluded."""
        ...


@runtime_checkable
class CrossEncoder(Protocol):
    """TEXT_SIMILARITY: raw logits for (query, text) pairs (no sigmoid)."""

    def score(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts),)`` float32."""
        ...
