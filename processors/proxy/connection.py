"""A lean HTTP/1.1 keep-alive transport to the upstream node: asyncio protocol + httptools.

httpx's default transport (httpcore + h11) costs a few hundred microseconds of Python per
request, more than the node takes to answer a small ``_search`` on loopback.
:class:`H1Transport` is an ``httpx.AsyncBaseTransport`` (so ``httpx.AsyncClient`` and the
proxy's relay use it alike, and tests still inject ``httpx.MockTransport``) that keeps a
pool of connections (LIFO, up to ``max_connections``), writes the request head and a
ready body in one ``write``, and parses answers with ``httptools`` (llhttp, C): headers
and body chunks arrive through callbacks, and the body is streamed back as it comes.

* Request bodies: bytes as they are, async streams as they come (chunk-framed when the
  request says ``transfer-encoding: chunked``); writes wait while the socket's buffer is full.
* Failures are httpx's exceptions (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
  ``ReadError``, ``RemoteProtocolError``), so callers cannot tell the transports apart. A
  request with a ready body on a kept-alive connection that the node closed meanwhile is
  sent again once on a new one.
* ``HEAD`` answers have no body whatever their ``content-length`` says.

Example:
    >>> transport = H1Transport()                                  # doctest: +SKIP
    >>> httpx.AsyncClient(transport=transport).get("http://127.0.0.1:9200/")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator
from typing import Any, cast

import httptools
import httpx

READ_AHEAD = 1 << 20
"""Bytes of an answer buffered before the socket is paused (the client reads slower)."""


IDEMPOTENT = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"))
"""Methods a request may be resent with when a kept-alive connection drops before any answer
(RFC 9110 §9.2.2); a POST (``_bulk``, ``_update``, ``_search`` alike) is never resent."""


class _Connection(asyncio.Protocol):
    """One kept-alive connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.used = False
        self.origin: tuple[str, str, int] = ("", "", 0)
        self._head_request = False
        self._reset()
        self._drained: asyncio.Future[None] | None = None
        self._paused_writing = False
        self.paused = False

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.headers_done = False
        self.done = False
        self.keep_alive = True
        self.error: BaseException | None = None
        self.received = False
        self._informational = False
        self.waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed answer from the node: {exc}"))
            self.close()
            return
        if self._head_request and self.headers_done:  # llhttp waits for a body that won't come
            self.parser = httptools.HttpResponseParser(self)
            self._head_request = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.done and not self._framed():
            self.done = True  # an answer delimited by the end of the connection
            self._wake()
        elif not self.done:
            reason = (
                f"the node closed the connection: {exc}"
                if exc
                else "the node closed the connection"
            )
            self._fail(
                httpx.ReadError(reason) if self.received else httpx.RemoteProtocolError(reason)
            )
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # 100 Continue...: the answer comes after
            self.headers.clear()
            self._informational = True
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True
        if self._head_request:
            self.done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > READ_AHEAD and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self.done = True
        self._wake()

    # -- used by the transport ---------------------------------------------------------------

    def _framed(self) -> bool:
        return any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in self.headers)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def start(self, head_request: bool) -> None:
        self._resume()
        self._reset()
        self._head_request = head_request
        self.used = True

    async def wait(self, timeout: float | None) -> None:
        """Until the parser has news (headers, a chunk, the end) or ``timeout`` passes."""
        waiter = self.waiter = self.loop.create_future()
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    async def write(self, data: bytes) -> None:
        assert self.transport is not None
        if self.closed:
            raise httpx.WriteError("the node closed the connection")
        self.transport.write(data)
        if self._paused_writing:
            self._drained = self.loop.create_future()
            await self._drained
            self._drained = None

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= READ_AHEAD // 2:
            self._resume()
        return chunk

    def _resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()
        self.paused = False

    def reusable(self) -> bool:
        return self.done and self.keep_alive and not self.closed and self.error is None

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            try:
                self.transport.close()
            except RuntimeError:  # its event loop is closed: nothing left to close
                pass
        self.closed = True


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Body(httpx.AsyncByteStream):
    """The answer's body, as the connection receives it; the connection goes back at the end."""

    def __init__(self, pool: H1Transport, conn: _Connection, read_timeout: float | None) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = read_timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        try:
            while True:
                while conn.chunks:
                    yield conn.take()
                if conn.error is not None:
                    raise conn.error
                if conn.done:
                    break
                try:
                    await conn.wait(self._timeout)
                except TimeoutError:
                    raise httpx.ReadTimeout("the node stopped sending its answer") from None
        except BaseException:
            conn.close()
            raise
        finally:
            await self.aclose()

    def whole(self) -> bytes | None:
        """The whole body when it has arrived already (the connection goes back), else None."""
        conn = self._conn
        if self._released or not conn.done or conn.error is not None:
            return None
        chunks = conn.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        conn.buffered = 0
        self._released = True
        self._pool.release(conn)
        return body

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._pool.release(self._conn)


Origin = tuple[str, str, int]
"""``(scheme, host, port)``."""
RawHeaders = list[tuple[bytes, bytes]]


