"""Tokenization from ``tokenizer.json`` (HF ``tokenizers``): counted truncation, padding, pairs.

The maximum length comes from the ``truncation`` block of ``tokenizer.json``; when that is absent,
from ``model_config.model_max_length``; else 512 with a logged warning (reference §10.3). Every
text that loses tokens is counted, and ``truncation`` decides what happens then: ``warn`` (log a
warning per batch), ``count`` (log at INFO only: the caller reports the total once, as
``neuralpipe index bulk`` and ``eval`` do), ``fail`` (raise :class:`~processors.errors.ModelError`)
or ``silent``.

Example:
    >>> tok = TextTokenizer.from_file("tokenizer.json")  # doctest: +SKIP
    >>> batch = tok.encode(["hello world"])  # doctest: +SKIP
    >>> batch.input_ids.shape  # doctest: +SKIP
    (1, 4)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from processors.errors import ModelError

log = logging.getLogger(__name__)

TruncationMode = Literal["warn", "count", "fail", "silent"]
DEFAULT_MAX_LENGTH = 512
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Encoded:
    """A padded batch: int64 arrays ``(batch, seq)`` and the tokens each text lost.

    Example:
        >>> batch.feed(["input_ids", "attention_mask"])  # doctest: +SKIP
    """

    input_ids: IntArray
    attention_mask: IntArray
    token_type_ids: IntArray
    lost_tokens: tuple[int, ...]

    def feed(self, names: Sequence[str]) -> dict[str, IntArray]:
        """The arrays for the given graph input names (unknown names raise ModelError).

        ``input1.input_ids`` / ``input1.attention_mask`` (the names ml-commons gives the
        inputs of SPARSE_ENCODING models, which ONNX graphs for it must declare) are fed as
        ``input_ids`` / ``attention_mask``.
        """
        arrays = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }
        unknown = [n for n in names if input_key(n) not in arrays]
        if unknown:
            raise ModelError(f"model declares inputs neuralpipe cannot feed: {unknown}")
        return {n: arrays[input_key(n)] for n in names}


ML_COMMONS_INPUT_PREFIX = "input1."
"""ml-commons' ``SentenceTransformerTranslator`` (SPARSE_ENCODING) names its inputs
``input1.input_ids`` and ``input1.attention_mask``; DJL feeds an ONNX graph by these names."""


def input_key(name: str) -> str:
    """The tokenizer array a graph input name means.

    >>> input_key("input1.attention_mask"), input_key("token_type_ids")
    ('attention_mask', 'token_type_ids')
    """
    return name.removeprefix(ML_COMMONS_INPUT_PREFIX)


def check_texts(texts: object) -> list[str]:
    """Validate model input: a sequence of strings.

    An empty string is valid input, as in ml-commons: it becomes ``[CLS] [SEP]`` and gets
    its embedding (a blank string in a ``text_embedding`` list is sent to the model too).

    Raises:
        ModelError: naming the first bad item and why.
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ModelError(f"expected a list of strings, got {type(texts).__name__}")
    out: list[str] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ModelError(f"text at index {i} is not a string but {type(text).__name__}")
        out.append(text)
    return out


