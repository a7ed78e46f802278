"""Token start offsets for ``fixed_token_length``: the node's ``_analyze``, or a model's tokenizer.

Both give, per text, the UTF-16 start offset of every token (what the plugin's chunker uses), or
the reason tokenizing that text failed, which the processor reports as the plugin does:
``analyzer <tokenizer> throws exception: <reason>``.

:class:`NodeAnalyzer` sends ``{"tokenizer": <name>, "text": [...]}`` to ``/<index>/_analyze`` (the
index's ``index.analyze.max_token_count`` then applies, as in the plugin) or to ``/_analyze`` when
the document names no existing index. Several texts go in one request: the node numbers the
offsets of text ``k`` from ``sum(len(text_i) + 1 for i < k)`` (UTF-16 units; checked against
OpenSearch 2.19 for all seven tokenizers). The token limit counts the whole request, so a batch
that fails is retried text by text, and each text then gets its own answer.

Example:
    >>> NodeAnalyzer(client, "standard").starts(["hello world"], None)  # doctest: +SKIP
    [[0, 6]]
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, Protocol

import opensearchpy

from processors.compat.java_text import utf16_offsets
from processors.errors import InvalidProcessorConfigError, ProcessorRuntimeError

Starts = list[int] | str
"""The token start offsets of one text, or why it could not be tokenized."""


class TokenStarts(Protocol):
    """Where ``fixed_token_length`` gets its tokens from."""

    label: str
    """The tokenizer as named in the pipeline (``standard``, ``model:<id>``)."""

    def starts(self, texts: Sequence[str], index: str | None) -> list[Starts]:
        """One entry per text, in order."""
        ...


class OffsetTokenizer(Protocol):
    """A model tokenizer giving character offsets of its tokens, without special tokens."""

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]: ...


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _reason(exc: Any) -> str:
    info = getattr(exc, "info", None)
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        return str(info["error"].get("reason"))
    return str(getattr(exc, "error", None) or exc)


class NodeAnalyzer:
    """Tokens from the node's ``_analyze`` with one of the plugin's word tokenizers."""

    def __init__(
        self, client: Any, tokenizer: str, *, max_texts: int = 64, max_units: int = 20_000
    ) -> None:
        self.client = client
        self.label = tokenizer
        self.max_texts = max_texts
        self.max_units = max_units
        self._missing: set[str] = set()

    def starts(self, texts: Sequence[str], index: str | None) -> list[Starts]:
        self._missing.clear()  # an index may have been created since (bulk auto-creates them)
        out: list[Starts] = []
        batch: list[str] = []
        units = 0
        for text in texts:
            size = _utf16_len(text)
            if batch and (len(batch) >= self.max_texts or units + size > self.max_units):
                out.extend(self._batch(batch, index))
                batch, units = [], 0
            batch.append(text)
            units += size + 1
        return out + self._batch(batch, index) if batch else out

    def _batch(self, texts: list[str], index: str | None) -> list[Starts]:
        if len(texts) > 1:
            try:
                return _split(texts, self._analyze(texts, index))
            except opensearchpy.TransportError as exc:
                if _unavailable(exc):
                    raise
            except ValueError:
                pass  # retried one by one: each text gets its own answer
        out: list[Starts] = []
        for text in texts:
            try:
                out.append([t["start_offset"] for t in self._analyze(text, index)])
            except opensearchpy.TransportError as exc:
                if _unavailable(exc):
                    raise
                out.append(_reason(exc))
        return out

    def _analyze(self, text: str | list[str], index: str | None) -> list[dict[str, Any]]:
        body = {"tokenizer": self.label, "text": text}
        if index and index not in self._missing:
            try:
                answer: dict[str, Any] = self.client.indices.analyze(index=index, body=body)
                return list(answer["tokens"])
            except opensearchpy.NotFoundError as exc:
                if exc.error != "index_not_found_exception":
                    raise
                self._missing.add(index)  # the plugin then uses the node's default limit
        answer = self.client.indices.analyze(body=body)
        return list(answer["tokens"])


def _unavailable(exc: opensearchpy.TransportError) -> bool:
    """The node is down or overloaded: not the text's fault, the caller waits and retries."""
    return isinstance(exc, opensearchpy.ConnectionError) or exc.status_code in (429, 502, 503, 504)


