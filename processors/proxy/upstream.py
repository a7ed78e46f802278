"""The upstream OpenSearch: one keep-alive ``httpx.AsyncClient``, its transport injectable.

* :meth:`Upstream.forward` streams a request through unchanged (method, path, query, headers,
  body) and streams the answer back; only hop-by-hop headers are dropped.
* :meth:`Upstream.call` / :meth:`Upstream.json` are the proxy's own requests. They carry the
  client's ``Authorization`` (and ``X-Opaque-Id``) of the request being served, taken from
  :data:`FORWARDED`; without one, the configured basic auth is used.
* An unreachable upstream raises :class:`~processors.proxy.errors.UpstreamUnavailable` (502).

Example:
    >>> up = Upstream("http://node:9200", transport=httpx.MockTransport(fn))  # doctest: +SKIP
    >>> status, body = await up.json("GET", "/")                             # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from processors.proxy.errors import BodyTooLarge, UpstreamUnavailable

HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization te trailer trailers "
    "transfer-encoding upgrade host".split()
)
CLIENT_DEFAULTS = ("accept", "accept-encoding", "user-agent")
"""Headers httpx adds by default: a forwarded request carries only the client's own."""
PASSED_ON = ("authorization", "x-opaque-id")
"""Headers of the served request that the proxy's own upstream requests carry too."""


@dataclass
class Timings:
    """Seconds per stage of one request, for the ``Server-Timing`` header."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def header(self) -> str:
        return ", ".join(f"{k};dur={v * 1000:.2f}" for k, v in self.stages.items())


FORWARDED: ContextVar[Mapping[str, str] | None] = ContextVar("neuralpipe_forwarded", default=None)
"""Headers of the request being served that the proxy's own upstream calls pass on."""
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
        username: Basic auth for requests that carry no ``Authorization`` of their own.
        password: Basic auth password.
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
    ) -> None:
        self.url = url.rstrip("/")
        self.name = redact(self.url)
        """The URL without a password, for messages."""
        self.max_body_bytes = max_body_bytes
        self._auth: str | None = None
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._auth = f"Basic {token}"
        tls: ssl.SSLContext | bool = verify
        if verify and ca_certs is not None:
            tls = ssl.create_default_context(cafile=str(ca_certs))
        self.client = httpx.AsyncClient(
            base_url=self.url,
            transport=transport,
            verify=tls,
            timeout=timeout,
            headers={"accept-encoding": "identity"},  # loopback: compression only costs CPU
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=32),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(FORWARDED.get() or {})
        headers.update(extra or {})
        if self._auth and not any(k.lower() == "authorization" for k in headers):
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
        started = time.perf_counter()
        try:
            resp = await self.client.request(
                method, path, params=_params(params), content=body, headers=headers, **options
            )
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"{self.name} did not answer: {exc!r}", timeout=True) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(
                f"upstream OpenSearch {self.name} unreachable: {exc}"
            ) from exc
        finally:
            record("upstream", time.perf_counter() - started)
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

    async def forward(
        self,
        request: Request,
        *,
        body: bytes | None = None,
        query: str | None = None,
    ) -> Response:
        """Send ``request`` upstream unchanged and stream the answer back.

        Args:
            request: The request being served.
            body: Its body, when already read (otherwise it is streamed).
            query: A replacement query string (default: the request's own, unchanged).
        """
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        qs = request.scope.get("query_string", b"").decode("latin-1") if query is None else query
        url = self.url + raw_path.decode("latin-1") + (f"?{qs}" if qs else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        if self._auth and "authorization" not in request.headers:
            headers.append(("authorization", self._auth))
        content: Any = body
        if body is not None:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        elif _has_body(request):
            size = request.headers.get("content-length")
            if size is not None and size.isdigit() and int(size) > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            content = _limited(request.stream(), self.max_body_bytes)
        started = time.perf_counter()
        try:
            sent = self.client.build_request(request.method, url, headers=headers, content=content)
            for name in CLIENT_DEFAULTS:
                if name not in request.headers and name in sent.headers:
                    del sent.headers[name]
            resp = await self.client.send(sent, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"{self.name} did not answer: {exc!r}", timeout=True) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(
                f"upstream OpenSearch {self.name} unreachable: {exc}"
            ) from exc
        finally:
            record("upstream", time.perf_counter() - started)
        kept = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
        # A response built in memory (test transports) has no raw stream left to read.
        chunks = resp.aiter_bytes() if resp.is_stream_consumed else resp.aiter_raw()
        return StreamingResponse(
            chunks,
            status_code=resp.status_code,
            headers=kept,
            background=BackgroundTask(resp.aclose),
        )


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


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit)
        yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body; :class:`BodyTooLarge` beyond ``limit`` bytes."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        raise BodyTooLarge(limit)
    parts = [chunk async for chunk in _limited(request.stream(), limit)]
    return b"".join(parts)
