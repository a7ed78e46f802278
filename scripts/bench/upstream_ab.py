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
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

RawHeaders = list[tuple[bytes, bytes]]
Call = tuple[str, str, str | None]
"""``(method, path with query, body)`` of one request."""


def split_head(head: bytes) -> tuple[str, RawHeaders]:
    """The target and the headers of a request head written by ``request_head``."""
    lines = head.split(b"\r\n")
    target = lines[0].split(b" ", 2)[1].decode("latin-1")
    headers = [(k, v) for k, _, v in (line.partition(b": ") for line in lines[1:] if line)]
    return target, headers


class HttpxExchange:
    """``H1Transport.exchange`` over httpx's ``AsyncHTTPTransport`` (httpcore + h11)."""

    def __init__(self, max_connections: int = 100) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.transport = httpx.AsyncHTTPTransport(limits=limits)

    async def exchange(
        self,
        origin: tuple[str, str, int],
        method: str,
        head: bytes,
        body: bytes | None,
        stream: Any,
        timeouts: dict[str, float | None],
        *,
        chunked: bool = False,
    ) -> tuple[int, RawHeaders, Any]:
        target, headers = split_head(head)
        scheme, host, port = origin
        url = httpx.URL(scheme=scheme, host=host, port=port).copy_with(raw_path=target.encode())
        content = body if stream is None else stream
        request = httpx.Request(method, url, headers=headers, content=content,
                                extensions={"timeout": timeouts})  # fmt: skip
        resp = await self.transport.handle_async_request(request)
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


class AiohttpExchange:
    """``H1Transport.exchange`` over one aiohttp ``ClientSession`` (made in the serving loop)."""

    def __init__(self, max_connections: int = 100) -> None:
        self.limit = max_connections
        self.session: Any = None

    async def exchange(
        self,
        origin: tuple[str, str, int],
        method: str,
        head: bytes,
        body: bytes | None,
        stream: Any,
        timeouts: dict[str, float | None],
        *,
        chunked: bool = False,
    ) -> tuple[int, RawHeaders, Any]:
        import aiohttp
        import yarl
        from multidict import CIMultiDict

        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit),
                auto_decompress=False,
            )
        target, raw = split_head(head)
        scheme, host, port = origin
        url = yarl.URL(f"{scheme}://{host}:{port}{target}", encoded=True)
        headers = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
        )
        resp = await self.session.request(
            method, url, headers=headers, data=body if stream is None else stream,
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
    adapter: AiohttpExchange | HttpxExchange = {"aiohttp": AiohttpExchange,
                                                "httpx": HttpxExchange}[name]()  # fmt: skip
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

_CLIENTS: dict[str, Any] = {}


def run_calls(url: str, calls: list[Call], threads: int) -> dict[str, Any]:
    """``calls`` sent from ``threads`` threads (each its share, in order); seconds, ms each."""
    from opensearchpy import OpenSearch

    if url not in _CLIENTS:
        _CLIENTS[url] = OpenSearch(hosts=[url], timeout=300, pool_maxsize=32)
    client = _CLIENTS[url]
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    ndjson = {"content-type": "application/x-ndjson"}

    def work(number: int) -> None:
        barrier.wait()
        try:
            for method, path, body in calls[number::threads]:
                headers = ndjson if path.endswith("_bulk") else None
                start = time.perf_counter()
                answer = client.transport.perform_request(method, path, body=body,
                                                          headers=headers)  # fmt: skip
                latencies[number].append((time.perf_counter() - start) * 1000)
                if answer.get("errors") or ("hits" in answer) == path.endswith("_bulk"):
                    raise AssertionError(f"{method} {path}: {str(answer)[:300]}")
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
