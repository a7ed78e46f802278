"""A synchronous opensearch-py client whose requests go through the proxy's async upstream.

The library (``SearchPipeline``, ``IngestPipeline``, ``ModelRegistry``, hybrid fusion) talks to
OpenSearch through a plain ``opensearchpy.OpenSearch`` client and runs in worker threads
(``run_in_threadpool``). :func:`bridge_client` gives it a client whose connection hands each
request back to the event loop (``anyio.from_thread.run``) and sends it with the shared
keep-alive ``httpx.AsyncClient`` of :class:`~processors.proxy.upstream.Upstream`: one pool,
and the ``Authorization`` of the request being served.

Example:
    >>> client = bridge_client(upstream)                           # doctest: +SKIP
    >>> await run_in_threadpool(client.search, index="docs")       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import anyio.from_thread
from opensearchpy import OpenSearch
from opensearchpy.connection.base import Connection
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout

from processors.proxy.errors import UpstreamUnavailable
from processors.proxy.upstream import Answer, Upstream


class BridgeConnection(Connection):
    """An opensearch-py connection that sends through an :class:`Upstream` on the event loop."""

    def __init__(self, upstream: Upstream, **kwargs: Any) -> None:
        kwargs.pop("host", None)
        kwargs.pop("port", None)
        super().__init__(host="upstream", port=80, **kwargs)
        self.upstream = upstream

    def perform_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        timeout: int | float | None = None,
        ignore: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        kind = {k.lower(): v for k, v in (headers or {}).items()}.get("content-type")
        options: dict[str, Any] = {"params": params, "body": data, "timeout": timeout,
                   "content_type": kind or "application/json"}  # fmt: skip
        try:
            answer: Answer = anyio.from_thread.run(
                lambda: self.upstream.call(method, url, **options)
            )
        except UpstreamUnavailable as exc:
            error = ConnectionTimeout if exc.status == 504 else OSConnectionError
            raise error("N/A", exc.reason, exc) from exc
        raw = answer.content.decode("utf-8", "surrogatepass")
        if not (200 <= answer.status < 300) and answer.status not in ignore:
            self._raise_error(answer.status, raw, answer.headers.get("content-type"))
        return answer.status, dict(answer.headers), raw


def bridge_client(upstream: Upstream) -> Any:
    """An ``opensearchpy.OpenSearch`` over :class:`BridgeConnection` (no retries: one try)."""
    return OpenSearch(
        hosts=[{"host": "upstream", "port": 80}],
        connection_class=BridgeConnection,
        upstream=upstream,
        max_retries=0,
        timeout=60,
    )
