"""The query-embedding LRU cache and the micro-batcher."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from processors.models.encoders import ContentType, SparseEncoder, TextEmbedder
from processors.proxy.batching import MicroBatcher, by_length, length_groups
from processors.proxy.query_cache import QueryModels
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
    gate = threading.Event()

    def fn(texts: list[str]) -> list[str]:
        if texts == ["first"]:
            gate.wait(5)  # keeps the one thread busy while the next two queue up
        if "bad" in texts:
            raise ValueError("bad input")
        return texts

    batcher = MicroBatcher(fn)
    out: dict[str, Any] = {}

    def submit(name: str) -> None:
        try:
            out[name] = batcher.submit([name])
        except ValueError as exc:
            out[name] = exc

    threads = [threading.Thread(target=submit, args=(n,)) for n in ("first", "ok", "bad")]
    threads[0].start()
    while batcher.calls < 1:
        time.sleep(0.001)
    for thread in threads[1:]:
        thread.start()
    while len(batcher._pending) < 2:
        time.sleep(0.001)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert out["first"] == ["first"] and out["ok"] == ["ok"] and isinstance(out["bad"], ValueError)
    with pytest.raises(ValueError):
        batcher.submit(["bad"])
    assert batcher.submit(["fine"]) == ["fine"]


def test_idle_inference_threads_end_and_come_back() -> None:
    batcher = MicroBatcher(lambda texts: texts, idle=0.05)
    assert batcher.submit(["a"]) == ["a"]
    deadline = time.monotonic() + 5
    while batcher._threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher._threads == 0
    assert batcher.submit(["b"]) == ["b"]


def test_batched_embeddings_equal_direct_ones() -> None:
    model = HashEmbedder(8)
    models = QueryModels(lambda _: model)
    got = models("m").embed(["x y", "z"], content_type="query")
    assert got.shape == (2, 8) and np.allclose(got, model.embed(["x y", "z"]))
    assert models("m").embed([], content_type="query").shape == (0, 8)


@pytest.mark.parametrize(("slots", "merge"), [(1, True), (2, True), (2, False), (3, False)])
def test_micro_batcher_slots_and_merging(slots: int, merge: bool) -> None:
    lock = threading.Lock()
    running, peak, sizes = [0], [0], []

    def fn(texts: list[str]) -> list[str]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
            sizes.append(len(texts))
        return [t.upper() for t in texts]

    batcher = MicroBatcher(fn, max_texts=6, slots=slots, merge=merge)
    wrong: list[Any] = []

    def work(number: int) -> None:
        for i in range(20):
            texts = [f"{number}-{i}-{k}" for k in range(1 + (number + i) % 3)]
            if batcher.submit(texts) != [t.upper() for t in texts]:
                wrong.append(texts)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not wrong and not any(t.is_alive() for t in threads)
    assert peak[0] <= slots and batcher._threads <= slots and not batcher._pending
    assert max(sizes) <= (6 if merge else 3)  # no merging: one caller's texts per call
    assert batcher.texts == sum(sizes) and batcher.calls == len(sizes)


def test_length_groups_cut_where_padding_costs_more_than_a_call() -> None:
    assert length_groups([10] * 5, overhead=8) == [[0, 1, 2, 3, 4]]
    assert length_groups([9, 30, 10, 31], overhead=8) == [[0, 2], [1, 3]]
    assert length_groups([9, 30, 10, 31], overhead=1000) == [[0, 2, 1, 3]]
    assert length_groups([], overhead=8) == []
    groups = length_groups([5, 40, 6, 41, 20, 22, 7], overhead=8)
    assert sorted(i for g in groups for i in g) == list(range(7))


class Tokenized(Counting):
    """A dense model whose tokenizer counts words (as the runtimes' ``offsets`` does)."""

    class _Words:
        def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
            return [[(0, 0)] * len(t.split()) for t in texts]

    tokenizer = _Words()


def test_merged_texts_of_different_lengths_go_in_callsby_length() -> None:
    model = Tokenized()
    call = by_length(lambda texts: list(model.embed(texts)), model, overhead=2)
    texts = ["a", "b b b b b b b b b b", "c", "d d d d d d d d d d d", "e"]
    out = call(texts)
    assert np.allclose(np.stack(out), model.embed(texts))  # in input order
    assert sorted(map(len, model.calls[:-1])) == [2, 3]  # short ones, long ones


def test_without_micro_batching_each_model_call_is_one_request() -> None:
    model = Counting()
    models = QueryModels(lambda _: model, cache_size=0, micro_batch=False, slots=2)
    batcher_calls: list[int] = []

    def ask(number: int) -> None:
        models("m").embed([f"q{number}", f"r{number}"], content_type="query")
        batcher_calls.append(number)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(batcher_calls) == 6 and all(len(c) == 2 for c in model.calls)
