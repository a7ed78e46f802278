"""``GET /_plugins/_neural/stats[/<stat>]`` (and ``/_plugins/_neural/<nodeId>/stats``): the
plugin's stats API for what this proxy ran (:mod:`processors.neural_stats`), forbidden unless
``plugins.neural_search.stats_enabled`` is set (``PUT _cluster/settings`` through the proxy)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from processors.neural_stats.events import EVENTS
from processors.neural_stats.render import Cluster, StatsQuery, info_counts, stats_body
from processors.proxy.errors import guarded
from processors.proxy.state import ProxyState, state_of

ENABLED = "plugins.neural_search.stats_enabled"
BASE = "/_plugins/_neural"


async def refresh_enabled(state: ProxyState) -> bool:
    """Read the setting and switch event counting on or off accordingly."""
    EVENTS.enabled = bool(state.cluster is not None and await state.cluster.flag(ENABLED))
    return EVENTS.enabled


async def _cluster(state: ProxyState) -> Cluster:
    root = await state.upstream.json("GET", "/")
    nodes = await state.upstream.json("GET", "/_nodes/_local/none")
    node_ids = list((nodes[1].get("nodes") or {}) if nodes[0] == 200 else {})
    body = root[1] if root[0] == 200 and isinstance(root[1], dict) else {}
    return Cluster(
        str(body.get("cluster_name", "")),
        str((body.get("version") or {}).get("number", "")),
        node_ids[0] if node_ids else "",
    )


@guarded
async def neural_stats(request: Request) -> Response:
    """The stats, or 403 ``Stats endpoint is disabled``."""
    state = state_of(request)
    if not await refresh_enabled(state):
        return PlainTextResponse("Stats endpoint is disabled", status_code=403)
    query = StatsQuery.parse(
        dict(request.query_params), request.path_params.get("stat"), request.url.path
    )
    counts = info_counts(await state.pipelines.all("ingest"), await state.pipelines.all("search"))
    return JSONResponse(stats_body(query, await _cluster(state), EVENTS, counts))


def routes() -> list[BaseRoute]:
    """The stats routes, with and without a node id and a trailing slash."""
    paths = ["/stats", "/stats/", "/stats/{stat}", "/{node}/stats", "/{node}/stats/{stat}"]
    return [Route(f"{BASE}{p}", neural_stats, methods=["GET"]) for p in paths]
