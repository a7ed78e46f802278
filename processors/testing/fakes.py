"""Deterministic stand-in models for unit tests and the no-model demo (no weights load).

Each word gets a fixed pseudo-random unit vector derived from its hash; a text's vector is
the normalised sum, so texts sharing words are close, as with a real embedding model.

Example:
    >>> emb = HashEmbedder(dimension=8)
    >>> emb.embed(["hello world"]).shape
    (1, 8)
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from processors.models.encoders import ContentType

_WORD = re.compile(r"[a-z0-9]+")
_WORD_ANY_CASE = re.compile(r"[a-zA-Z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words."""
    return _WORD.findall(text.lower())


def _word_vector(word: str, dimension: int) -> npt.NDArray[np.float32]:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).normal(size=dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


class WordTokenizer:
    """Stand-in for a model's tokenizer: one token per word of :func:`words`, with offsets.

    Example:
        >>> WordTokenizer().offsets(["Hello, world"])
        [[(0, 5), (7, 12)]]
    """

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character offsets of the words of each text."""
        return [[m.span() for m in _WORD_ANY_CASE.finditer(text)] for text in texts]


class HashEmbedder:
    """A TextEmbedder whose vectors are sums of per-word hash vectors.

    Its ``tokenizer`` (a :class:`WordTokenizer`) lets ``text_chunking`` count its tokens.
    """

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.tokenizer = WordTokenizer()

    def embed(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                out[row] += _word_vector(word, self.dimension)
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class CountSparseEncoder:
    """A SparseEncoder whose weights are 1 + log(count) per word."""

    def encode(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> list[dict[str, float]]:
        return [
            {w: float(1.0 + np.log(c)) for w, c in Counter(words(text)).items()} for text in texts
        ]


class OverlapCrossEncoder:
    """A CrossEncoder scoring each text by the query words it contains (minus 0.5), as logits.

    Example:
        >>> OverlapCrossEncoder().score("heat flow", ["heat", "heat flow", "wing"]).tolist()
        [0.5, 1.5, -0.5]
    """

    def score(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        asked = set(words(query))
        return np.array([sum(w in asked for w in words(t)) - 0.5 for t in texts], np.float32)
