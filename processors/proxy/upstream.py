"""The upstream OpenSearch: one keep-alive connection pool, its transport injectable.

The pool is :class:`~processors.proxy.connection.H1Transport` (HTTP/1.1, httptools), an httpx
transport; tests inject ``httpx.MockTransport``. An ``httpx.AsyncClient`` over it makes the
proxy's own requests.

* :meth:`Upstream.open` sends a request upstream unchanged (method, path, query, headers,
  body) straight from the ASGI scope, its answer to be streamed to the ASGI ``send``: no
  Starlette objects, no httpx objects (raw bytes to :meth:`H1Transport.exchange`; an injected
  transport gets an ``httpx.Request``); :meth:`Upstream.forward` does the same for a
  Starlette ``Request``. Only hop-by-hop headers are dropped; ``Host`` is the upstream's.
* :meth:`Upstream.call` / :meth:`Upstream.json` are the proxy's own requests. They carry the
  client's ``Authorization`` (and ``X-Opaque-Id``) of the request being served, taken from
  :data:`FORWARDED`.
* Credentials are the client's: a request without ``Authorization`` goes upstream without one,
  so the node decides what an anonymous client may do. The configured basic auth (the
  proxy's own identity) is sent only on the proxy's requests made outside any client request
  (loading pipelines at start) -- or, with ``lend_identity=True``, also on client requests
  that carry none (then anyone who reaches the proxy has the proxy's rights).
* An unreachable upstream raises :class:`~processors.proxy.errors.UpstreamUnavailable` (502).

Example:
    >>> up = Upstream("http://node:9200", transport=httpx.MockTransport(fn))  # doctest: +SKIP
    >>> status, body = await up.json("GET", "/")                             # doctest: +SKIP
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from processors.proxy import connection as h1
from processors.proxy.errors import BodyTooLarge, UpstreamUnavailable

HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization te trailer trailers "
    "transfer-encoding upgrade host".split()
)
PASSED_ON = ("authorization", "x-opaque-id")
"""Headers of the served request that the proxy's own upstream requests carry too."""
HOP_BY_HOP_RAW = frozenset(name.encode() for name in HOP_BY_HOP)
WITH_BODY = frozenset(("POST", "PUT", "PATCH"))
RawHeaders = list[tuple[bytes, bytes]]


