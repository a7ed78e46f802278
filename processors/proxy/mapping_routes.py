"""``GET [/{index}]/_mapping``: the node's answer with ``sparse_vector`` fields shown as the
plugin's node shows them (:func:`processors.config.sparse_vector_mapping.restore_mapping`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.config.sparse_vector_mapping import META_KEY, restore_mapping
from processors.proxy.errors import guarded
from processors.proxy.state import state_of


@guarded
async def get_mapping(request: Request) -> Response:
    """``GET /_mapping``, ``GET /{index}/_mapping``."""
    state = state_of(request)
    answer = await state.upstream.call("GET", request.url.path, params=dict(request.query_params))
    kind = answer.headers.get("content-type", "application/json")
    if answer.status != 200 or META_KEY.encode() not in answer.content:
        return Response(answer.content, status_code=answer.status, media_type=kind)
    body = answer.json()
    if isinstance(body, dict):
        for entry in body.values():
            mappings = entry.get("mappings") if isinstance(entry, dict) else None
            if isinstance(mappings, dict):
                restore_mapping(mappings)
    return JSONResponse(body)
