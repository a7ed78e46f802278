"""The proxy's upstream client, A/B: ``scripts/bench/proxy.py --transport h1|aiohttp|httpx``.

The proxy relays every passthrough request with ``Upstream.open``, which hands the request
(head bytes, body) to ``Upstream.transport.exchange``: in production that is our
hand-written :class:`~processors.proxy.connection.H1Transport`. Here the same proxy app is
run a second time with that one attribute replaced by an adapter over a well-kept client
(aiohttp's ``ClientSession``, or httpx's own ``AsyncHTTPTransport``: httpcore + h11), so
only the upstream client differs. The adapters take ``exchange``'s arguments as they are
(the request head is split back into its target and headers: a few microseconds, charged to
the candidates). The proxy's own requests (index metadata, cached) stay on ``H1Transport``.

Workloads, all passthrough (no pipeline): ``GET /{index}/_search?q=...``, ``POST
/{index}/_search`` with a ``match`` body, ``POST /{index}/_bulk`` of 10 small documents; each
at 1 and 16 concurrent clients (opensearch-py, keep-alive, in a separate process). Every
round runs every target (the node direct, the proxy on h1, the proxy on the candidate) in a
rotated order, so a load change on the shared machine hits all of them alike.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from load import client_for, threaded  # the sibling module (scripts/bench/ is sys.path[0])

Origin = tuple[str, str, int]
RawHeaders = list[tuple[bytes, bytes]]
"""As :mod:`processors.proxy.connection` has them (not imported: the load generator's child
process imports this module, and ``processors.proxy`` would bring the whole app)."""
Call = tuple[str, str, str | None]
"""``(method, path with query, body)`` of one request."""
Answer = tuple[int, RawHeaders, Any]
"""``(status, raw headers, body chunks with aclose())`` of one relayed request."""


@dataclass(frozen=True)
class Outgoing:
    """One relayed request, as a candidate client sends it."""

    origin: Origin
    method: str
    target: str
    """The path with its query, as the client wrote it."""
    headers: RawHeaders
    content: Any
    """The ready body (bytes), an async iterable of its chunks, or None."""
    timeouts: dict[str, float | None]
    """httpx's ``connect`` / ``read`` / ``pool`` seconds."""


def split_head(head: bytes) -> tuple[str, RawHeaders]:
    """The target and the headers of a request head written by ``request_head``."""
    lines = head.split(b"\r\n")
    target = lines[0].split(b" ", 2)[1].decode("latin-1")
    headers = [(k, v) for k, _, v in (line.partition(b": ") for line in lines[1:] if line)]
    return target, headers


class _Exchange:
    """``H1Transport.exchange`` for a candidate client: the head split back into its target and
    headers, the body (ready or streamed) handed on as it is, to the subclass's ``send``."""

    async def exchange(
        self,
        origin: Origin,
        method: str,
        head: bytes,
        body: bytes | None,
        stream: Any,
        timeouts: dict[str, float | None],
        *,
        chunked: bool = False,
    ) -> Answer:
        target, headers = split_head(head)
        content = body if stream is None else stream
        return await self.send(Outgoing(origin, method, target, headers, content, timeouts))

    async def send(self, request: Outgoing) -> Answer:
        """``(status, raw headers, body chunks with aclose())`` once the headers are in."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the client's connections."""


class HttpxExchange(_Exchange):
    """``H1Transport.exchange`` over httpx's ``AsyncHTTPTransport`` (httpcore + h11)."""

    def __init__(self, max_connections: int = 100) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.transport = httpx.AsyncHTTPTransport(limits=limits)

    async def send(self, request: Outgoing) -> Answer:
        scheme, host, port = request.origin
        url = httpx.URL(scheme=scheme, host=host, port=port)
        resp = await self.transport.handle_async_request(httpx.Request(
            request.method, url.copy_with(raw_path=request.target.encode()),
            headers=request.headers, content=request.content,
            extensions={"timeout": request.timeouts},
        ))  # fmt: skip
        return resp.status_code, resp.headers.raw, resp.stream

    async def aclose(self) -> None:
        await self.transport.aclose()


class _AiohttpBody:
    def __init__(self, response: Any) -> None:
        self.response = response

    async def __aiter__(self) -> Any:
        async for chunk in self.response.content.iter_any():
            yield chunk

    async def aclose(self) -> None:
        self.response.release()


class AiohttpExchange(_Exchange):
    """``H1Transport.exchange`` over one aiohttp ``ClientSession`` (made in the serving loop)."""

    def __init__(self, max_connections: int = 100) -> None:
        self.limit = max_connections
        self.session: Any = None

    async def send(self, request: Outgoing) -> Answer:
        import aiohttp
        import yarl
        from multidict import CIMultiDict

        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit),
                auto_decompress=False,
            )
        scheme, host, port = request.origin
        url = yarl.URL(f"{scheme}://{host}:{port}{request.target}", encoded=True)
        raw = request.headers
        headers = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw)
        timeouts = request.timeouts
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
        )
        resp = await self.session.request(
            request.method, url, headers=headers, data=request.content,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            allow_redirects=False, timeout=timeout,
        )  # fmt: skip
        return resp.status, list(resp.raw_headers), _AiohttpBody(resp)

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


