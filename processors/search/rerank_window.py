"""Beyond the plugin (opt-in): rerank one window of hits once, then page through it.

The plugin reranks only the page it is given, so page 2 is ordered independently of page 1 and
a document can appear on both or on neither. With ``"ext": {"neuralpipe": {"rerank_window":
N}}`` in the search request, the first request for a query fetches hits ``0..N`` (``from: 0,
size: N``), reranks them all, and keeps the reranked list in a :class:`RerankWindowCache`; every
request with the same body apart from ``from`` / ``size`` is then served from that list. Pages
past the window are cut at the window (``from >= N`` gives no hits, as hybrid's
``pagination_depth`` does). ``max_score`` is the window's best score, and ``hits.total``,
aggregations and the rest come from the windowed search. ``ext.neuralpipe`` never reaches the
node: :func:`window_request` strips it.

Example:
    >>> cache = RerankWindowCache()
    >>> calls = []
    >>> def search(body):
    ...     calls.append(body)
    ...     hits = [{"_id": str(i), "_score": float(i)} for i in range(body["size"])]
    ...     return {"hits": {"total": {"value": 3, "relation": "eq"}, "hits": hits}}
    >>> def rerank(response):
    ...     hits = response["hits"]["hits"][::-1]
    ...     return {**response, "hits": {**response["hits"], "hits": hits}}
    >>> body = {"query": {"match_all": {}}, "size": 2, "ext": {"neuralpipe": {"rerank_window": 3}}}
    >>> page = windowed_rerank("docs", body, search, rerank, cache)
    >>> [h["_id"] for h in page["hits"]["hits"]]
    ['2', '1']
    >>> page = windowed_rerank("docs", {**body, "from": 2}, search, rerank, cache)
    >>> [h["_id"] for h in page["hits"]["hits"]], len(calls), calls[0]["size"], "ext" in calls[0]
    (['0'], 1, 3, False)
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from processors.errors import InvalidQueryError
from processors.search.dsl_values import copy_json

__all__ = ["RerankWindowCache", "rerank_window", "window_request", "windowed_rerank"]

JSONObject = dict[str, Any]
WINDOW_FLAG = "rerank_window"
MAX_WINDOW = 10_000  # index.max_result_window default


def rerank_window(request_body: JSONObject) -> int | None:
    """The requested window size (``ext.neuralpipe.rerank_window``), or ``None``.

    Raises:
        InvalidQueryError: not an integer in [1, 10000].
    """
    ext = request_body.get("ext")
    ours = ext.get("neuralpipe") if isinstance(ext, dict) else None
    if not isinstance(ours, dict) or ours.get(WINDOW_FLAG) is None:
        return None
    window = ours[WINDOW_FLAG]
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW:
        raise InvalidQueryError(
            f"ext.neuralpipe.{WINDOW_FLAG} must be an integer in [1, {MAX_WINDOW}], got {window!r}"
        )
    return window


def _without_ours(request_body: JSONObject) -> JSONObject:
    body = copy_json(request_body)
    ext = body.get("ext")
    if isinstance(ext, dict):
        ext.pop("neuralpipe", None)
        if not ext:
            body.pop("ext")
    return body


def window_request(request_body: JSONObject, window: int) -> JSONObject:
    """The body fetching the whole window: ``from: 0``, ``size: window``, no ``ext.neuralpipe``."""
    body = _without_ours(request_body)
    body["from"], body["size"] = 0, window
    return body


class RerankWindowCache:
    """Reranked windows by request, least recently used first out, each for ``ttl_seconds``.

    Thread-safe. The key is the index, the pipeline and the request body without ``from`` and
    ``size``: a changed query, filter or window is a new entry.

    Example:
        >>> cache = RerankWindowCache(max_entries=2, ttl_seconds=60)
        >>> cache.key("docs", {"query": {"match_all": {}}, "from": 5}) == cache.key(
        ...     "docs", {"query": {"match_all": {}}, "size": 3})
        True
    """

    def __init__(
        self,
        max_entries: int = 256,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, JSONObject]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, index: str, request_body: JSONObject, pipeline_id: str = "") -> str:
        """A digest of everything that changes the window's content."""
        body = {k: v for k, v in request_body.items() if k not in ("from", "size")}
        text = json.dumps([index, pipeline_id, body], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> JSONObject | None:
        """The cached reranked response, or ``None`` (missing or expired)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] > self.ttl_seconds:
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, response: JSONObject) -> None:
        """Keep a reranked response (evicting the least recently used past ``max_entries``)."""
        with self._lock:
            self._entries[key] = (self._clock(), response)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _page(reranked: JSONObject, start: int, size: int) -> JSONObject:
    out = copy_json({k: v for k, v in reranked.items() if k != "hits"})
    hits = reranked["hits"]
    out["hits"] = {**copy_json({k: v for k, v in hits.items() if k != "hits"}),
                   "hits": copy_json(hits["hits"][start : start + size])}  # fmt: skip
    return out


def windowed_rerank(
    index: str,
    request_body: JSONObject,
    search: Callable[[JSONObject], JSONObject],
    rerank: Callable[[JSONObject], JSONObject],
    cache: RerankWindowCache,
    *,
    pipeline_id: str = "",
) -> JSONObject:
    """One page of a reranked window (or plain ``rerank(search(body))`` without the flag).

    Args:
        index: The searched index (part of the cache key).
        request_body: The user's search body, ``ext.neuralpipe.rerank_window`` included.
        search: Runs a body against the node (plus hybrid fusion, if any).
        rerank: The pipeline's response processors (``apply_rerank`` and friends).
        cache: Where windows are kept between pages.
        pipeline_id: Part of the cache key (another pipeline reranks differently).
    """
    window = rerank_window(request_body)
    if window is None:
        return rerank(search(request_body))
    start, size = int(request_body.get("from", 0)), int(request_body.get("size", 10))
    if start < 0 or size < 0:
        raise InvalidQueryError(f"[from] and [size] cannot be negative, found [{start}], [{size}]")
    key = cache.key(index, _without_ours(request_body) | {"ext.window": window}, pipeline_id)
    reranked = cache.get(key)
    if reranked is None:
        reranked = rerank(search(window_request(request_body, window)))
        cache.put(key, reranked)
    return _page(reranked, start, size)
