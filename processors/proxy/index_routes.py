"""``PUT /<index>`` and ``PUT /<index>/_settings``: pipeline settings kept in ``_meta.neuralpipe``.

The node cannot hold a pipeline setting naming a pipeline it does not have, so, as
``neuralpipe index create`` does (:func:`processors.opensearch.indices.split_pipeline_settings`),
``index.default_pipeline`` and ``index.search.default_pipeline`` go to the index's
``_meta.neuralpipe``, and so does an ``index.final_pipeline`` that neuralpipe knows (one it does
not know stays a setting of the node). The other settings reach the node unchanged; a ``null``
value removes the kept setting, as it resets a real one.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.config.sparse_vector_mapping import has_sparse_vector, to_node_body
from processors.opensearch.indices import (
    PIPELINE_SETTINGS,
    check_for_embedded_node,
    split_pipeline_settings,
)
from processors.proxy.cluster_settings import merge, nest
from processors.proxy.errors import ProxyError, guarded, json_object
from processors.proxy.semantic_routes import create_body, template_body
from processors.proxy.state import ProxyState, state_of
from processors.proxy.upstream import read_body
from processors.semantic.fields import META_KEY

JSONObject = dict[str, Any]
FINAL = "index.final_pipeline"


async def _split(state: ProxyState, settings: JSONObject) -> tuple[JSONObject, JSONObject]:
    """``(settings left for the node, settings kept in _meta)``, from any form of settings."""
    body, taken = split_pipeline_settings(
        {"settings": settings}, (*PIPELINE_SETTINGS, "final_pipeline")
    )
    left: JSONObject = body.get("settings") or {}
    kept: JSONObject = dict(taken)
    if FINAL in kept:
        final = kept[FINAL]
        if final is not None and await state.pipelines.spec("ingest", str(final)) is None:
            del kept[FINAL]
            left[FINAL] = final  # the node's own final pipeline
    return left, kept


@guarded
async def create_index(request: Request) -> Response:
    """``PUT /{index}``."""
    state = state_of(request)
    raw = await create_body(state, await read_body(request, state.max_body_bytes))
    if state.embedded_node and b"knn_vector" in raw:
        safe = check_for_embedded_node(json_object(raw), source=request.path_params["index"])
        raw = json.dumps(safe).encode()
    if has_sparse_vector(raw):
        raw = json.dumps(to_node_body(json_object(raw))).encode()
    if b"pipeline" not in raw:
        response = await state.upstream.forward(request, body=raw)
    else:
        body = json_object(raw)
        left, kept = await _split(state, body.get("settings") or {})
        body["settings"] = left
        kept = {k: v for k, v in kept.items() if v is not None}
        if kept:
            meta = body.setdefault("mappings", {}).setdefault("_meta", {})
            meta.setdefault("neuralpipe", {}).update(kept)
        response = await state.upstream.forward(request, body=json.dumps(body).encode())
    state.meta.forget()
    return response


@guarded
async def update_settings(request: Request) -> Response:
    """``PUT /{index}/_settings``."""
    state = state_of(request)
    raw = await read_body(request, state.max_body_bytes)
    if b"pipeline" not in raw:
        return await state.upstream.forward(request, body=raw)
    body = json_object(raw)
    wrapped = "settings" in body and isinstance(body["settings"], dict)
    left, kept = await _split(state, body["settings"] if wrapped else body)
    if kept:
        await _keep(state, request.path_params["index"], kept)
    state.meta.forget()
    if not left:
        return JSONResponse({"acknowledged": True})
    sent = {**body, "settings": left} if wrapped else left
    return await state.upstream.forward(request, body=json.dumps(sent).encode())


async def _keep(state: ProxyState, expression: str, kept: JSONObject) -> None:
    """Merge ``kept`` into ``_meta.neuralpipe`` of every index ``expression`` names."""
    status, answer = await state.upstream.json("GET", f"/{quote(expression, safe=',*')}/_mapping")
    if status != 200:
        raise ProxyError(status, (answer.get("error") or {}).get("type", "exception"),
                         (answer.get("error") or {}).get("reason", str(answer)))  # fmt: skip
    for name, entry in answer.items():
        meta = dict((entry.get("mappings") or {}).get("_meta") or {})
        ours = {**(meta.get("neuralpipe") or {}), **kept}
        meta["neuralpipe"] = {k: v for k, v in ours.items() if v is not None}
        status, result = await state.upstream.json(
            "PUT", f"/{quote(name, safe='')}/_mapping", {"_meta": meta}
        )
        if status != 200:
            error = (result.get("error") or {}) if isinstance(result, dict) else {}
            raise ProxyError(status, error.get("type", "exception"), error.get("reason", ""))


@guarded
async def get_settings(request: Request) -> Response:
    """``GET [/{index}]/_settings[/{name}]`` and ``GET /{index}``: the node's answer with the
    pipeline settings neuralpipe keeps in ``_meta`` shown where the node would show them."""
    state = state_of(request)
    index = request.path_params.get("index", "_all")
    if request.method == "HEAD" or (index.startswith("_") and index != "_all"):
        return await state.upstream.forward(request)
    answer = await state.upstream.call("GET", request.url.path, params=dict(request.query_params))
    kind = answer.headers.get("content-type", "application/json")
    if answer.status != 200 or not kind.startswith("application/json"):
        # errors, and what the node answers that is no index (``GET /favicon.ico``), as they are
        return Response(answer.content, status_code=answer.status, media_type=kind)
    body = answer.json()
    params = request.query_params
    flat = params.get("flat_settings", "false") in ("", "true")
    pattern = request.path_params.get("name")
    if not isinstance(body, dict):
        return JSONResponse(body)
    kept = await state.meta.of(index)
    for name in sorted(set(body) | set(kept)):
        extra = {k: v for k, v in (kept.get(name) or {}).items()
                 if v is not None and k != META_KEY and _wanted(k, pattern)}  # fmt: skip
        entry = body.setdefault(name, {}) if extra else body.get(name)
        if not extra or not isinstance(entry, dict):
            continue
        settings = entry.setdefault("settings", {})
        if flat:
            settings.update(extra)
        else:
            merge(settings, nest(extra))
    return JSONResponse({name: body[name] for name in sorted(body)})


def _wanted(key: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    return any(fnmatch.fnmatchcase(key, p) or fnmatch.fnmatchcase(key, f"index.{p}")
               for p in pattern.split(","))  # fmt: skip


@guarded
async def put_template(request: Request) -> Response:
    """``PUT|POST _index_template/{name}``, ``_component_template/{name}``, ``_template/{name}``:
    the pipeline settings go to the template's ``mappings._meta.neuralpipe``, so the indices
    it creates carry them as ``PUT /{index}`` would have kept them."""
    state = state_of(request)
    legacy = request.url.path.strip("/").startswith("_template")
    raw = await template_body(state, await read_body(request, state.max_body_bytes), legacy)
    if state.embedded_node and b"knn_vector" in raw:
        body = json_object(raw)
        holder = body if legacy else body.get("template")
        if isinstance(holder, dict) and isinstance(holder.get("mappings"), dict):
            holder["mappings"] = check_for_embedded_node(
                {"mappings": holder["mappings"]}, source=request.url.path
            )["mappings"]
            raw = json.dumps(body).encode()
    if b"pipeline" not in raw:
        return await state.upstream.forward(request, body=raw)
    body = json_object(raw)
    holder = body if legacy else body.get("template")
    if isinstance(holder, dict) and isinstance(holder.get("settings"), dict):
        left, kept = await _split(state, holder["settings"])
        holder["settings"] = left
        kept = {k: v for k, v in kept.items() if v is not None}
        if kept:
            mappings = holder.setdefault("mappings", {})
            meta = mappings.setdefault("_meta", {})
            meta.setdefault("neuralpipe", {}).update(kept)
    return await state.upstream.forward(request, body=json.dumps(body).encode())
