"""The relevance workbench: a plain HTML/JS/CSS page the proxy serves at ``/_neuralpipe/workbench``.

The page (``processors/proxy/workbench/``, package data; no build step, no outside host) runs in
the browser and talks only to the proxy that served it, with the proxy's own REST API: it
lists indices (``_cat/indices``) and search pipelines, reads an index's mapping and default
ingest pipeline for its fields and models, and sends one ``_search`` per configuration. So it
has the proxy's bind address and the proxy's auth (requests carry the browser's
``Authorization`` on to the node, or the proxy's configured credentials).

Example:
    >>> [route.path for route in routes()][0]
    '/_neuralpipe/workbench'
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from processors.proxy.errors import ProxyError, guarded

PREFIX = "/_neuralpipe/workbench"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "workbench.js": "text/javascript; charset=utf-8",
    "workbench.css": "text/css; charset=utf-8",
}
HEADERS = {
    "cache-control": "no-cache",
    # the page loads nothing from anywhere but the proxy itself
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'",
    "x-content-type-options": "nosniff",
}


def asset(name: str) -> bytes:
    """One file of the page, from the package.

    Raises:
        ProxyError: 404 for any name that is not one of :data:`ASSETS`.
    """
    if name not in ASSETS:
        raise ProxyError(404, "resource_not_found_exception", f"no workbench file [{name}]")
    return resources.files("processors.proxy").joinpath("workbench", name).read_bytes()


@guarded
async def page(request: Request) -> Response:
    """``GET /_neuralpipe/workbench``: the page."""
    return Response(asset("index.html"), media_type=ASSETS["index.html"], headers=HEADERS)


@guarded
async def redirect(request: Request) -> Response:
    """``GET /_neuralpipe/workbench/``: to the page (its relative links need no slash)."""
    return RedirectResponse(PREFIX, status_code=308)


@guarded
async def file(request: Request) -> Response:
    """``GET /_neuralpipe/workbench/{name}``: the page's script and style sheet."""
    name = request.path_params["name"]
    return Response(asset(name), media_type=ASSETS[name], headers=HEADERS)


def routes() -> list[BaseRoute]:
    """The workbench's routes (before the proxy's catch-all)."""
    return [
        Route(PREFIX, page, methods=["GET", "HEAD"]),
        Route(f"{PREFIX}/", redirect, methods=["GET", "HEAD"]),
        Route(f"{PREFIX}/{{name}}", file, methods=["GET", "HEAD"]),
    ]
