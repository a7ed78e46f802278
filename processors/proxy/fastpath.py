"""The proxy's pure-ASGI front: what needs nothing of neuralpipe never builds a Starlette object.

Most requests a proxy sees are passed through unchanged, and the commonest of them is a plain
``_search``. :class:`FastPath` sits in front of the Starlette app and, per request:

* sets what every route shares: the headers passed on upstream (:data:`FORWARDED`) and the
  ``Server-Timing`` stages (:data:`TIMINGS`), added to the answer's headers;
* matches the request against the proxy's own routes (the regexes and methods of
  :func:`processors.proxy.routes.routes`, in order; the first full match wins, as in
  Starlette's router). A request that no route but the final catch-all takes is relayed by
  :meth:`Upstream.relay` straight from the ASGI scope: no ``Request``, no ``Response``;
* reads the body of ``[/{index}]/_search`` and relays it the same way when it has no
  ``neural``/``hybrid``/inline-pipeline marker, no ``?search_pipeline=`` and the index has no
  default search pipeline (the index settings are cached, :class:`IndexMeta`); the body is
  not parsed;
* calls the endpoint of any other matched route directly, with a ``Request`` (as Starlette's
  router would, without walking the route table again). Only ``lifespan`` (and any other
  non-HTTP scope) goes to the Starlette app.

Example:
    >>> app = FastPath(starlette_app, state, routes(), catch_all=passthrough)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processors.proxy import search_routes
from processors.proxy.errors import response_for
from processors.proxy.pipeline_store import MISSING
from processors.proxy.state import ProxyState
from processors.proxy.upstream import (
    FORWARDED,
    TIMINGS,
    Timings,
    deliver,
    receive_body,
)

DEFAULT_PIPELINE = "index.search.default_pipeline"
MARKED = re.compile(b"|".join(re.escape(marker) for marker in search_routes.MARKERS))
"""A body with none of these needs nothing of neuralpipe (see ``search_routes.MARKERS``)."""
GROUP = re.compile(r"\(\?P<(\w+)>")
Endpoint = Callable[..., Any]


class FastPath:
    """Pure ASGI middleware in front of the Starlette app (see the module docstring).

    Args:
        app: The Starlette app (it serves everything the fast path hands on).
        state: The shared :class:`ProxyState`.
        table: The app's routes; the one whose endpoint is ``catch_all`` is left out.
        catch_all: The endpoint of the pass-everything-through route.
    """

    def __init__(
        self,
        app: ASGIApp,
        state: ProxyState,
        table: Sequence[BaseRoute],
        catch_all: Endpoint,
    ) -> None:
        self.app = app
        self.state = state
        self._routes: dict[str, tuple[Endpoint, list[tuple[str, str]]]] = {}
        branches: dict[str, list[str]] = {}
        for route in table:
            if not isinstance(route, Route):
                raise TypeError(f"the fast path matches plain routes only, not {route!r}")
            if route.endpoint is catch_all:
                continue
            number = len(self._routes)
            names = [(name, f"r{number}_{name}") for name in route.param_convertors]
            self._routes[f"r{number}"] = (route.endpoint, names)
            pattern = route.path_regex.pattern.removeprefix("^").removesuffix("$")
            branch = GROUP.sub(rf"(?P<r{number}_\1>", pattern) + f"(?P<r{number}>)"
            for method in route.methods or ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"):
                branches.setdefault(method, []).append(branch)
        # One regex per method, its branches in route order: the first full match wins, as
        # in Starlette's router (a route with the path but not the method: the catch-all).
        self._regex = {m: re.compile(f"^(?:{'|'.join(b)})$") for m, b in branches.items()}

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        """The route (but the catch-all) that takes ``method path``, and its path parameters."""
        regex = self._regex.get(method)
        if len(path) > 1 and path.endswith("/") and not path.startswith("/_neuralpipe/"):
            path = path.rstrip("/") or "/"  # OpenSearch's router ignores a trailing slash
        found = None if regex is None else regex.match(path)
        if found is None:
            return None
        endpoint, names = self._routes[found.lastgroup or ""]
        return endpoint, {name: found.group(group) for name, group in names}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        FORWARDED.set(scope["headers"])
        timings = Timings()
        TIMINGS.set(timings)
        method: str = scope["method"]
        found = self.match(method, scope["path"])
        if found is None:
            await self._relay(scope, receive, send, timings)
            if method != "GET" and method != "HEAD":
                self.state.meta.forget()  # an index may have been created, deleted or changed
            return
        endpoint, params = found
        if endpoint is search_routes.search:
            await self._search(scope, receive, send, timings, params, endpoint)
            return
        await self._endpoint(scope, receive, send, timings, params, endpoint)

    async def _endpoint(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        timings: Timings,
        params: dict[str, str],
        endpoint: Endpoint,
    ) -> None:
        """The route's endpoint, called as Starlette's router would (without walking it)."""
        scope["path_params"] = params
        scope["endpoint"] = endpoint
        try:
            response = await endpoint(Request(scope, receive, send))
        except Exception as exc:  # the endpoints are guarded; this is the last resort
            response = response_for(exc)
        await response(scope, receive, _timed(send, timings))

    async def _relay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        timings: Timings,
        body: bytes | None = None,
    ) -> None:
        try:
            answer = await self.state.upstream.open(scope, receive, body=body)
        except Exception as exc:
            await response_for(exc)(scope, receive, _timed(send, timings))
            return
        await deliver(answer, send, timed=True)

    async def _search(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        timings: Timings,
        params: dict[str, str],
        endpoint: Endpoint,
    ) -> None:
        """``[/{index}]/_search``: relayed as it is unless neuralpipe has something to do."""
        state = self.state
        index = params.get("index")
        try:
            raw = await receive_body(scope, receive, state.max_body_bytes)
            plain = b"search_pipeline" not in scope["query_string"] and not MARKED.search(raw)
            if plain and index and not index.startswith("_all"):
                default = state.meta.cached(index, DEFAULT_PIPELINE)
                if default is MISSING:
                    default = await state.meta.setting(index, DEFAULT_PIPELINE)
                plain = not default
        except Exception as exc:
            await response_for(exc)(scope, receive, _timed(send, timings))
            return
        if plain:
            await self._relay(scope, receive, send, timings, body=raw)
        else:
            await self._endpoint(scope, _replay(raw, receive), send, timings, params, endpoint)


def _timed(send: Send, timings: Timings) -> Send:
    """``send`` that adds ``Server-Timing`` (the stages recorded so far) to the answer."""

    async def timed(message: Message) -> None:
        if message["type"] == "http.response.start" and timings.stages:
            message = {
                **message,
                "headers": [*message.get("headers", []), timings.header_item()],
            }
        await send(message)

    return timed


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (read already) once, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
