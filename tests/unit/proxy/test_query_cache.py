"""The query-embedding LRU cache and the micro-batcher."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from processors.models.encoders import ContentType, SparseEncoder, TextEmbedder
from processors.proxy.query_cache import MicroBatcher, QueryModels
from processors.testing.fakes import CountSparseEncoder, HashEmbedder


class Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(4)
        self.calls: list[list[str]] = []
        self.tokenizer_name = "words"

    def embed(self, texts: Sequence[str], content_type: ContentType = "passage") -> Any:
        self.calls.append(list(texts))
        return super().embed(texts, content_type)


def test_cache_hits_order_and_eviction() -> None:
    model = Counting()
    models = QueryModels(lambda _: model, cache_size=2, micro_batch=False)
    wrapped = models("m")
    assert isinstance(wrapped, TextEmbedder) and not isinstance(wrapped, SparseEncoder)
    assert wrapped.tokenizer_name == "words"
    first = wrapped.embed(["a", "b", "a"], content_type="query")
    assert np.allclose(first, model.embed(["a", "b", "a"]))
    assert model.calls[0] == ["a", "b"]
    wrapped.embed(["b"], content_type="query")
    assert len(model.calls) == 2  # the direct call above; "b" came from the cache
    wrapped.embed(["c"], content_type="query")  # evicts "a"
    wrapped.embed(["a"], content_type="query")
    assert model.calls[-1] == ["a"]
    assert models.cache_info()["size"] == 2


def test_passages_are_not_cached_and_keys_include_model_and_type() -> None:
    model = Counting()
    models = QueryModels(lambda _: model, micro_batch=False)
    models("m").embed(["a"], content_type="passage")
    models("m").embed(["a"], content_type="passage")
    assert len(model.calls) == 2
    models("m").embed(["a"], content_type="query")
    models("other").embed(["a"], content_type="query")
    assert len(model.calls) == 4


def test_sparse_maps_are_cached_and_copied() -> None:
    models = QueryModels(lambda _: CountSparseEncoder(), micro_batch=False)
    encoder = models("s")
    assert isinstance(encoder, SparseEncoder) and not isinstance(encoder, TextEmbedder)
    first = encoder.encode(["a a b"], content_type="query")[0]
    first["a"] = 0.0
    assert encoder.encode(["a a b"], content_type="query")[0]["a"] > 1


def test_micro_batcher_merges_calls_that_arrive_while_busy() -> None:
    gate = threading.Event()
    batches: list[list[str]] = []

    def slow(texts: list[str]) -> list[str]:
        batches.append(texts)
        if len(batches) == 1:
            gate.wait(5)
        return [t.upper() for t in texts]

    batcher = MicroBatcher(slow)
    results: dict[str, list[str]] = {}

    def submit(name: str) -> None:
        results[name] = batcher.submit([name, name + "2"])

    threads = [threading.Thread(target=submit, args=(n,)) for n in "abcd"]
    threads[0].start()
    while not batches:
        time.sleep(0.001)
    for thread in threads[1:]:
        thread.start()
    while len(batcher._pending) < 3:
        time.sleep(0.001)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert results == {n: [n.upper(), n.upper() + "2"] for n in "abcd"}
    assert len(batches) == 2 and sorted(batches[1]) == sorted(["b", "b2", "c", "c2", "d", "d2"])


def test_micro_batcher_isolates_a_failing_request() -> None:
    def fn(texts: list[str]) -> list[str]:
        if "bad" in texts:
            raise ValueError("bad input")
        return texts

    batcher = MicroBatcher(fn)
    batcher._busy = True  # queue two jobs, then run them as one batch
    out: dict[str, Any] = {}

    def submit(name: str) -> None:
        try:
            out[name] = batcher.submit([name])
        except ValueError as exc:
            out[name] = exc

    threads = [threading.Thread(target=submit, args=(n,)) for n in ("ok", "bad")]
    for thread in threads:
        thread.start()
    while len(batcher._pending) < 2:
        time.sleep(0.001)
    batcher._pending[0].done.set()  # hand the lead to the first
    for thread in threads:
        thread.join(5)
    assert out["ok"] == ["ok"] and isinstance(out["bad"], ValueError)
    with pytest.raises(ValueError):
        batcher.submit(["bad"])
    assert batcher.submit(["fine"]) == ["fine"]


def test_batched_embeddings_equal_direct_ones() -> None:
    model = HashEmbedder(8)
    models = QueryModels(lambda _: model)
    got = models("m").embed(["x y", "z"], content_type="query")
    assert got.shape == (2, 8) and np.allclose(got, model.embed(["x y", "z"]))
    assert models("m").embed([], content_type="query").shape == (0, 8)