def _split(texts: list[str], tokens: list[dict[str, Any]]) -> list[Starts]:
    """Per-text start offsets from one ``_analyze`` over an array of texts."""
    bases, lengths, base = [], [], 0
    for text in texts:
        bases.append(base)
        lengths.append(_utf16_len(text))
        base += lengths[-1] + 1
    out: list[list[int]] = [[] for _ in texts]
    for token in tokens:
        start = int(token["start_offset"])
        k = bisect_right(bases, start) - 1
        local = start - bases[k]
        if not 0 <= local <= lengths[k]:
            raise ValueError(f"_analyze offset {start} does not fall in any text")
        out[k].append(local)
    return [starts for starts in out]


class ModelTokens:
    """neuralpipe extension: count the tokens of an embedding model (``tokenizer: model:<id>``)."""

    def __init__(self, tokenizer: OffsetTokenizer, model_id: str) -> None:
        self.tokenizer = tokenizer
        self.label = f"model:{model_id}"

    @classmethod
    def of(cls, runtime: Any, model_id: str) -> ModelTokens:
        """From a model runtime (anything with a ``tokenizer`` that has ``offsets``)."""
        tokenizer = getattr(runtime, "tokenizer", None)
        if not callable(getattr(tokenizer, "offsets", None)):
            where = "algorithm.fixed_token_length.tokenizer"
            message = f"[tokenizer] model [{model_id}] has no tokenizer giving token offsets"
            raise InvalidProcessorConfigError(message, problems=[(where, message)])
        return cls(tokenizer, model_id)  # type: ignore[arg-type]

    def starts(self, texts: Sequence[str], index: str | None) -> list[Starts]:
        try:
            found = self.tokenizer.offsets(texts)
        except Exception as exc:  # e.g. a lone surrogate: retried one by one to find the text
            if len(texts) == 1:
                return [f"{type(exc).__name__}: {exc}"]
            return [entry for text in texts for entry in self.starts([text], index)]
        return [
            utf16_offsets(text, [start for start, _ in offsets])
            for text, offsets in zip(texts, found, strict=True)
        ]


class TokenTable:
    """Token starts per ``(index, text)`` for one run: wanted texts are fetched together at first
    use, any other text on demand.

    Example:
        >>> table = TokenTable(NodeAnalyzer(client, "standard"))  # doctest: +SKIP
        >>> table.want("my-index", ["a b", "c"])  # doctest: +SKIP
        >>> table.starts("my-index", "a b")  # one _analyze for both texts  # doctest: +SKIP
        [0, 2]
    """

    def __init__(self, tokens: TokenStarts) -> None:
        self.tokens = tokens
        self.known: dict[tuple[str | None, str], Starts] = {}
        self.wanted: dict[str | None, dict[str, None]] = {}

    def want(self, index: str | None, texts: list[str]) -> None:
        self.wanted.setdefault(index, {}).update(dict.fromkeys(texts))

    def starts(self, index: str | None, text: str) -> list[int]:
        """Token start offsets of ``text``, or the plugin's tokenization error."""
        if (index, text) not in self.known:
            todo = [text, *self.wanted.pop(index, {})]
            todo = [t for t in dict.fromkeys(todo) if (index, t) not in self.known]
            for one, found in zip(todo, self.tokens.starts(todo, index), strict=True):
                self.known[(index, one)] = found
        found = self.known[(index, text)]
        if isinstance(found, str):
            raise ProcessorRuntimeError(f"analyzer {self.tokens.label} throws exception: {found}")
        return found
