"""Bulk requests that lose no valid document: chunking, back-pressure, outages, poison items.

:func:`send_actions` sends index actions in ``_bulk`` chunks (split by count and bytes) and
returns one ``(ok, item)`` per action, in order, shaped like the node's ``items``.

* Back-pressure is not an error: items answered 429 (or 502/503/504) are sent again, with
  exponential back-off, and so is a whole request answered so or not answered at all (node
  down). The wait is bounded: when ``retry_for`` seconds pass without any document accepted,
  :class:`~processors.errors.ClusterUnavailableError` stops the run, whose checkpoint still
  names the batch, so ``--resume`` sends it again. Nothing is dead-lettered for back-pressure.
* A request the node refuses whole (400/413, e.g. one ``_id`` over 512 bytes) is split in
  halves until the refused document is alone; only that one fails.
* A document that cannot be serialised fails alone before anything is sent.

Example:
    >>> results = send_actions(client, actions, chunk_docs=500)   # doctest: +SKIP
    >>> results[0][1]["index"]["status"]                           # doctest: +SKIP
    201
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from processors.errors import ClusterUnavailableError

JSONObject = dict[str, Any]
Result = tuple[bool, JSONObject]
Line = tuple[int, str]  # (position in actions, "meta\nsource\n")
RETRY_STATUSES = frozenset((429, 502, 503, 504))
REFUSED_WHOLE = frozenset((400, 413))


class _Patience:
    """Back-off between attempts; gives up after ``window`` seconds without progress."""

    def __init__(self, window: float, sleep: Callable[[float], None]) -> None:
        self.window, self.sleep = window, sleep
        self.progress()

    def progress(self) -> None:
        self.deadline, self.backoff = time.monotonic() + self.window, 1.0

    def wait(self, why: str) -> None:
        if time.monotonic() + self.backoff > self.deadline:
            raise ClusterUnavailableError(
                f"{why}, for {self.window:.0f} s with no document accepted; everything "
                "acknowledged so far is checkpointed: run again with --resume"
            )
        self.sleep(self.backoff)
        self.backoff = min(self.backoff * 2, 15.0)


def send_actions(
    client: Any,
    actions: list[JSONObject],
    *,
    chunk_docs: int = 500,
    max_chunk_bytes: int = 10 * 1024 * 1024,
    retry_for: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Result]:
    """Index ``actions`` (``_index``, ``_id``, ``_source``); one ``(ok, item)`` per action."""
    results: list[Result | None] = [None] * len(actions)
    lines: list[Line] = []
    dumps = client.transport.serializer.dumps
    for position, action in enumerate(actions):
        meta = {"index": {"_index": action["_index"], "_id": action["_id"]}}
        try:
            line = f"{dumps(meta)}\n{dumps(action['_source'])}\n"
            line.encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            error = {"type": "serialization_exception", "reason": f"cannot be sent: {exc}"}
            results[position] = (False, _item(action["_id"], 400, error))
            continue
        lines.append((position, line))
    patience = _Patience(retry_for, sleep)
    for chunk in _chunks(lines, chunk_docs, max_chunk_bytes):
        _post(client, actions, chunk, results, patience)
    return [r for r in results if r is not None]


def _item(doc_id: Any, status: int, error: Any = None) -> JSONObject:
    info: JSONObject = {"_id": doc_id, "status": status}
    if error is not None:
        info["error"] = error
    return {"index": info}


def _chunks(lines: list[Line], max_docs: int, max_bytes: int) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    size = 0
    for line in lines:
        cost = len(line[1]) + 1
        if chunk and (len(chunk) >= max_docs or size + cost > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += cost
    if chunk:
        yield chunk


def _post(
    client: Any, actions: list[JSONObject], pending: list[Line], results: list[Result | None],
    patience: _Patience,
) -> None:  # fmt: skip
    while pending:
        try:
            answer = client.bulk(body="".join(line for _, line in pending))
        except OSConnectionError as exc:
            patience.wait(f"the cluster is unreachable ({exc.__class__.__name__})")
            continue
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if status in RETRY_STATUSES:
                patience.wait(f"the cluster answered {status} to every bulk request")
                continue
            if status not in REFUSED_WHOLE:
                raise
            if len(pending) > 1:  # find the document that makes the node refuse the request
                half = len(pending) // 2
                _post(client, actions, pending[:half], results, patience)
                _post(client, actions, pending[half:], results, patience)
                return
            position = pending[0][0]
            error = exc.info.get("error", exc.info) if isinstance(exc.info, dict) else exc.error
            results[position] = (False, _item(actions[position]["_id"], status, error))
            return
        retry: list[Line] = []
        for line, item in zip(pending, answer["items"], strict=True):
            status = int(next(iter(item.values())).get("status", 500))
            if status in RETRY_STATUSES:
                retry.append(line)
            else:
                results[line[0]] = (200 <= status < 300, item)
        if len(retry) < len(pending):
            patience.progress()
        pending = retry
        if pending:
            patience.wait(f"the cluster kept answering 429/5xx to {len(pending)} document(s)")
