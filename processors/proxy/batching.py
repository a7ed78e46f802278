"""Micro-batching of query inference: :class:`MicroBatcher` and the split by length.

:class:`MicroBatcher` runs calls of a batch function (texts -> one result per text) on
``slots`` inference threads and merges the calls that arrive while those are busy into one;
:func:`length_groups` / :func:`by_length` split a merged call into calls of similar text
lengths where that saves more padding than the extra call costs.

Example:
    >>> MicroBatcher(lambda texts: [t.upper() for t in texts], slots=2).submit(["a"])
    ['A']
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import Any

Batch = Callable[[list[str]], Sequence[Any]]


class _Job:
    __slots__ = ("done", "error", "results", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.results: list[Any] = []
        self.error: BaseException | None = None


class MicroBatcher:
    """Runs calls of ``batch`` (a list of texts -> one result per text) on ``slots`` inference
    threads, merging the calls that wait.

    Callers queue their texts and wait; each inference thread takes everything queued (up to
    ``max_texts`` texts) as one model call, and goes straight on to the next while the queue
    is not empty, so the model never waits on a caller's thread to wake up and take the GIL.
    There is no timer: a lone request is run at once. With ``merge=False`` every model call
    takes one caller's texts: the same threads, no batching (the fair baseline). A failed
    merged call is retried per caller, so one bad request fails alone. The threads are
    started on first use and end after ``idle`` seconds without work.

    Example:
        >>> MicroBatcher(lambda texts: [t.upper() for t in texts]).submit(["a", "b"])
        ['A', 'B']
    """

    def __init__(
        self,
        batch: Batch,
        max_texts: int = 64,
        *,
        slots: int = 1,
        merge: bool = True,
        idle: float = 30.0,
    ) -> None:
        self._batch = batch
        self._max_texts = max_texts
        self._slots = max(1, slots)
        self._merge = merge
        self._idle = idle
        self._ready = threading.Condition(threading.Lock())
        self._pending: collections.deque[_Job] = collections.deque()
        self._threads = 0
        self._waiting = 0  # inference threads waiting for work
        self.calls = 0
        self.texts = 0

    def submit(self, texts: list[str]) -> list[Any]:
        """One result per text, from a model call of its own or shared with other callers."""
        job = _Job(texts)
        with self._ready:
            self._pending.append(job)
            if self._waiting:
                self._ready.notify()
            elif self._threads < self._slots:
                self._threads += 1
                threading.Thread(target=self._serve, name="neuralpipe-inference",
                                 daemon=True).start()  # fmt: skip
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.results

    def _serve(self) -> None:
        """An inference thread: model calls over the queue until it has been idle a while."""
        while True:
            with self._ready:
                while not self._pending:
                    self._waiting += 1
                    woken = self._ready.wait(self._idle)
                    self._waiting -= 1
                    if not woken and not self._pending:
                        self._threads -= 1
                        return
                batch = self._take()
            try:
                self._call(batch)
            finally:
                for job in batch:
                    job.done.set()

    def _take(self) -> list[_Job]:
        batch: list[_Job] = []
        count = 0
        while self._pending:
            job = self._pending[0]
            if batch and (not self._merge or count + len(job.texts) > self._max_texts):
                break
            self._pending.popleft()
            batch.append(job)
            count += len(job.texts)
        return batch

    def _call(self, batch: list[_Job]) -> None:
        texts = [t for job in batch for t in job.texts]
        self.calls += 1
        self.texts += len(texts)
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


def length_groups(lengths: Sequence[int], overhead: float) -> list[list[int]]:
    """Indices grouped into model calls of least total cost, padding included.

    A call costs ``overhead + size x longest`` (in tokens: every text is padded to the
    longest of its call, and each call has a fixed cost, on CPU mostly streaming the
    weights). Groups are runs of the texts sorted by length; the best cut is found by dynamic
    programming over the distinct lengths.

    Example:
        >>> length_groups([9, 10, 30, 9, 31], overhead=8)
        [[0, 3, 1], [2, 4]]
        >>> length_groups([9, 10, 30], overhead=100)
        [[0, 1, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sizes: list[int] = []  # texts per distinct length, ascending
    values: list[int] = []
    for i in order:
        if values and values[-1] == lengths[i]:
            sizes[-1] += 1
        else:
            values.append(lengths[i])
            sizes.append(1)
    best = [0.0] * (len(values) + 1)  # best[j]: cost of the first j distinct lengths
    cut = [0] * (len(values) + 1)
    for j in range(1, len(values) + 1):
        count, best[j] = 0, float("inf")
        for i in range(j, 0, -1):  # the last call takes distinct lengths i-1 .. j-1
            count += sizes[i - 1]
            cost = best[i - 1] + overhead + count * values[j - 1]
            if cost < best[j]:
                best[j], cut[j] = cost, i - 1
    ends: list[int] = []  # each call's end, in distinct lengths
    j = len(values)
    while j > 0:
        ends.append(j)
        j = cut[j]
    groups: list[list[int]] = []
    start = 0
    for end in reversed(ends):
        stop = sum(sizes[:end])
        groups.append(order[start:stop])
        start = stop
    return groups


def by_length(call: Batch, model: Any, overhead: float) -> Batch:
    """``call`` run once per :func:`length_groups` group (when the model's tokenizer can
    count), so that merged texts of different lengths are not all padded to the longest."""
    tokenizer = getattr(model, "tokenizer", None)
    count = getattr(tokenizer, "offsets", None)  # tokens without special ones, no stats kept
    if count is None:
        return call

    def grouped(texts: list[str]) -> list[Any]:
        if len(texts) < 3:
            return list(call(texts))
        groups = length_groups([len(o) for o in count(texts)], overhead)
        if len(groups) == 1:
            return list(call(texts))
        out: list[Any] = [None] * len(texts)
        for group in groups:
            for i, result in zip(group, call([texts[i] for i in group]), strict=True):
                out[i] = result
        return out

    return grouped