class H1Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections (see the module docstring).

    :meth:`exchange` is the lean entry (raw bytes in, status, raw headers and body out);
    :meth:`handle_async_request` serves ``httpx.AsyncClient`` through it.

    Args:
        verify: TLS verification: a context, True (system CAs) or False.
        max_connections: Connections open at once (more requests wait for one).
        max_idle: Idle connections kept.

    Example:
        >>> H1Transport(max_connections=10)  # doctest: +ELLIPSIS
        <processors.proxy.connection.H1Transport object at ...>
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        max_idle: int = 100,
    ) -> None:
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._max = max_connections
        self._max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            if isinstance(self._verify, ssl.SSLContext):
                self._tls = self._verify
            elif self._verify:
                self._tls = ssl.create_default_context()
            else:
                self._tls = ssl.create_default_context()
                self._tls.check_hostname = False
                self._tls.verify_mode = ssl.CERT_NONE
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        ready = isinstance(request.stream, httpx.ByteStream)
        try:
            answer = await self.exchange(
                origin,
                request.method,
                _head(request),
                request.content if ready else None,
                None if ready else request.stream,
                request.extensions.get("timeout", {}),
                chunked=request.headers.get("transfer-encoding", "").lower() == "chunked",
            )
        except httpx.TransportError as exc:
            exc.request = request
            raise
        status, headers, stream = answer
        return httpx.Response(
            status,
            headers=headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

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
    ) -> tuple[int, RawHeaders, _Body]:
        """Send one request; ``(status, headers, body chunks)`` once the headers are in.

        The body iterable has ``aclose()``: the connection goes back to the pool when the body
        was read whole (or is closed when it was not).

        Args:
            origin: Where to (``(scheme, host, port)``).
            method: The request's method (``HEAD`` answers have no body).
            head: The request line and headers, ``\r\n\r\n`` included (see :func:`request_head`).
            body: A ready body (sent with the head), or None.
            stream: Else an async iterable of body chunks, or None for no body.
            timeouts: httpx's ``connect`` / ``read`` / ``pool`` seconds.
            chunked: Frame ``stream`` chunks (the head says ``transfer-encoding: chunked``).

        Raises:
            httpx.TransportError: ConnectError, ConnectTimeout, ReadTimeout, PoolTimeout,
                RemoteProtocolError, WriteError, ReadError.
        """
        for attempt in (0, 1):
            conn = await self._acquire(origin, timeouts)
            reused = conn.used
            conn.start(method == "HEAD")
            try:
                if body is not None:
                    if len(body) < 65536:
                        await conn.write(head + body)
                    else:
                        await conn.write(head)
                        await conn.write(body)
                else:
                    await conn.write(head)
                    if stream is not None:
                        await _send_stream(conn, stream, chunked)
                while not conn.headers_done and conn.error is None:
                    try:
                        await conn.wait(timeouts.get("read"))
                    except TimeoutError:
                        raise httpx.ReadTimeout("the node did not answer in time") from None
                if conn.error is not None and not conn.headers_done:
                    raise conn.error
            except (httpx.RemoteProtocolError, httpx.WriteError):
                conn.close()
                self.release(conn)
                if (
                    attempt == 0
                    and reused
                    and stream is None
                    and not conn.received
                    and method in IDEMPOTENT
                ):
                    continue  # a kept-alive connection the node had closed: once more
                # a POST may have been acted on before the connection dropped: never resent
                raise
            except BaseException:
                conn.close()
                self.release(conn)
                raise
            return conn.status, conn.headers, _Body(self, conn, timeouts.get("read"))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.loop is loop:
                return conn
            conn.close()
            self._open -= 1
        while self._open >= self._max:
            waiter = loop.create_future()
            self._waiting.append(waiter)
            limit = timeouts.get("pool")
            timer = None if limit is None else loop.call_later(limit, _expire, waiter)
            try:
                await waiter
            except TimeoutError:
                raise httpx.PoolTimeout("no free connection to the node in time") from None
            finally:
                if timer is not None:
                    timer.cancel()
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
            if self._idle.get(origin):
                return await self._acquire(origin, timeouts)
        self._open += 1
        try:
            conn = await self._connect(loop, origin, timeouts.get("connect"))
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise
        conn.origin = origin
        return conn

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, timeout: float | None
    ) -> _Connection:
        scheme, host, port = origin
        tls = self._context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop), host, port, ssl=tls,
                    server_hostname=host if tls is not None else None,
                )  # fmt: skip
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    def release(self, conn: _Connection) -> None:
        """Give a connection back: kept when its answer was read whole, else closed."""
        idle = self._idle.setdefault(conn.origin, [])
        if conn.reusable() and len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.close()
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
            self._open -= len(idle)
        self._idle.clear()


def request_head(method: str, target: bytes, headers: RawHeaders) -> bytes:
    """A request's line and headers, as they go on the wire."""
    lines = [method.encode(), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)


def _head(request: httpx.Request) -> bytes:
    return request_head(request.method, request.url.raw_path, request.headers.raw)


async def _send_stream(conn: _Connection, stream: Any, chunked: bool) -> None:
    async for chunk in stream:
        if not chunk:
            continue
        await conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
    if chunked:
        await conn.write(b"0\r\n\r\n")
