"""Query-time models for the proxy: an LRU cache of query embeddings, and micro-batching.

:class:`QueryModels` wraps a ``model_id -> model`` resolver (a ``ModelStore.get``). The
embedders and sparse encoders it hands out look up each ``(model_id, text, content_type)``
in one LRU cache first; the texts that miss are sent to a :class:`MicroBatcher`, which merges
the calls that arrive while the model is busy with another batch into one model call (no
timer: a lone request is never delayed). Cross-encoders are passed through, timed as
``rerank``.

Example:
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
from processors.proxy.upstream import record

ModelFor = Callable[[str], Any]
Batch = Callable[[list[str]], Sequence[Any]]


class _Job:
    __slots__ = ("done", "error", "finished", "results", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.finished = False
        self.results: list[Any] = []
        self.error: BaseException | None = None


class MicroBatcher:
    """Merges concurrent calls of ``batch`` (a list of texts -> one result per text).

    The first caller runs the model; callers arriving meanwhile queue up, and when it is done
    the oldest waiting caller runs everything queued in one call. A failed merged call is
    retried per caller, so one bad request fails alone.

    Example:
        >>> MicroBatcher(lambda texts: [t.upper() for t in texts]).submit(["a", "b"])
        ['A', 'B']
    """

    def __init__(self, batch: Batch, max_texts: int = 256) -> None:
        self._batch = batch
        self._max_texts = max_texts
        self._lock = threading.Lock()
        self._pending: list[_Job] = []
        self._busy = False
        self.calls = 0

    def submit(self, texts: list[str]) -> list[Any]:
        job = _Job(texts)
        with self._lock:
            self._pending.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.done.wait()
        if not job.finished:  # first in, or handed the lead by the previous runner
            self._run()
        if job.error is not None:
            raise job.error
        return job.results

    def _run(self) -> None:
        with self._lock:
            batch: list[_Job] = []
            count = 0
            while self._pending and (not batch or count < self._max_texts):
                job = self._pending.pop(0)
                batch.append(job)
                count += len(job.texts)
        try:
            self._call(batch)
        finally:
            for job in batch:
                job.finished = True
                job.done.set()
            with self._lock:
                if self._pending:
                    self._pending[0].done.set()  # hand the lead on (finished stays False)
                else:
                    self._busy = False

    def _call(self, batch: list[_Job]) -> None:
        texts = [t for job in batch for t in job.texts]
        self.calls += 1
        try:
            results = list(self._batch(texts))
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for job in batch:  # isolate the failing request
                try:
                    job.results = list(self._batch(job.texts))
                except Exception as single:
                    job.error = single
            return
        position = 0
        for job in batch:
            job.results = results[position : position + len(job.texts)]
            position += len(job.texts)


class QueryModels:
    """``model_id -> model`` with cached, micro-batched query inference.

    Args:
        resolve: The underlying resolver (``ModelStore.get`` or similar).
        cache_size: Entries of the LRU cache (0 disables it).
        micro_batch: Merge concurrent model calls (see :class:`MicroBatcher`).
        content_types: Content types that are cached and batched (passages go straight
            through: ingest texts are rarely repeated).
    """

    def __init__(
        self,
        resolve: ModelFor,
        *,
        cache_size: int = 10_000,
        micro_batch: bool = True,
        content_types: tuple[str, ...] = ("query",),
    ) -> None:
        self.resolve = resolve
        self.cache_size = cache_size
        self.micro_batch = micro_batch
        self.content_types = content_types
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._batchers: dict[Hashable, MicroBatcher] = {}
        self.hits = 0
        self.misses = 0

    def __call__(self, model_id: str) -> Any:
        model = self.resolve(model_id)
        if isinstance(model, TextEmbedder):
            return _Embedder(self, model_id, model)
        if isinstance(model, SparseEncoder):
            return _Sparse(self, model_id, model)
        if isinstance(model, CrossEncoder):
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
        call = _call(kind, model, content_type)
        if not self.micro_batch:
            return list(call(texts))
        key = (kind, model_id, id(model), content_type)
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None:
                batcher = self._batchers[key] = MicroBatcher(call)
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
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> list[dict[str, float]]:
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
