"""Query-time models for the proxy: an LRU cache of query embeddings, and micro-batching.

:class:`QueryModels` wraps a ``model_id -> model`` resolver (a ``ModelStore.get``). The
embedders and sparse encoders it hands out look up each ``(model_id, text, content_type)``
in one LRU cache first; the texts that miss are sent to a
:class:`~processors.proxy.batching.MicroBatcher`, whose ``slots`` inference threads merge the
calls that arrive while they are busy into one model call (no timer: a lone request is run at
once). Without micro-batching the same threads run one request's texts per call.
Cross-encoders are passed through, timed as ``rerank``.

Example:
    >>> from processors.testing.fakes import HashEmbedder
    >>> models = QueryModels(lambda model_id: HashEmbedder(8), cache_size=100)
    >>> models("m").embed(["hello"], content_type="query").shape
    (1, 8)
    >>> models.cache_info()["size"]
    1
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from processors.models.encoders import ContentType, CrossEncoder, SparseEncoder, TextEmbedder
from processors.proxy.batching import Batch, MicroBatcher, by_length
from processors.proxy.upstream import record

ModelFor = Callable[[str], Any]


class QueryModels:
    """``model_id -> model`` with cached, micro-batched query inference.

    Args:
        resolve: The underlying resolver (``ModelStore.get`` or similar).
        cache_size: Entries of the LRU cache (0 disables it).
        micro_batch: Merge concurrent model calls (see :class:`MicroBatcher`); off, each
            model call embeds one request's texts, through the same ``slots``.
        slots: Inference threads (model calls at once) per model.
        max_batch: Most texts in one merged model call.
        call_overhead: A model call's fixed cost in tokens: merged texts are split into
            calls of similar lengths where that saves more padding than it costs (see
            :func:`~processors.proxy.batching.length_groups`; 0: never split).
        content_types: Content types that are cached and batched (passages go straight
            through: ingest texts are rarely repeated).
    """

    def __init__(
        self,
        resolve: ModelFor,
        *,
        cache_size: int = 10_000,
        micro_batch: bool = True,
        slots: int = 1,
        max_batch: int = 64,
        call_overhead: float = 8.0,
        content_types: tuple[str, ...] = ("query",),
    ) -> None:
        self.resolve = resolve
        self.cache_size = cache_size
        self.micro_batch = micro_batch
        self.slots = slots
        self.max_batch = max_batch
        self.call_overhead = call_overhead
        self.content_types = content_types
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._batchers: dict[Hashable, MicroBatcher] = {}
        self._kinds: dict[type, str] = {}
        self.hits = 0
        self.misses = 0

    def __call__(self, model_id: str) -> Any:
        model = self.resolve(model_id)
        kind = self._kinds.get(type(model))
        if kind is None:  # runtime protocol checks are slow: once per model class
            kind = self._kinds[type(model)] = _kind(model)
        if kind == "dense":
            return _Embedder(self, model_id, model)
        if kind == "sparse":
            return _Sparse(self, model_id, model)
        if kind == "cross":
            return _Cross(model)
        return model

    def cache_info(self) -> dict[str, int]:
        return {"size": len(self._cache), "hits": self.hits, "misses": self.misses}

    def infer(
        self, kind: str, model_id: str, model: Any, texts: Sequence[str], content_type: str
    ) -> list[Any]:
        """One result per text: cached ones, the rest computed (batched) and cached."""
        started = time.perf_counter()
        try:
            if content_type not in self.content_types:
                return list(_call(kind, model, content_type)(list(texts)))
            keys: list[Hashable] = [(model_id, text, content_type, kind) for text in texts]
            found = self._lookup(keys)
            missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
            if missing:
                computed = dict(zip(missing, self._compute(kind, model_id, model, missing,
                                                           content_type), strict=True))  # fmt: skip
                self._store({(model_id, t, content_type, kind): v for t, v in computed.items()})
                found = [computed[t] if v is None else v for t, v in zip(texts, found, strict=True)]
            return found
        finally:
            record("embed", time.perf_counter() - started)

    def _compute(
        self, kind: str, model_id: str, model: Any, texts: list[str], content_type: str
    ) -> list[Any]:
        key = (kind, model_id, id(model), content_type)
        batcher = self._batchers.get(key)
        if batcher is None:
            with self._lock:
                batcher = self._batchers.get(key)
                if batcher is None:
                    call = _call(kind, model, content_type)
                    if self.micro_batch and self.call_overhead > 0:
                        call = by_length(call, model, self.call_overhead)
                    batcher = self._batchers[key] = MicroBatcher(
                        call, self.max_batch, slots=self.slots, merge=self.micro_batch
                    )
        return batcher.submit(texts)

    def _lookup(self, keys: list[Hashable]) -> list[Any]:
        with self._lock:
            found = []
            for key in keys:
                value = self._cache.get(key)
                if value is not None:
                    self._cache.move_to_end(key)
                found.append(value)
        hits = sum(v is not None for v in found)
        self.hits += hits
        self.misses += len(keys) - hits
        return found

    def _store(self, values: dict[Hashable, Any]) -> None:
        if self.cache_size <= 0:
            return
        with self._lock:
            self._cache.update(values)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)


def _kind(model: Any) -> str:
    if isinstance(model, TextEmbedder):
        return "dense"
    if isinstance(model, SparseEncoder):
        return "sparse"
    if isinstance(model, CrossEncoder):
        return "cross"
    return "other"


def _call(kind: str, model: Any, content_type: str) -> Batch:
    if kind == "dense":
        return lambda texts: list(model.embed(texts, content_type=content_type))
    return lambda texts: model.encode(texts, content_type=content_type)


class _Wrapped:
    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:  # tokenizer, stats... of the model
        if name == "_model":
            raise AttributeError(name)
        return getattr(self._model, name)


class _Embedder(_Wrapped):
    def __init__(self, owner: QueryModels, model_id: str, model: TextEmbedder) -> None:
        super().__init__(model)
        self._owner, self._model_id = owner, model_id
        self.dimension = model.dimension

    def embed(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> npt.NDArray[np.float32]:
        rows = self._owner.infer("dense", self._model_id, self._model, texts, content_type)
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([np.asarray(r, dtype=np.float32) for r in rows])


class _Sparse(_Wrapped):
    def __init__(self, owner: QueryModels, model_id: str, model: SparseEncoder) -> None:
        super().__init__(model)
        self._owner, self._model_id = owner, model_id

    def encode(
        self, texts: Sequence[str], content_type: ContentType = "passage", token_ids: bool = False
    ) -> list[dict[str, float]]:
        if token_ids:  # keyed by token id (sparse_vector fields): the model itself, uncached
            found: list[dict[str, float]] = self._model.encode(texts, content_type, token_ids=True)
            return found
        maps = self._owner.infer("sparse", self._model_id, self._model, texts, content_type)
        return [dict(m) for m in maps]


class _Cross(_Wrapped):
    def score(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        started = time.perf_counter()
        try:
            scores: npt.NDArray[np.float32] = self._model.score(query, texts)
            return scores
        finally:
            record("rerank", time.perf_counter() - started)