@dataclass
class TokenStats:
    """Running counts of what a tokenizer has seen (read by progress bars and reports).

    Example:
        >>> stats = TokenStats()
        >>> stats.add(texts=2, tokens=10, truncated=1, lost=3)
        >>> stats.tokens, stats.truncated
        (10, 1)
    """

    texts: int = 0
    tokens: int = 0
    truncated: int = 0
    lost: int = 0

    def add(self, texts: int, tokens: int, truncated: int, lost: int) -> None:
        """Count one tokenized batch (tokens are those kept after truncation)."""
        self.texts += texts
        self.tokens += tokens
        self.truncated += truncated
        self.lost += lost


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` with ml-commons truncation and numpy padding.

    Args:
        spec: The parsed ``tokenizer.json``.
        model_max_length: ``model_config.model_max_length``, used when tokenizer.json has none.
        truncation: ``warn`` | ``count`` | ``fail`` | ``silent`` when a text is longer than
            ``max_length``.

    Example:
        >>> TextTokenizer.from_file(Path("tokenizer.json"), truncation="fail")  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        model_max_length: int | None = None,
        truncation: TruncationMode = "warn",
    ) -> None:
        from tokenizers import Tokenizer

        self.max_length = _max_length(spec, model_max_length)
        self.truncation = truncation
        strategy = (spec.get("truncation") or {}).get("strategy", "LongestFirst")
        strategy = {
            "LongestFirst": "longest_first",
            "OnlyFirst": "only_first",
            "OnlySecond": "only_second",
        }.get(strategy, "longest_first")
        plain = json.dumps({**spec, "truncation": None, "padding": None})
        self._raw = Tokenizer.from_str(plain)
        self._cut = Tokenizer.from_str(plain)
        self._cut.enable_truncation(self.max_length, strategy=strategy)
        self._longest_first = strategy == "longest_first"
        self.pad_id = _pad_id(self._raw, spec)
        self.stats = TokenStats()

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        model_max_length: int | None = None,
        truncation: TruncationMode = "warn",
    ) -> TextTokenizer:
        """Load ``tokenizer.json``."""
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read tokenizer file {path}: {exc}") from exc
        return cls(spec, model_max_length=model_max_length, truncation=truncation)

    @property
    def raw(self) -> Any:
        """The underlying ``tokenizers.Tokenizer``: no truncation, no padding."""
        return self._raw

    def decode_id(self, token_id: int) -> str:
        """Single-id decode with special tokens skipped ('' for special tokens)."""
        text: str = self._raw.decode([token_id], skip_special_tokens=True)
        return text

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character offsets of every token per text: no special tokens, no truncation."""
        encodings = self._raw.encode_batch(list(texts), add_special_tokens=False)
        return [[(int(a), int(b)) for a, b in e.offsets] for e in encodings]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Truncated ids per text (special tokens added), unpadded."""
        return [list(e.ids) for e in self.tokenize(texts)[0]]

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize a batch of single texts, truncate (counted) and pad to the longest."""
        return self.pad(*self.tokenize(texts))

    def encode_pairs(self, query: str, texts: Sequence[str]) -> Encoded:
        """Pair-encode ``(query, text)`` for cross-encoders (segment ids 0 / 1)."""
        return self.pad(*self.tokenize(texts, query=query))

    def tokenize(
        self, texts: Sequence[str], *, query: str | None = None
    ) -> tuple[list[Any], list[int]]:
        """Encodings (truncated to ``max_length``) and the number of tokens each text lost.

        Args:
            texts: Single texts, or the second segments when ``query`` is given.
            query: First segment of every pair (cross-encoders).
        """
        inputs: list[Any] = [(query, t) for t in texts] if query is not None else list(texts)
        full = self._raw.encode_batch(inputs)
        lost = [max(0, len(e.ids) - self.max_length) for e in full]
        over = [i for i, n in enumerate(lost) if n]
        self.stats.add(len(inputs), sum(len(e.ids) for e in full) - sum(lost), len(over), sum(lost))
        if over:
            self._report(lost, len(inputs))
            cut: dict[int, Any] = {i: longest_first(full[i], self.max_length) for i in over}
            if not self._longest_first or any(c is None for c in cut.values()):
                # another strategy: the tokenizer truncates (slowly: it also builds every
                # overflowing piece, and for a pair every combination of them)
                again = self._cut.encode_batch([inputs[i] for i in over])
                cut = dict(zip(over, again, strict=True))
            for i, enc in cut.items():
                full[i] = enc
        return full, lost

    def _report(self, lost: list[int], total: int) -> None:
        count = sum(1 for n in lost if n)
        msg = (
            f"{count} of {total} texts exceed max_length {self.max_length} tokens and were "
            f"truncated (tokens lost: {[n for n in lost if n][:10]})"
        )
        if self.truncation == "fail":
            raise ModelError(msg.replace("were truncated", "truncation is set to fail"))
        if self.truncation == "warn":
            log.warning(msg)
        elif self.truncation == "count":
            log.info(msg)

    def pad(self, encs: Sequence[Any], lost: Sequence[int] = ()) -> Encoded:
        """Pad encodings to the longest into int64 arrays."""
        width = max((len(e.ids) for e in encs), default=0)
        ids = np.full((len(encs), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for row, enc in enumerate(encs):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        return Encoded(ids, mask, types, tuple(lost))


@dataclass(frozen=True)
class Truncated:
    """What is left of an encoding after truncation (all that padding reads)."""

    ids: list[int]
    type_ids: list[int]


def longest_first(encoding: Any, max_length: int) -> Truncated | None:
    """``encoding`` (special tokens added, not truncated) cut to ``max_length`` as the tokenizer's
    ``longest_first`` right truncation (stride 0) cuts it, without encoding again.

    The kept length of each sequence follows ``tokenizers``' ``truncate_encodings``: the shorter
    sequence keeps all it can up to half the room, the longer one the rest; then the tail of each
    sequence is dropped from the finished encoding (special tokens stay where they are). None
    when even the special tokens do not fit (the tokenizer then reports its own error).

    Example:
        >>> tok = TextTokenizer.from_file(Path("tokenizer.json"))  # doctest: +SKIP
        >>> len(longest_first(tok._raw.encode("q", "a long text ..."), 16).ids)  # doctest: +SKIP
        16
    """
    sequences = encoding.sequence_ids
    n1 = sum(1 for s in sequences if s == 0)
    n2 = sum(1 for s in sequences if s == 1)
    room = max_length - (len(sequences) - n1 - n2)
    if room < 0:
        return None
    if n2 == 0:
        keep = {0: room, 1: 0}
    else:
        short, long_ = sorted((n1, n2))
        long_ = short if short > room else max(short, room - short)
        if short + long_ > room:
            short, long_ = room // 2, room // 2 + room % 2
        first, second = (long_, short) if n1 > n2 else (short, long_)
        keep = {0: min(n1, first), 1: min(n2, second)}
    seen = {0: 0, 1: 0}
    ids: list[int] = []
    type_ids: list[int] = []
    for token, type_id, sequence in zip(encoding.ids, encoding.type_ids, sequences, strict=True):
        if sequence is not None:
            seen[sequence] += 1
            if seen[sequence] > keep[sequence]:
                continue
        ids.append(token)
        type_ids.append(type_id)
    return Truncated(ids, type_ids)


def _max_length(spec: dict[str, Any], model_max_length: int | None) -> int:
    trunc = spec.get("truncation") or {}
    if isinstance(trunc.get("max_length"), int):
        return int(trunc["max_length"])
    if model_max_length:
        return model_max_length
    log.warning(
        "tokenizer.json has no truncation max_length and model_config has no model_max_length; "
        "truncating at %d tokens",
        DEFAULT_MAX_LENGTH,
    )
    return DEFAULT_MAX_LENGTH


def _pad_id(tokenizer: Any, spec: dict[str, Any]) -> int:
    padding = spec.get("padding") or {}
    if isinstance(padding.get("pad_id"), int):
        return int(padding["pad_id"])
    for token in ("[PAD]", "<pad>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0
