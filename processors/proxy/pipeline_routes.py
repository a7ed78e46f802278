"""``_ingest/pipeline/…`` and ``_search/pipeline/…``: GET, PUT, DELETE, and ingest ``_simulate``.

A ``PUT`` body is validated with neuralpipe's parsers (a 400 with the first problem, in the
node's one-error shape and type; ``neuralpipe pipeline validate`` lists them all), and the core
processors of an ingest pipeline by the node itself (an inline ``_simulate``; its refusal, e.g.
a script in a language it does not have, is the answer, as a ``PUT`` to the node would
answer). A pipeline with a neuralpipe processor is kept in the node's hidden
``.neuralpipe-pipelines`` index (shared by every proxy in front of that node); one with only
core processors goes to the node itself, which runs it natively. ``GET`` merges both (and the
pipeline files); a missing id answers ``{}`` with 404, as the node does. ``DELETE`` removes
ours, or passes on to the node (whose 404 ``resource_not_found_exception`` answers a missing
ingest pipeline). A pipeline read from a file cannot be deleted through the API.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.errors import ConfigError
from processors.pipeline.simulate import parse_docs, simulate
from processors.proxy.errors import ProxyError, guarded, json_object
from processors.proxy.pipeline_store import has_ours, parse
from processors.proxy.state import state_of
from processors.proxy.upstream import read_body

JSONObject = dict[str, Any]


def _kind(request: Request) -> str:
    return "ingest" if request.url.path.startswith("/_ingest/") else "search"


def _spec(kind: str, pipeline_id: str, body: Any) -> Any:
    try:
        return parse(kind, pipeline_id, body)
    except ConfigError as exc:  # one error, as the node answers (the CLI lists them all)
        raise ProxyError(400, exc.error_type, exc.reason) from None


def _wanted(expression: str | None, ids: list[str]) -> list[str]:
    if expression is None:
        return ids
    patterns = expression.split(",")
    return [pid for pid in ids if any(fnmatchcase(pid, p) for p in patterns)]


@guarded
async def get_pipelines(request: Request) -> Response:
    """``GET _ingest/pipeline[/{id}]``, ``GET _search/pipeline[/{id}]``."""
    state, kind = state_of(request), _kind(request)
    expression = request.path_params.get("id")
    if expression and not any(ch in expression for ch in ",*"):
        body = await state.pipelines.body(kind, expression)
        if body is not None:
            return JSONResponse({expression: body})
    ours = await state.pipelines.all(kind)
    found = {pid: ours[pid] for pid in _wanted(expression, sorted(ours))}
    answer = await state.upstream.call("GET", request.url.path, params=request.query_params)
    node = answer.json() if answer.status == 200 else {}
    merged = {**(node if isinstance(node, dict) else {}), **found}
    return JSONResponse(merged, status_code=200 if merged else 404)


@guarded
async def put_pipeline(request: Request) -> Response:
    """``PUT _ingest/pipeline/{id}``, ``PUT _search/pipeline/{id}``."""
    state, kind = state_of(request), _kind(request)
    pipeline_id = request.path_params["id"]
    raw = await read_body(request, state.max_body_bytes)
    try:
        body = json_object(raw, allow_empty=False)
    except ProxyError:  # the node's core route refuses it in its own words, storing nothing
        return await state.upstream.forward(request, body=raw)
    spec = _spec(kind, pipeline_id, body)
    if not has_ours(kind, spec) and (kind, pipeline_id) not in state.pipelines.files:
        response = await state.upstream.forward(request, body=raw)
        if response.status_code == 200 and await state.pipelines.stored(kind, pipeline_id):
            await state.pipelines.delete(kind, pipeline_id)
        return response
    refusal = await _node_refusal(state, spec) if kind == "ingest" else None
    if refusal is not None:
        return refusal
    await state.pipelines.put(kind, pipeline_id, body)
    await state.upstream.call("DELETE", request.url.path)  # one definition per id: ours
    return JSONResponse({"acknowledged": True})


async def _node_refusal(state: Any, spec: Any) -> Response | None:
    """The node's answer when it refuses the pipeline's core processors, else None."""
    core = [{step.type_name: step.body} for step in spec.steps if step.runs_on_node]
    if not core:
        return None
    body = {"pipeline": {"processors": core}, "docs": [{"_source": {}}]}
    answer = await state.upstream.call(
        "POST", "/_ingest/pipeline/_simulate", body=json.dumps(body).encode()
    )
    if answer.status < 400:
        return None
    kind = answer.headers.get("content-type", "application/json")
    return Response(answer.content, status_code=answer.status, media_type=kind)


@guarded
async def delete_pipeline(request: Request) -> Response:
    """``DELETE _ingest/pipeline/{id}``, ``DELETE _search/pipeline/{id}``."""
    state, kind = state_of(request), _kind(request)
    expression = request.path_params["id"]
    stored = [
        pid
        for pid in _wanted(expression, sorted(await state.pipelines.all(kind)))
        if await state.pipelines.stored(kind, pid) is not None
    ]
    files = [pid for pid in _wanted(expression, [p for k, p in state.pipelines.files if k == kind])]
    if files and not stored and "*" not in expression:
        raise ProxyError(
            400, "illegal_argument_exception",
            f"pipeline [{files[0]}] is read from a file in the proxy's pipelines directory; "
            "delete the file instead",
        )  # fmt: skip
    for pid in stored:
        await state.pipelines.delete(kind, pid)
    answer = await state.upstream.call("DELETE", request.url.path, params=request.query_params)
    if stored and answer.status == 404:
        return JSONResponse({"acknowledged": True})
    kind_header = answer.headers.get("content-type", "application/json")
    return Response(answer.content, status_code=answer.status, media_type=kind_header)


@guarded
async def simulate_pipeline(request: Request) -> Response:
    """``GET|POST _ingest/pipeline[/{id}]/_simulate`` for pipelines with neuralpipe processors."""
    state = state_of(request)
    pipeline_id = request.path_params.get("id")
    raw = await read_body(request, state.max_body_bytes)
    try:  # an unparsable body: the node's core route refuses it in its own words
        body = json_object(raw, allow_empty=False)
    except ProxyError:
        return await state.upstream.forward(request, body=raw)
    if pipeline_id is not None:
        spec = await state.pipelines.spec("ingest", pipeline_id)
        if spec is None:
            return await state.upstream.forward(request, body=raw)
    else:
        inline = body.get("pipeline")
        if not isinstance(inline, dict):
            return await state.upstream.forward(request, body=raw)
        spec = _spec("ingest", "_simulate_pipeline", inline)
        if not has_ours("ingest", spec):
            return await state.upstream.forward(request, body=raw)
    try:
        docs = parse_docs({"docs": body.get("docs", [])})
    except ConfigError as exc:
        raise ProxyError(400, "parse_exception", str(exc)) from None
    verbose = request.query_params.get("verbose") in ("", "true")
    answer = await run_in_threadpool(
        lambda: simulate(spec, docs, encoders=state.models, client=state.client, verbose=verbose)
    )
    return JSONResponse(answer)
