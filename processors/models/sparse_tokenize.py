"""SPARSE_TOKENIZE: tokenizer + IDF weights, no model (reference §10.5).

Distinct token ids in first-occurrence order; token = single-id decode without special tokens
(empty decodes dropped); weight = ``idf[token]``, or 1.0 for tokens without an IDF entry.

Example:
    >>> enc = SparseTokenizer(tokenizer, {"good": 3.64})  # doctest: +SKIP
    >>> enc.encode(["This is a good day"])[0]["good"]  # doctest: +SKIP
    3.64
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from processors.errors import ArtifactError
from processors.models.encoders import ContentType
from processors.models.tokenization import TextTokenizer, check_texts


def read_idf(path: Path | None) -> dict[str, float]:
    """``idf.json`` as ``{token: float}`` (empty without a file)."""
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in raw.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ArtifactError(f"invalid idf file {path.name}: {exc}") from exc


class SparseTokenizer:
    """A ``SparseEncoder`` from a tokenizer and IDF weights.

    Example:
        >>> SparseTokenizer(TextTokenizer.from_file(p), {}).encode(["hi"])  # doctest: +SKIP
        [{'hi': 1.0}]
    """

    def __init__(self, tokenizer: TextTokenizer, idf: dict[str, float]) -> None:
        self.tokenizer = tokenizer
        self.idf = idf
        self._decoded: dict[int, str] = {}

    def encode(
        self,
        texts: Sequence[str],
        content_type: ContentType = "passage",
        *,
        token_ids: bool = False,
    ) -> list[dict[str, float]]:
        """One ``{token: weight}`` per text (keys are decimal ids with ``token_ids``)."""
        out: list[dict[str, float]] = []
        for ids in self.tokenizer.token_ids(check_texts(texts)):
            result: dict[str, float] = {}
            for token_id in dict.fromkeys(ids):
                token = self._decode(token_id)
                if token:
                    result[str(token_id) if token_ids else token] = self.idf.get(token, 1.0)
            out.append(result)
        return out

    def _decode(self, token_id: int) -> str:
        if token_id not in self._decoded:
            self._decoded[token_id] = self.tokenizer.decode_id(token_id)
        return self._decoded[token_id]
