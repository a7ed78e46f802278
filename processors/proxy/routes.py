"""The route table: the plugin APIs neuralpipe serves, then everything else passed through.

Order matters: specific paths first, ``/{path:path}`` (any method) last, so a request that no
route handles goes to the node unchanged -- method, path, query, headers (``Authorization``
too) and body, streamed both ways.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from processors.proxy import (
    cluster_routes,
    index_routes,
    ingest_routes,
    ml_routes,
    pipeline_routes,
    search_routes,
    semantic_routes,
    stats_routes,
    workbench_routes,
)
from processors.proxy.errors import guarded
from processors.proxy.state import state_of

ANY = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
GET_POST = ["GET", "POST"]
WRITE = ["POST", "PUT"]


@guarded
async def passthrough(request: Request) -> Response:
    """Anything neuralpipe does not handle: to the node and back, unchanged."""
    state = state_of(request)
    response = await state.upstream.forward(request)
    if request.method != "GET" and request.method != "HEAD":
        state.meta.forget()  # an index may have been created, deleted or changed
    return response


@guarded
async def put_index(request: Request) -> Response:
    """``PUT /{index}``: index creation (APIs such as ``PUT /_cluster`` pass through)."""
    if request.path_params["index"].startswith("_"):
        return await state_of(request).upstream.forward(request)
    return await index_routes.create_index(request)


def _pipelines(prefix: str, *, simulate: bool) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    if simulate:
        found += [
            Route(f"{prefix}/_simulate", pipeline_routes.simulate_pipeline, methods=GET_POST),
            Route(f"{prefix}/{{id}}/_simulate", pipeline_routes.simulate_pipeline,
                  methods=GET_POST),
        ]  # fmt: skip
    return [
        *found,
        Route(prefix, pipeline_routes.get_pipelines, methods=["GET"]),
        Route(f"{prefix}/{{id}}", pipeline_routes.get_pipelines, methods=["GET"]),
        Route(f"{prefix}/{{id}}", pipeline_routes.put_pipeline, methods=["PUT"]),
        Route(f"{prefix}/{{id}}", pipeline_routes.delete_pipeline, methods=["DELETE"]),
    ]


QUERY_BODY = ("_count", "_validate/query", "_delete_by_query", "_update_by_query")
"""Endpoints whose body carries a ``query`` (besides ``_search``/``_msearch``)."""


def _query_body_routes() -> list[BaseRoute]:
    endpoint = search_routes.query_body
    found: list[BaseRoute] = []
    for name in QUERY_BODY:
        methods = GET_POST if name in ("_count", "_validate/query") else ["POST"]
        found += [Route(f"/{name}", endpoint, methods=methods),
                  Route(f"/{{index}}/{name}", endpoint, methods=methods)]  # fmt: skip
    found.append(Route("/{index}/_explain/{id}", endpoint, methods=GET_POST))
    return found


def routes() -> list[BaseRoute]:
    """Every route of the proxy, in matching order."""
    return [
        *workbench_routes.routes(),
        *ml_routes.routes(),
        *stats_routes.routes(),
        *_pipelines("/_ingest/pipeline", simulate=True),
        *_pipelines("/_search/pipeline", simulate=False),
        Route("/_cluster/settings", cluster_routes.get_settings, methods=["GET"]),
        Route("/_cluster/settings", cluster_routes.put_settings, methods=["PUT"]),
        *_query_body_routes(),
        Route("/_search", search_routes.search, methods=GET_POST),
        Route("/_msearch", search_routes.msearch, methods=GET_POST),
        Route("/_bulk", ingest_routes.bulk, methods=WRITE),
        Route("/{index}/_search", search_routes.search, methods=GET_POST),
        Route("/{index}/_msearch", search_routes.msearch, methods=GET_POST),
        Route("/{index}/_bulk", ingest_routes.bulk, methods=WRITE),
        Route("/{index}/_doc", ingest_routes.index_document, methods=["POST"]),
        Route("/{index}/_doc/{id}", ingest_routes.index_document, methods=WRITE),
        Route("/{index}/_create/{id}", ingest_routes.index_document, methods=WRITE),
        Route("/{index}/_update/{id}", semantic_routes.update_document, methods=["POST"]),
        Route("/{index}/_settings", index_routes.update_settings, methods=["PUT"]),
        Route("/_mapping", semantic_routes.get_mapping, methods=["GET"]),
        Route("/{index}/_mapping", semantic_routes.get_mapping, methods=["GET"]),
        Route("/{index}/_mapping", semantic_routes.put_mapping, methods=WRITE),
        Route("/_settings", index_routes.get_settings, methods=["GET"]),
        Route("/{index}/_settings", index_routes.get_settings, methods=["GET"]),
        Route("/{index}/_settings/{name}", index_routes.get_settings, methods=["GET"]),
        Route("/_settings/{name}", index_routes.get_settings, methods=["GET"]),
        *[
            Route(f"/{kind}/{{name}}", index_routes.put_template, methods=WRITE)
            for kind in ("_index_template", "_component_template", "_template")
        ],
        Route("/{index}", put_index, methods=["PUT"]),
        Route("/{index}", index_routes.get_settings, methods=["GET"]),
        Route("/{path:path}", passthrough, methods=ANY),
    ]
