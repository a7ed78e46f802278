"""Backend-independent runtimes: tokenizer + graph runner + post-processing per function.

Both backends (:mod:`processors.models.onnx`, :mod:`processors.models.torchscript`) provide a
``GraphRunner``; these classes turn one into a ``TextEmbedder``, ``SparseEncoder`` or
``CrossEncoder``. Batches are length-sorted under a token budget and results restored to input
order, so outputs do not depend on batch composition.

Example:
    >>> embedder = DenseRuntime(runner, tokenizer, config)  # doctest: +SKIP
    >>> embedder.embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from processors.errors import ModelError
from processors.models.encoders import ContentType
from processors.models.postprocess import apply_prefix, l2_normalize, pool, sparse_maps
from processors.models.registration import ModelConfig, PoolingMode
from processors.models.tokenization import Encoded, TextTokenizer, check_texts

DEFAULT_TOKEN_BUDGET = 2048  # ~8 passages of 256 tokens: the fastest batch shape on CPU
DEFAULT_MAX_BATCH = 64
CROSS_TOKEN_BUDGET = 512
"""Most tokens per cross-encoder pass (MiniLM-size graphs are cheapest per token there)."""


class GraphRunner(Protocol):
    """What a backend offers: declared inputs and a run over a padded batch."""

    input_names: tuple[str, ...]
    dict_input: bool
    backend: str

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, npt.NDArray[Any]]]:
        """``(name, array)`` outputs in graph order."""
        ...


def plan_batches(
    lengths: Sequence[int],
    *,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> list[list[int]]:
    """Group indices longest-first so that ``len(batch) * longest <= token_budget``.

    Example:
        >>> plan_batches([3, 10, 2], token_budget=20)
        [[1, 0], [2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches:
            current = batches[-1]
            longest = lengths[current[0]]
            if len(current) < max_batch and (len(current) + 1) * longest <= token_budget:
                current.append(i)
                continue
        batches.append([i])
    return batches


PAD_SLACK = 0.1
"""Most padding a row may carry, as a share of its batch's longest row."""


def plan_tight_batches(
    lengths: Sequence[int], token_budget: int, max_batch: int = DEFAULT_MAX_BATCH
) -> list[list[int]]:
    """:func:`~processors.models.runtimes.plan_batches` (longest first, ``rows x longest <=
    token_budget``), each batch cut further where a row would be padded by more than
    :data:`PAD_SLACK` of the batch's longest: short passages of mixed lengths otherwise
    spend a good part of the graph's time on padding (32 passages of 30-80 tokens under a
    2,048-token budget: about a third), and a smaller batch costs the graph little more.

    >>> plan_tight_batches([80, 78, 40, 39, 75], 2048)
    [[0, 1, 4], [2, 3]]
    """
    out: list[list[int]] = []
    for batch in plan_batches(lengths, token_budget=token_budget, max_batch=max_batch):
        current = [batch[0]]
        for i in batch[1:]:
            if lengths[i] >= (1 - PAD_SLACK) * lengths[current[0]]:
                current.append(i)
            else:
                out.append(current)
                current = [i]
        out.append(current)
    return out


class _Base:
    tight = False
    """Whether batches are cut where a row would carry more than :data:`PAD_SLACK` padding
    (:func:`plan_tight_batches`) rather than filled up to the token budget."""
    token_cap: int | None = None
    """Most tokens per batch whatever ``token_budget`` says (``None``: no cap)."""

    def __init__(
        self,
        runner: GraphRunner,
        tokenizer: TextTokenizer,
        config: ModelConfig | None,
        *,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.runner = runner
        self.tokenizer = tokenizer
        self.config = config
        self.token_budget = token_budget
        self.max_batch = max_batch

    def _batches(
        self, texts: Sequence[str], query: str | None = None
    ) -> Iterator[tuple[list[int], Encoded]]:
        encs, lost = self.tokenizer.tokenize(texts, query=query)
        lengths = [len(e.ids) for e in encs]
        budget = min(self.token_budget, self.token_cap or self.token_budget)
        if self.tight:
            plan = plan_tight_batches(lengths, budget, self.max_batch)
        else:
            plan = plan_batches(lengths, token_budget=budget, max_batch=self.max_batch)
        for idx in plan:
            yield idx, self.tokenizer.pad([encs[i] for i in idx], [lost[i] for i in idx])

    def _run(self, batch: Encoded) -> list[tuple[str, npt.NDArray[Any]]]:
        return self.runner.run(batch.feed(self.runner.input_names))

    def _results(
        self, texts: Sequence[str], query: str | None = None
    ) -> Iterator[tuple[list[int], Encoded, list[tuple[str, npt.NDArray[Any]]]]]:
        """``(indices, batch, outputs)`` per batch of :meth:`_batches`, through the runner's
        ``run_many`` where it has one (ONNX: several batches side by side, one thread each)."""
        run_many = getattr(self.runner, "run_many", None)
        if run_many is None:
            for idx, batch in self._batches(texts, query):
                yield idx, batch, self._run(batch)
            return
        names = self.runner.input_names
        waiting: deque[tuple[list[int], Encoded]] = deque()

        def feeds() -> Iterator[dict[str, npt.NDArray[np.int64]]]:
            for idx, batch in self._batches(texts, query):
                waiting.append((idx, batch))
                yield batch.feed(names)

        for outputs in run_many(feeds()):
            idx, batch = waiting.popleft()
            yield idx, batch, outputs

    def outputs(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> list[list[tuple[str, npt.NDArray[Any]]]]:
        """Every raw output (integer ones too) of each text run alone, unpadded, as ml-commons
        runs a ``_predict`` document (for ``_predict`` without ``target_response``)."""
        items = apply_prefix(check_texts(texts), self.config, content_type)
        return [self._run(self.tokenizer.encode([text])) for text in items]


def _pick(outputs: list[tuple[str, npt.NDArray[Any]]], name: str) -> npt.NDArray[Any] | None:
    return next((a for n, a in outputs if n == name), None)


class DenseRuntime(_Base):
    """TEXT_EMBEDDING: ``embed(texts) -> (n, dimension)`` float32 (a ``TextEmbedder``).

    Batches are tight (:func:`plan_tight_batches`): a row's padding costs the graph as much
    as its real tokens, and mean pooling and ``[CLS]`` vectors ignore padded positions, so
    the vectors are those of any other batching (to float rounding)."""

    dimension: int = 0
    tight = True

    def embed(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> npt.NDArray[np.float32]:
        """Embed texts (prefixes from model_config), in input order."""
        items = apply_prefix(check_texts(texts), self.config, content_type)
        out = np.zeros((len(items), self.dimension), dtype=np.float32)
        for idx, batch, outputs in self._results(items):
            vectors = self._vectors(outputs, batch)
            if not self.dimension:  # first call of a model without embedding_dimension
                self.dimension = vectors.shape[1]
                out = np.zeros((len(items), self.dimension), dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
                raise ModelError(
                    f"model returns vectors of shape {vectors.shape[1:]} but "
                    f"embedding_dimension is {self.dimension}"
                )
            out[idx] = vectors
        return out

    def _vectors(
        self, outputs: list[tuple[str, npt.NDArray[Any]]], batch: Encoded
    ) -> npt.NDArray[np.float32]:
        cfg = self.config or ModelConfig()
        if self.runner.dict_input:  # sentence-transformers TorchScript: pooled in the graph
            ready = _pick(outputs, "sentence_embedding")
            if ready is None:
                raise ModelError("TorchScript model returned no 'sentence_embedding' output")
            return np.asarray(ready, dtype=np.float32)
        mode = cfg.pooling_mode or PoolingMode.MEAN
        if mode is PoolingMode.NONE:
            if len(outputs) < 2:
                raise ModelError("pooling_mode none needs a second (pooled) model output")
            vectors = np.asarray(outputs[1][1], dtype=np.float32)
        else:
            tokens = _pick(outputs, "last_hidden_state")
            tokens = outputs[0][1] if tokens is None else tokens
            vectors = (
                np.asarray(tokens, dtype=np.float32)
                if tokens.ndim == 2
                else pool(tokens.astype(np.float32), batch.attention_mask, mode)
            )
        return l2_normalize(vectors) if cfg.normalize_result else vectors


class SparseRuntime(_Base):
    """SPARSE_ENCODING: ``encode(texts) -> [{token: weight}]`` (a ``SparseEncoder``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._names: dict[int, str] = {}  # token id -> its single-id decoding

    def encode(
        self,
        texts: Sequence[str],
        content_type: ContentType = "passage",
        *,
        token_ids: bool = False,
    ) -> list[dict[str, float]]:
        """Token-weight maps in input order; special tokens never appear."""
        items = apply_prefix(check_texts(texts), self.config, content_type)
        out: list[dict[str, float]] = [{} for _ in items]
        for idx, _, outputs in self._results(items):
            weights = _pick(outputs, "output")
            weights = outputs[0][1] if weights is None else weights
            if weights.ndim != 2:
                raise ModelError(f"sparse model output must be (batch, vocab), got {weights.shape}")
            maps = sparse_maps(
                weights, self.tokenizer.decode_id, token_ids=token_ids, names=self._names
            )
            for i, m in zip(idx, maps, strict=True):
                out[i] = m
        return out


class CrossRuntime(_Base):
    """TEXT_SIMILARITY: ``score(query, texts) -> (n,)`` raw logits (a ``CrossEncoder``).

    The pairs run in tight batches (:func:`plan_tight_batches`) of at most
    :data:`CROSS_TOKEN_BUDGET` tokens: a rerank's 100 (query, passage) pairs of mixed lengths
    padded into 2,048-token batches cost the graph about 15 % more CPU.
    """

    tight = True
    token_cap = CROSS_TOKEN_BUDGET

    def score(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """First logit per (query, text) pair, no sigmoid."""
        (query_text,) = check_texts([query])
        items = check_texts(texts)
        out = np.zeros(len(items), dtype=np.float32)
        for idx, _, outputs in self._results(items, query=query_text):
            logits = np.asarray(outputs[0][1], dtype=np.float32)
            out[idx] = logits.reshape(len(idx), -1)[:, 0]
        return out
