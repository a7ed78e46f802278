"""``GET|PUT _cluster/settings``: the node's settings plus the plugins' (see
:mod:`processors.proxy.cluster_settings`)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.proxy.cluster_settings import SCOPES, merge, nest, split_update
from processors.proxy.errors import guarded, json_object
from processors.proxy.state import state_of
from processors.proxy.stats_routes import refresh_enabled
from processors.proxy.upstream import read_body

JSONObject = dict[str, Any]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false") in ("", "true")


@guarded
async def get_settings(request: Request) -> Response:
    """``GET _cluster/settings``: the node's answer with the plugins' settings merged in."""
    state = state_of(request)
    answer = await state.upstream.call(
        "GET", "/_cluster/settings", params=dict(request.query_params)
    )
    if answer.status != 200:
        return Response(answer.content, status_code=answer.status,
                        media_type="application/json")  # fmt: skip
    body = answer.json()
    merged = await state.cluster.merged_answer(
        body, flat=_flag(request, "flat_settings"), defaults=_flag(request, "include_defaults")
    )
    return JSONResponse(merged)


@guarded
async def put_settings(request: Request) -> Response:
    """``PUT _cluster/settings``: ours kept in the node's store, the rest sent to the node."""
    state = state_of(request)
    body = json_object(await read_body(request, state.max_body_bytes), allow_empty=False)
    left, taken = split_update(body)
    flat = _flag(request, "flat_settings")
    answer: JSONObject = {"acknowledged": True, "persistent": {}, "transient": {}}
    if any(left.get(scope) for scope in SCOPES) or set(left) - set(SCOPES):
        upstream = await state.upstream.call(
            "PUT", "/_cluster/settings", params=dict(request.query_params),
            body=json.dumps(left).encode(),
        )  # fmt: skip
        if upstream.status != 200:
            return Response(upstream.content, status_code=upstream.status,
                            media_type="application/json")  # fmt: skip
        answer = upstream.json()
    applied = await state.cluster.update(taken)
    await refresh_enabled(state)  # neural-search counts events only while stats are enabled
    for scope in SCOPES:
        merge(answer.setdefault(scope, {}), applied[scope] if flat else nest(applied[scope]))
    return JSONResponse(answer)
