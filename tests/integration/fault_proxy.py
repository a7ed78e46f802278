"""An HTTP forwarder in front of the real node that can go down or answer 429/503 on demand.

Used by the bulk fault tests: a stopped proxy refuses connections exactly as a stopped node
does, and injected statuses come back as the node's own would (same JSON error shape).
Faults, each for the next N calls: ``fail_bulk`` / ``fail_simulate`` (whole-request statuses),
``item_429`` (every other ``_bulk`` item answered 429 and not passed on, the others indexed),
``reset_bulk`` (the request reaches the node, then the connection is reset without an
answer); ``outage_on_simulate`` seconds: the next ``_simulate`` call is reset and the
forwarder stays down that long. ``authorizations`` records the ``Authorization`` header of every request (or None).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class FaultProxy:
    """Forward to ``upstream``; ``fail_bulk`` = list of statuses for the next ``_bulk`` calls."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self.fail_bulk: list[int] = []
        self.fail_simulate: list[int] = []
        self.item_429 = 0
        self.reset_bulk = 0
        self.outage_on_simulate = 0.0
        self.simulate_outages = 0
        self.bulk_calls = 0
        self.injected = 0
        self.items_refused = 0
        self.resets = 0
        self.authorizations: list[str | None] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.authorizations.append(self.headers.get("Authorization"))
                if "_simulate" in self.path and proxy._outage_now():
                    self._reset()
                    return
                status = proxy._injected_status(self.path)
                refused: list[int] = []
                if status is None and "_bulk" in self.path and body and proxy._take("item_429"):
                    body, refused = _drop_every_other_item(body)
                    proxy.items_refused += len(refused)
                    if not body:  # every item refused: nothing to pass on
                        self._answer(200, _merge_refused(b"", refused))
                        return
                if status is not None:
                    payload = json.dumps({"error": {"type": "injected", "reason": "fault test"},
                                          "status": status}).encode()  # fmt: skip
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length")}  # fmt: skip
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if "_bulk" in self.path and proxy._take("reset_bulk"):
                    proxy.resets += 1  # the node has the documents; the client hears nothing
                    conn.close()
                    self._reset()
                    return
                if refused:
                    data = _merge_refused(data, refused)
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            def _reset(self) -> None:
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.close_connection = True

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Close the listening socket: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _outage_now(self) -> bool:
        with self._lock:
            seconds, self.outage_on_simulate = self.outage_on_simulate, 0.0
        if seconds <= 0:
            return False
        self.simulate_outages += 1
        threading.Thread(target=self.stop, daemon=True).start()
        threading.Timer(seconds, self.start).start()
        return True

    def _take(self, fault: str) -> bool:
        with self._lock:
            left: int = getattr(self, fault)
            if left <= 0:
                return False
            setattr(self, fault, left - 1)
            return True

    def _injected_status(self, path: str) -> int | None:
        with self._lock:
            if "_simulate" in path and self.fail_simulate:
                self.injected += 1
                return self.fail_simulate.pop(0)
            if "_bulk" not in path:
                return None
            self.bulk_calls += 1
            if self.fail_bulk:
                self.injected += 1
                return self.fail_bulk.pop(0)
        return None


def _drop_every_other_item(body: bytes) -> tuple[bytes, list[int]]:
    """The bulk body without items 0, 2, 4...; their positions (index/create actions only)."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
    kept = [pair for number, pair in enumerate(pairs) if number % 2]
    refused = [number for number in range(len(pairs)) if number % 2 == 0]
    return b"".join(line + b"\n" for pair in kept for line in pair), refused


def _merge_refused(data: bytes, refused: list[int]) -> bytes:
    answer = json.loads(data) if data else {"took": 0, "items": []}
    forwarded = iter(answer.get("items", []))
    total = len(refused) + len(answer.get("items", []))
    rejected = {"index": {"status": 429, "error": {
        "type": "es_rejected_execution_exception", "reason": "injected: queue is full"}}}  # fmt: skip
    answer["items"] = [rejected if n in refused else next(forwarded) for n in range(total)]
    answer["errors"] = True
    return json.dumps(answer).encode()