@dataclass
class Timings:
    """Seconds per stage of one request, for the ``Server-Timing`` header."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def header(self) -> str:
        return ", ".join(f"{k};dur={v * 1000:.2f}" for k, v in self.stages.items())

    def header_item(self) -> tuple[bytes, bytes]:
        """The ``Server-Timing`` header as an ASGI header item."""
        return (b"server-timing", self.header().encode())


FORWARDED: ContextVar[RawHeaders | None] = ContextVar("neuralpipe_forwarded", default=None)
"""The headers of the request being served (its ASGI ``headers``): the proxy's own upstream
calls pass on those named in :data:`PASSED_ON`, picked out only when such a call is made."""
PASSED_RAW = frozenset(name.encode() for name in PASSED_ON)
TIMINGS: ContextVar[Timings | None] = ContextVar("neuralpipe_timings", default=None)


def record(stage: str, seconds: float) -> None:
    """Add ``seconds`` to ``stage`` of the request being served (if any)."""
    timings = TIMINGS.get()
    if timings is not None:
        timings.add(stage, seconds)


@dataclass(frozen=True)
class Answer:
    """A whole upstream answer."""

    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


class Upstream:
    """The upstream cluster.

    Args:
        url: Its base URL (``http(s)://host:port``).
        transport: An httpx transport (tests pass ``httpx.MockTransport``/``ASGITransport``).
        username: Basic auth of the proxy's own identity (see the module notes).
        password: Basic auth password.
        lend_identity: Also send it for client requests that carry no ``Authorization``.
        verify: Verify TLS certificates.
        ca_certs: A CA bundle for TLS.
        timeout: Seconds per upstream request.
        max_connections: Connection pool size (kept alive between requests).
        max_body_bytes: Largest request body streamed through (413 beyond).

    Example:
        >>> Upstream("http://127.0.0.1:9200").url
        'http://127.0.0.1:9200'
    """

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool = True,
        ca_certs: Path | None = None,
        timeout: float = 60.0,
        max_connections: int = 100,
        max_body_bytes: int = 100 * 1024 * 1024,
        lend_identity: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.lend_identity = lend_identity
        self.name = redact(self.url)
        """The URL without a password, for messages."""
        self.max_body_bytes = max_body_bytes
        self._auth: str | None = None
        base = httpx.URL(self.url)
        if username is None and base.username:  # https://user:password@host:9200
            username, password = base.username, password or base.password
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._auth = f"Basic {token}"
        self._auth_item = None if self._auth is None else (b"authorization", self._auth.encode())
        tls: ssl.SSLContext | bool = verify
        if verify and ca_certs is not None:
            tls = ssl.create_default_context(cafile=str(ca_certs))
        if transport is None:  # HTTP/1.1 keep-alive pool (no env proxies: the node is named)
            transport = _default_transport(tls, max_connections)
        self.transport = transport
        self._timeouts: dict[str, float | None] = httpx.Timeout(timeout).as_dict()
        self._base = base
        self._host_item = (b"host", self._base.netloc)
        port = self._base.port or (443 if self._base.scheme == "https" else 80)
        self._origin = (self._base.scheme, self._base.host, port)
        self._h1 = transport if isinstance(transport, h1.H1Transport) else None
        self.client = httpx.AsyncClient(
            base_url=self.url,
            transport=transport,
            timeout=timeout,
            headers={"accept-encoding": "identity"},  # loopback: compression only costs CPU
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    @contextlib.contextmanager
    def _exchange(self) -> Iterator[None]:
        """One upstream exchange: transport failures raised as :class:`UpstreamUnavailable`, the
        time spent recorded as the ``upstream`` stage."""
        started = time.perf_counter()
        try:
            yield
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"{self.name} did not answer: {exc!r}", timeout=True) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(
                f"upstream OpenSearch {self.name} unreachable: {exc}"
            ) from exc
        finally:
            record("upstream", time.perf_counter() - started)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        forwarded = FORWARDED.get()
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in forwarded or () if k in PASSED_RAW}  # fmt: skip
        headers.update(extra or {})
        own = forwarded is None or self.lend_identity
        if self._auth and own and not any(k.lower() == "authorization" for k in headers):
            headers["authorization"] = self._auth
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Answer:
        """One request of the proxy's own; the whole answer."""
        headers = self._headers({"content-type": content_type} if body is not None else None)
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        with self._exchange():
            resp = await self.client.request(
                method, path, params=_params(params), content=body, headers=headers, **options
            )
        return Answer(resp.status_code, resp.headers, resp.content)

    async def json(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """``(status, parsed JSON)`` of a JSON request."""
        raw = None if body is None else json.dumps(body).encode()
        answer = await self.call(method, path, params=params, body=raw)
        try:
            return answer.status, answer.json()
        except ValueError:
            return answer.status, answer.content.decode("utf-8", "replace")

    async def open(
        self,
        scope: Scope,
        receive: Receive,
        *,
        body: bytes | None = None,
        query: bytes | None = None,
    ) -> Exchange:
        """Send the ASGI request upstream unchanged; the answer, its body not read yet.

        Args:
            scope: The request's ASGI scope (method, raw path, query string, headers).
            receive: Its body, streamed upstream unless ``body`` is given.
            body: The body, when already read (or replaced).
            query: A replacement query string (default: the request's own).

        Raises:
            BodyTooLarge, UpstreamUnavailable.
        """
        method: str = scope["method"]
        headers: RawHeaders = [self._host_item]
        has_auth = chunked = False
        length: bytes | None = None
        for key, value in scope["headers"]:
            if key in HOP_BY_HOP_RAW:
                chunked = chunked or key == b"transfer-encoding"
                continue
            if key == b"content-length":
                length = value
                if body is not None:
                    continue
            elif key == b"authorization":
                has_auth = True
            headers.append((key, value))
        if self._auth_item is not None and not has_auth and self.lend_identity:
            headers.append(self._auth_item)
        stream: Any = None
        if body is not None:
            headers.append((b"content-length", b"%d" % len(body)))
        elif chunked or (length is not None and length != b"0"):
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            stream = _limited(_chunks(receive), self.max_body_bytes)
            if length is None:
                headers.append((b"transfer-encoding", b"chunked"))
        elif length is None and method in WITH_BODY:
            headers.append((b"content-length", b"0"))
        target = scope.get("raw_path") or scope["path"].encode()
        query = scope["query_string"] if query is None else query
        if query:
            target += b"?" + query
        with self._exchange():
            if self._h1 is not None:
                status, raw, chunks = await self._h1.exchange(
                    self._origin, method, h1.request_head(method, target, headers), body, stream,
                    self._timeouts, chunked=stream is not None and length is None,
                )  # fmt: skip
                return Exchange(status, raw, chunks)
            request = httpx.Request(
                method,
                self._base.copy_with(raw_path=target),
                headers=headers,
                content=body if stream is None else stream,
                extensions={"timeout": self._timeouts},
            )
            resp = await self.transport.handle_async_request(request)
            return Exchange(resp.status_code, resp.headers.raw, resp.stream)

    async def forward(
        self,
        request: Request,
        *,
        body: bytes | None = None,
        query: str | None = None,
    ) -> Response:
        """Send ``request`` upstream unchanged; the answer, to be streamed back.

        Args:
            request: The request being served.
            body: Its body, when already read (otherwise it is streamed).
            query: A replacement query string (default: the request's own, unchanged).
        """
        raw_query = None if query is None else query.encode("latin-1")
        return Relayed(await self.open(request.scope, request.receive, body=body, query=raw_query))


class Exchange:
    """An upstream answer whose body is still to be read."""

    __slots__ = ("headers", "status", "stream")

    def __init__(self, status: int, headers: RawHeaders, stream: Any) -> None:
        self.status = status
        self.headers = headers
        self.stream = stream
        """Async-iterable body chunks, with ``aclose()``."""


async def deliver(answer: Exchange, send: Send, *, timed: bool = False) -> None:
    """Stream an upstream answer to an ASGI ``send`` (hop-by-hop headers dropped).

    Args:
        answer: The answer of :meth:`Upstream.open`.
        send: The ASGI ``send`` of the request being served.
        timed: Add ``Server-Timing`` (the stages of :data:`TIMINGS`).
    """
    stream = answer.stream
    try:
        kept = [(name, v) for k, v in answer.headers if (name := k.lower()) not in HOP_BY_HOP_RAW]
        timings = TIMINGS.get() if timed else None
        if timings is not None and timings.stages:
            kept.append(timings.header_item())
        whole = getattr(stream, "whole", None)
        body = None if whole is None else whole()
        await send({"type": "http.response.start", "status": answer.status, "headers": kept})
        if body is not None:  # all of it arrived with the headers
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        held = b""  # one chunk held back, so that the last goes with more_body False
        async for chunk in stream:
            if held:
                await send({"type": "http.response.body", "body": held, "more_body": True})
            held = chunk
        await send({"type": "http.response.body", "body": held, "more_body": False})
    finally:
        await stream.aclose()


class Relayed(Response):
    """An upstream answer as a Starlette response (streamed when it is sent)."""

    def __init__(self, answer: Exchange) -> None:
        self.status_code = answer.status
        self.raw_headers = answer.headers
        self.background = None
        self.upstream = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await deliver(self.upstream, send)


def _default_transport(verify: ssl.SSLContext | bool, connections: int) -> httpx.AsyncBaseTransport:
    """:class:`~processors.proxy.connection.H1Transport` (httptools, in the proxy extra)."""
    return h1.H1Transport(verify=verify, max_connections=connections, max_idle=connections)


def redact(url: str) -> str:
    """``url`` without a password in it (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: _param(v) for k, v in params.items() if v is not None}


def _param(value: Any) -> str:
    if isinstance(value, bytes):  # opensearch-py escapes parameters to bytes
        return value.decode("utf-8")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit)
        yield chunk


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise OSError("the client went away while sending its request")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def receive_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body of an ASGI request; :class:`BodyTooLarge` beyond ``limit`` bytes."""
    for key, value in scope["headers"]:
        if key == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLarge(limit)
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        whole: bytes = message.get("body", b"")  # the usual case: one message
        if len(whole) > limit:
            raise BodyTooLarge(limit)
        return whole
    if message["type"] == "http.disconnect":
        raise OSError("the client went away while sending its request")
    parts = [message.get("body", b"")]
    seen = len(parts[0])
    async for chunk in _chunks(receive):
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)
    if seen > limit:
        raise BodyTooLarge(limit)
    return b"".join(parts)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body; :class:`BodyTooLarge` beyond ``limit`` bytes."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        raise BodyTooLarge(limit)
    parts = [chunk async for chunk in _limited(request.stream(), limit)]
    return b"".join(parts)
