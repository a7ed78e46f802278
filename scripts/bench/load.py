"""The load generator of ``proxy.py`` and ``upstream_ab.py``: it runs in a child process.

Unmodified opensearch-py clients (keep-alive), one per URL, kept with their connections
across calls; requests sent from threads that start together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")

_CLIENTS: dict[str, Any] = {}


def client_for(url: str) -> Any:
    """One unmodified opensearch-py client per URL, kept (with its connections) across calls."""
    if url not in _CLIENTS:
        from opensearchpy import OpenSearch

        _CLIENTS[url] = OpenSearch(hosts=[url], timeout=300, pool_maxsize=32)
    return _CLIENTS[url]


def threaded(
    items: Sequence[Item],
    threads: int,
    send: Callable[[Item], Any],
    check: Callable[[Item, Any], None],
) -> dict[str, Any]:
    """``send(item)`` for ``items`` from ``threads`` threads (each its share, in order).

    ``check(item, answer)`` raises when an answer is wrong (it is not timed); the first error
    is raised here once every thread has ended. Returns the wall seconds of the whole load and
    the milliseconds of each ``send``.
    """
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(number: int) -> None:
        barrier.wait()
        try:
            for item in items[number::threads]:
                start = time.perf_counter()
                answer = send(item)
                latencies[number].append((time.perf_counter() - start) * 1000)
                check(item, answer)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return {"seconds": seconds, "ms": [ms for part in latencies for ms in part]}
