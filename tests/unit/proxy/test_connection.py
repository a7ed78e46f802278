"""The httptools keep-alive transport to the upstream, against a scripted local HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import httptools
import httpx
import pytest

from processors.proxy.connection import H1Transport

Answer = Callable[["Seen"], Awaitable[bytes | None]]
LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(params=LOOPS, autouse=True)
def loop_kind(request: pytest.FixtureRequest) -> str:
    """Each test on asyncio's loop and on uvloop's (whose transports are no asyncio classes)."""
    global _LOOP
    _LOOP = request.param
    return str(request.param)


_LOOP = "asyncio"


def arun(main: Coroutine[Any, Any, Any]) -> Any:
    factory = None
    if _LOOP == "uvloop":  # a dependency of the proxy extra: missing is a failure, not a skip
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


class Seen:
    """One request as the server parsed it."""

    def __init__(self) -> None:
        self.method = b""
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


class Server:
    """Answers each request with ``answer(seen)`` (raw bytes; None closes the connection)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[Seen] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                seen = Seen()
                parser = httptools.HttpRequestParser(seen)
                while not seen.complete:
                    data = await reader.read(65536)
                    if not data:
                        return
                    parser.feed_data(data)
                seen.method = parser.get_method()
                self.requests.append(seen)
                raw = await self.answer(seen)
                if raw is None:
                    return
                writer.write(raw)
                await writer.drain()
        finally:
            writer.close()


def ok(body: bytes = b'{"ok":true}', *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"content-type: application/json",
            b"content-length: %d" % len(body), *extra]  # fmt: skip
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def run(answer: Answer, go: Callable[[httpx.AsyncClient, Server], Awaitable[Any]]) -> Any:
    server = Server(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    transport = H1Transport(max_connections=4)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://127.0.0.1:{port}", timeout=2
        ) as client:
            return await go(client, server)
    finally:
        listener.close()
        await listener.wait_closed()


def test_keep_alive_reuses_one_connection_and_passes_bodies() -> None:
    async def answer(seen: Seen) -> bytes:
        return ok(b'{"echo":"' + seen.body + b'"}')

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        for number in range(5):
            resp = await client.post("/x/_search?q=1", content=str(number).encode())
            assert resp.status_code == 200 and resp.json() == {"echo": str(number)}
        assert server.connections == 1
        assert server.requests[0].url == b"/x/_search?q=1"
        assert server.requests[0].headers[b"content-length"] == b"1"

    arun(run(answer, go))


def test_chunked_answers_and_streamed_chunked_requests() -> None:
    async def answer(seen: Seen) -> bytes:
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body

    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        resp = await client.post("/", content=parts())
        assert resp.content == b"hello world"
        assert server.requests[0].body == b"abcdef"
        assert server.requests[0].headers[b"transfer-encoding"] == b"chunked"
        assert (await client.get("/")).content == b"hello world"
        assert server.connections == 1

    arun(run(answer, go))


def test_head_answers_have_no_body_and_the_connection_stays_usable() -> None:
    async def head_answer(seen: Seen) -> bytes:
        if seen.method == b"HEAD":
            return b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
        return ok(b"0123456789")

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        resp = await client.head("/")
        assert resp.status_code == 200 and resp.content == b""
        assert resp.headers["content-length"] == "10"
        assert (await client.get("/")).content == b"0123456789"
        assert server.connections == 1

    arun(run(head_answer, go))


def test_informational_answers_are_skipped() -> None:
    async def answer(seen: Seen) -> bytes:
        return b"HTTP/1.1 100 Continue\r\n\r\n" + ok()

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        assert (await client.post("/", content=b"x")).json() == {"ok": True}
        assert (await client.post("/", content=b"y")).json() == {"ok": True}

    arun(run(answer, go))


def test_a_connection_closed_by_the_node_is_replaced() -> None:
    async def answer(seen: Seen) -> bytes:
        return ok(b"{}", b"connection: close")

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        for _ in range(3):
            assert (await client.get("/")).json() == {}
        assert server.connections == 3

    arun(run(answer, go))


def test_a_kept_alive_connection_dropped_before_answering_is_retried_once() -> None:
    served = []

    async def answer(seen: Seen) -> bytes | None:
        served.append(seen)
        return None if len(served) == 2 else ok()  # the second request: connection dropped

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        assert (await client.get("/")).json() == {"ok": True}
        assert (await client.get("/")).json() == {"ok": True}
        assert server.connections == 2

    arun(run(answer, go))


def test_a_post_on_a_dropped_kept_alive_connection_is_not_resent() -> None:
    """The node may have acted on a POST before the connection dropped: an error, no resend."""
    served = []

    async def answer(seen: Seen) -> bytes | None:
        served.append(seen)
        return None if len(served) == 2 else ok()

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        assert (await client.post("/i/_doc", content=b"{}")).json() == {"ok": True}
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/i/_doc", content=b"{}")
        assert len(served) == 2  # sent once, not twice

    arun(run(answer, go))


def test_concurrent_requests_share_the_pool() -> None:
    async def answer(seen: Seen) -> bytes:
        await asyncio.sleep(0.01)
        return ok(seen.body)

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        answers = await asyncio.gather(*[client.post("/", content=b"%d" % n) for n in range(12)])
        assert [a.content for a in answers] == [b"%d" % n for n in range(12)]
        assert server.connections <= 4

    arun(run(answer, go))


def test_failures_are_httpx_exceptions() -> None:
    async def silent(seen: Seen) -> bytes:
        await asyncio.sleep(5)
        return ok()

    async def go(client: httpx.AsyncClient, server: Server) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/", timeout=0.2)

    arun(run(silent, go))

    async def refused() -> None:
        async with httpx.AsyncClient(transport=H1Transport()) as client:
            await client.get("http://127.0.0.1:1/")

    with pytest.raises(httpx.ConnectError):
        arun(refused())

    async def garbage(seen: Seen) -> bytes:
        return b"NOT HTTP AT ALL\r\n\r\n"

    async def go_garbage(client: httpx.AsyncClient, server: Server) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/")

    arun(run(garbage, go_garbage))


@pytest.fixture
def self_signed(tmp_path: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key (made with the openssl command line)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed for the TLS tests")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls_upstream_verified_against_its_ca_and_refused_without(
    self_signed: tuple[str, str],
) -> None:
    import ssl

    cert, key = self_signed
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def main() -> tuple[int, bytes, int, type[BaseException] | None]:
        async def answer(seen: Seen) -> bytes:
            return ok(b'{"tls":true}')

        server = Server(answer)
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=served)
        url = f"https://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
        trusted = ssl.create_default_context(cafile=cert)
        try:
            async with httpx.AsyncClient(transport=H1Transport(verify=trusted), timeout=5) as c:
                first = await c.get(f"{url}/")
                second = await c.get(f"{url}/again")  # kept alive over TLS
            refused: type[BaseException] | None = None
            try:
                async with httpx.AsyncClient(transport=H1Transport(), timeout=5) as c:
                    await c.get(f"{url}/")  # the system CAs do not know this certificate
            except httpx.HTTPError as exc:
                refused = type(exc)
            return first.status_code, second.content, server.connections, refused
        finally:
            listener.close()
            await listener.wait_closed()

    status, body, connections, refused = arun(main())
    assert (status, body) == (200, b'{"tls":true}')
    assert connections == 1  # both calls on one kept-alive connection; the refused one never got in
    assert refused is not None and issubclass(refused, httpx.ConnectError)
