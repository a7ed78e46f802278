"""``_bulk``, ``_doc``, ``_create`` through neuralpipe's ingest pipelines; node-shaped items.

For each ``index``/``create`` action the pipelines are chosen as the node chooses them: the
action's ``pipeline``, else ``?pipeline=``, else ``index.default_pipeline`` (``_none``: none),
then ``index.final_pipeline``; the two index settings are read from the index's
``_meta.neuralpipe``. A pipeline neuralpipe knows runs in Python
(:class:`~processors.pipeline.ingest.IngestPipeline`, in a worker thread) and the finished
document goes to the node with ``pipeline: _none``; a default the node must run is named on
the action. A document that fails is a failed item (status and error type as the node gives
them, ``illegal_argument_exception``/400 for ours); a dropped one a ``noop`` item; nothing is
left out. Every document for an index with dotted-feature mirrors gets them written
(:mod:`processors.ingest.sparse_mirror`). Requests with nothing for neuralpipe are streamed
through unchanged.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.ingest.sparse_mirror import add_mirror
from processors.proxy.bulk_body import BulkItem, failed_result, noop_result, parse_bulk, status_of
from processors.proxy.errors import (
    ProxyError,
    classify,
    error_response,
    guarded,
    json_object,
    unparsable_document,
)
from processors.proxy.semantic_routes import (
    add_mirrors_to,
    has_semantic,
    mirrors_for,
    run_semantic,
)
from processors.proxy.sparse_vector_checks import (
    refusal,
    refuse_bad_sparse_vectors,
    sparse_vector_paths,
)
from processors.proxy.state import ProxyState, state_of
from processors.proxy.upstream import read_body, record

JSONObject = dict[str, Any]
DEFAULT, FINAL = "index.default_pipeline", "index.final_pipeline"


async def plan(state: ProxyState, item: BulkItem, url_pipeline: str | None) -> None:
    """Decide which pipelines run for one action (sets ``pipelines``/``node_pipeline``)."""
    if item.op not in ("index", "create") or item.index is None:
        return
    found = await state.meta.of(item.index)
    settings = next(iter(found.values())) if len(found) == 1 else {}
    requested = item.meta.get("pipeline", url_pipeline)
    if requested and requested != "_none":
        if await state.pipelines.spec("ingest", requested) is not None:
            item.pipelines.append(requested)
            item.replaces_request_pipeline = True
    elif not requested and settings.get(DEFAULT):
        default = str(settings[DEFAULT])
        if await state.pipelines.spec("ingest", default) is not None:
            item.pipelines.append(default)
            item.replaces_request_pipeline = True
        else:
            item.node_pipeline = default
    final = settings.get(FINAL)
    if final and await state.pipelines.spec("ingest", str(final)) is not None:
        item.pipelines.append(str(final))
    item.changed = bool(item.pipelines or item.node_pipeline)


async def run_pipelines(state: ProxyState, items: list[BulkItem]) -> None:
    """Run every item's pipelines, stage by stage, one batch per pipeline and stage."""
    started = time.perf_counter()
    try:
        await _stages(state, items)
    finally:
        record("ingest", time.perf_counter() - started)


async def _stages(state: ProxyState, items: list[BulkItem]) -> None:
    stage = 0
    while True:
        groups: dict[str, list[BulkItem]] = {}
        for item in items:
            if item.result is None and len(item.pipelines) > stage:
                groups.setdefault(item.pipelines[stage], []).append(item)
        if not groups:
            return
        for pipeline_id, group in groups.items():
            spec = await state.pipelines.spec("ingest", pipeline_id)
            await run_in_threadpool(_run_group, state, spec, group)
        stage += 1


def _run_group(state: ProxyState, spec: Any, group: list[BulkItem]) -> None:
    docs = [{"_index": it.index, "_id": it.doc_id, "_source": it.source} for it in group]
    try:
        results = state.ingest_pipeline(spec).run(docs)
    except Exception as exc:
        status, error_type, reason = classify(exc)
        if status == 0:
            status, error_type = int(getattr(exc, "status_code", 500)), str(exc.args[1])
            reason = str(exc)
        for item in group:
            item.result = failed_result(
                item.op, item.index, item.doc_id, status, error_type, reason
            )
        return
    for item, result in zip(group, results, strict=True):
        if result.dropped:
            item.result = noop_result(item.op, item.index, item.doc_id)
        elif result.error is not None:
            kind = result.error_type or "illegal_argument_exception"
            reason = result.error.removeprefix(f"[{kind}] ")
            item.result = failed_result(
                item.op, item.index, item.doc_id, status_of(kind), kind, reason
            )
        else:
            item.source = result.source


def _read_sources(items: list[BulkItem]) -> None:
    for item in items:
        if not item.pipelines or item.source_raw is None:
            continue
        try:
            source = json.loads(item.source_raw)
        except ValueError:
            source = None
        if isinstance(source, dict):
            item.source = source
        else:
            reason = "failed to parse: the document source is not a JSON object"
            item.result = failed_result(item.op, item.index, item.doc_id, 400,
                                        "mapper_parsing_exception", reason)  # fmt: skip