def use_transport(app: Any, name: str) -> None:
    """Relay ``app``'s passthrough requests with the client ``name`` (h1: as it is)."""
    if name == "h1":
        return
    adapter = {"aiohttp": AiohttpExchange, "httpx": HttpxExchange}[name]()
    app.state.neuralpipe.upstream.transport = adapter
    served = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with served(app):
            try:
                yield
            finally:
                await adapter.aclose()

    app.router.lifespan_context = lifespan


# -- the load generator (runs in a child process) ------------------------------------------


def run_calls(url: str, calls: list[Call], threads: int) -> dict[str, Any]:
    """``calls`` sent from ``threads`` threads (each its share, in order); seconds, ms each."""
    perform = client_for(url).transport.perform_request
    ndjson = {"content-type": "application/x-ndjson"}

    def send(call: Call) -> Any:
        method, path, body = call
        headers = ndjson if path.endswith("_bulk") else None
        return perform(method, path, body=body, headers=headers)

    def check(call: Call, answer: Any) -> None:
        method, path, _ = call
        if answer.get("errors") or ("hits" in answer) == path.endswith("_bulk"):
            raise AssertionError(f"{method} {path}: {str(answer)[:300]}")

    return threaded(calls, threads, send, check)


# -- the A/B -------------------------------------------------------------------------------


def workloads(index: str, texts: list[str], count: int) -> dict[str, list[Call]]:
    words = [t.split()[0].strip("?,.").lower() for t in texts]
    bulk_lines = []
    for number in range(10):
        doc = {"text": texts[number % len(texts)], "topic": "bench"}
        bulk_lines += [json.dumps({"index": {"_index": index}}), json.dumps(doc)]
    bulk = "\n".join(bulk_lines) + "\n"
    matches = [json.dumps({"size": 10, "query": {"match": {"text": t}}}) for t in texts]
    return {
        "GET _search": [("GET", f"/{index}/_search?q=text:{words[i % len(words)]}&size=10", None)
                        for i in range(count)],
        "POST _search": [("POST", f"/{index}/_search", matches[i % len(matches)])
                         for i in range(count)],
        "POST _bulk": [("POST", f"/{index}-bulk/_bulk", bulk) for _ in range(count)],
    }  # fmt: skip


def transport_ab(
    pool: Any, targets: dict[str, str], index: str, texts: list[str], args: Any
) -> list[str]:
    """Rounds of every workload x clients x target, interleaved; the table as lines."""
    names = list(targets)
    calls = workloads(index, texts, args.ab_requests)
    for name in names:  # warm-up: connections, caches, JIT of the node
        for work in calls.values():
            pool.submit(run_calls, targets[name], work[:50], 4).result()
    results: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for rnd in range(args.rounds):
        for work_name, work in calls.items():
            for clients in (1, 16):
                shift = rnd % len(names)
                for name in names[shift:] + names[:shift]:
                    answer = pool.submit(run_calls, targets[name], work, clients).result()
                    results.setdefault((work_name, clients, name), []).append(answer)
    candidate = names[-1]
    lines = [
        f"upstream client A/B: {args.ab_requests} requests per cell x {args.rounds} rounds, "
        "targets rotated each round; noisy shared machine: only same-run ratios mean anything",
        f"   {'workload':13} {'cl':>3} {'target':9} {'p50 ms':>8} {'p99 ms':>8} {'q/s':>8} "
        f"{'q/s vs h1':>10} {'p50 vs h1':>10} {'vs direct':>10}",
    ]
    for work_name in calls:
        for clients in (1, 16):
            stats = {}
            for name in names:
                runs = results[(work_name, clients, name)]
                ms = sorted(m for r in runs for m in r["ms"])
                qps = len(ms) / sum(r["seconds"] for r in runs)
                stats[name] = (statistics.median(ms), ms[int(0.99 * (len(ms) - 1))], qps)
            for name in names:
                p50, p99, qps = stats[name]
                h1 = stats.get("h1")
                vs_h1 = "" if h1 is None or name == "direct" else f"{qps / h1[2]:10.2f}"
                p50_h1 = "" if h1 is None or name == "direct" else f"{p50 / h1[0]:10.2f}"
                direct = ""
                if name != "direct":
                    over = p50 - stats["direct"][0]
                    ratio = qps / stats["direct"][2]
                    direct = f"{ratio:4.0%} {over:+.2f}ms"
                lines.append(f"   {work_name:13} {clients:3} {name:9} {p50:8.2f} {p99:8.2f} "
                             f"{qps:8.0f} {vs_h1:>10} {p50_h1:>10} {direct:>10}")  # fmt: skip
    lines.append(
        f"   targets (passthrough): q/s >= 80 % of direct, p50 overhead <= 1 ms; candidate: "
        f"{candidate}"
    )
    return lines