@guarded
async def bulk(request: Request) -> Response:
    """``POST|PUT [/{index}]/_bulk``."""
    started = time.perf_counter()
    state = state_of(request)
    url_index = request.path_params.get("index")
    raw = await read_body(request, state.max_body_bytes)
    params = dict(request.query_params)
    url_pipeline = params.get("pipeline")
    items = parse_bulk(raw, url_index)
    if items is None:
        return await state.upstream.forward(request, body=raw)
    for item in items:
        await plan(state, item, url_pipeline)
    indices = {item.index for item in items if item.op in ("index", "create", "update")}
    semantic = [index for index in indices if await has_semantic(state, index)]
    sparse = [index for index in indices if await sparse_vector_paths(state, index)]
    mirrored = [index for index in indices if await mirrors_for(state, index)]
    if not (semantic or sparse or mirrored) and not any(item.changed for item in items):
        return await state.upstream.forward(request, body=raw)
    _read_sources(items)
    ingest_started = time.perf_counter()
    await run_pipelines(state, items)
    if semantic:
        await run_semantic(state, items)
    if sparse:
        await refuse_bad_sparse_vectors(state, items)
    if mirrored:
        await add_mirrors_to(state, items)
    ingest_ms = int((time.perf_counter() - ingest_started) * 1000)
    if url_pipeline and await state.pipelines.spec("ingest", url_pipeline) is not None:
        params.pop("pipeline")
    params.pop("filter_path", None)  # the answer is merged here: the node must send it whole
    send = [item for item in items if item.result is None]
    upstream_ms, answered = 0, iter(())
    if send:
        answer = await state.upstream.call(
            "POST", f"/{quote(url_index, safe=',')}/_bulk" if url_index else "/_bulk",
            params=params, body=b"".join(item.lines() for item in send),
            content_type="application/x-ndjson",
        )  # fmt: skip
        if answer.status != 200:
            kind = answer.headers.get("content-type", "application/json")
            return Response(answer.content, status_code=answer.status, media_type=kind)
        body = answer.json()
        upstream_ms = int(body.get("ingest_took", 0))
        answered = iter(body["items"])
    results = [item.result if item.result is not None else next(answered) for item in items]
    return JSONResponse({
        "took": int((time.perf_counter() - started) * 1000),
        "ingest_took": ingest_ms + upstream_ms,
        "errors": any("error" in next(iter(r.values())) for r in results),
        "items": results,
    })  # fmt: skip


@guarded
async def index_document(request: Request) -> Response:
    """``PUT|POST /{index}/_doc[/{id}]`` and ``PUT|POST /{index}/_create/{id}``."""
    state = state_of(request)
    index, doc_id = request.path_params["index"], request.path_params.get("id")
    params = dict(request.query_params)
    op = (
        "create"
        if "/_create/" in request.url.path or params.get("op_type") == "create"
        else "index"
    )
    item = BulkItem(op, {} if doc_id is None else {"_id": doc_id}, b"", None, index)
    await plan(state, item, params.get("pipeline"))
    semantic = await has_semantic(state, index)
    sparse = await sparse_vector_paths(state, index)
    mirrors = await mirrors_for(state, index)
    if not item.pipelines and not semantic and not sparse and not mirrors:
        if item.node_pipeline is None:
            return await state.upstream.forward(request)
        return await state.upstream.forward(request, query=urlencode(
            {**params, "pipeline": item.node_pipeline}))  # fmt: skip
    raw = await read_body(request, state.max_body_bytes)
    try:
        item.source = json_object(raw, allow_empty=False)
    except ProxyError as exc:
        raise unparsable_document(exc) from None
    await run_pipelines(state, [item])
    if semantic:
        await run_semantic(state, [item])
    problem = refusal(item.source, sparse) if item.result is None else None
    if problem is not None:
        return JSONResponse(problem.body(doc_id), status_code=400)
    if item.result is None and mirrors:
        add_mirror(item.source, mirrors)
    if not item.pipelines and not semantic:  # checked (and mirrored): the request as it came
        query_text = request.url.query
        if item.node_pipeline is not None:
            query_text = urlencode({**params, "pipeline": item.node_pipeline})
        body = json.dumps(item.source).encode() if mirrors else raw
        return await state.upstream.forward(request, body=body, query=query_text)
    if item.result is not None:
        answer = item.result[op]
        if "error" in answer:
            error = answer["error"]
            return error_response(answer["status"], error["type"], error["reason"])
        return JSONResponse({k: v for k, v in answer.items() if k != "status"})
    query = {k: v for k, v in params.items() if k != "pipeline"}
    if item.replaces_request_pipeline:
        query["pipeline"] = "_none"
    elif item.node_pipeline:
        query["pipeline"] = item.node_pipeline
    body = json.dumps(item.source).encode()
    return await state.upstream.forward(request, body=body, query=urlencode(query))


__all__ = ["bulk", "index_document", "plan", "run_pipelines"]
