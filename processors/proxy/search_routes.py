"""``_search`` and ``_msearch`` (with and without an index) through neuralpipe's search pipelines.

The pipeline is chosen as OpenSearch chooses it:

1. an inline ``search_pipeline`` object in the body (with ``?search_pipeline=`` too: 400, the
   node's message);
2. ``?search_pipeline=<id>``; ``_none`` means no pipeline;
3. the ``index.search.default_pipeline`` neuralpipe keeps in the index's ``_meta`` (when the
   request names exactly one concrete index).

A pipeline neuralpipe knows (stored through the API, or a file) runs in Python
(:class:`~processors.pipeline.search.SearchPipeline`, in a worker thread); one it does not know
is left to the node (``?search_pipeline=`` sent on). ``neural``, ``neural_sparse`` and
``hybrid`` are rewritten with or without a pipeline. When the node's answer is the answer (no
``rerank`` step, no ``hybrid`` query) the rewritten request is sent by the proxy itself and the
answer streamed back unparsed. A request with none of these is streamed to the node unchanged
(by :mod:`processors.proxy.fastpath`, which does not even parse it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.config.search_body import parse_search_pipeline
from processors.proxy.errors import ProxyError, classify, guarded, json_object
from processors.proxy.semantic_routes import rewrite_search
from processors.proxy.state import ProxyState, state_of
from processors.proxy.upstream import read_body
from processors.search.body_json import body_json
from processors.search.dsl_values import copy_json
from processors.search.sparse_dotted import without_deferred_probe

JSONObject = dict[str, Any]
MARKERS = (b'"neural', b'"hybrid"', b'"search_pipeline"', b'"semantic"')
"""Bytes whose absence lets a request through untouched (no clause or inline pipeline)."""
BOTH = "Both named and inline search pipeline were specified. Please only specify one or the other."
AD_HOC = "_ad_hoc_pipeline"
MSEARCH_ONLY = ("max_concurrent_searches",)


@dataclass(frozen=True)
class Choice:
    """The pipeline of one search: ours (``spec``) or the node's (``node``), or none."""

    spec: Any = None
    node: str | None = None


async def choose(
    state: ProxyState, index: str | None, named: str | None, inline: Any = None
) -> Choice:
    """The search pipeline of a request, as OpenSearch resolves it."""
    if inline is not None:
        if named is not None:
            raise ProxyError(400, "illegal_argument_exception", BOTH)
        return Choice(spec=parse_search_pipeline(AD_HOC, inline))
    if named == "_none":
        return Choice(node=named)
    if named:
        spec = await state.pipelines.spec("search", named)
        return Choice(spec=spec) if spec is not None else Choice(node=named)
    if index and not index.startswith("_all"):
        default = await state.meta.setting(index, "index.search.default_pipeline")
        if default:
            spec = await state.pipelines.spec("search", default)
            return Choice(spec=spec) if spec is not None else Choice(node=default)
    return Choice()


async def _run(
    state: ProxyState, choice: Choice, index: str | None, body: JSONObject, params: JSONObject
) -> JSONObject:
    if choice.node is not None:
        params = {**params, "search_pipeline": choice.node}
    pipeline = state.search_pipeline(choice.spec)
    response: JSONObject = await run_in_threadpool(pipeline.search, index, body, params)
    return response


@guarded
async def search(request: Request) -> Response:
    """``GET|POST [/{index}]/_search``."""
    state = state_of(request)
    index = request.path_params.get("index")
    raw = await read_body(request, state.max_body_bytes)
    params = dict(request.query_params)
    named = params.pop("search_pipeline", None)
    if not any(marker in raw for marker in MARKERS):
        choice = await choose(state, index, named)
        if choice.spec is None:
            query = None if choice.node == named else _query(params, choice.node)
            return await state.upstream.forward(request, body=raw, query=query)
        body: JSONObject = json_object(raw)
    else:
        body = await rewrite_search(state, index, json_object(raw))
        choice = await choose(state, index, named, body.pop("search_pipeline", None))
    pipeline = state.search_pipeline(choice.spec)
    kept = copy_json(body)  # for a rerun when a deferred dotted-token check fails
    sent, check = await run_in_threadpool(pipeline.node_request_checked, index, body, True, params)
    if sent is not None:  # the node's answer is the answer: streamed back, not parsed
        query = _query(params, choice.node)
        if check is not None:
            answer = await _checked(state, request, sent, query, check)
            if answer is not None:
                return answer
            sent = await run_in_threadpool(pipeline.node_request, index, kept, True, params)
            assert sent is not None
        return await state.upstream.forward(request, body=dumps(sent), query=query)
    return JSONResponse(await _run(state, choice, index, kept, params))


async def _checked(
    state: ProxyState, request: Request, sent: JSONObject, query: str, check: Any
) -> Response | None:
    """The node's answer to ``sent`` without the deferred dotted-token probe, when the probe
    confirms the mirrors (:meth:`~processors.pipeline.search.SearchPipeline.node_request_checked`);
    ``None``: send the request again without assuming."""
    answer = await state.upstream.call(
        "POST", request.url.path, params=dict(parse_qsl(query)), body=dumps(sent)
    )
    if answer.status != 200:
        return None
    content = without_deferred_probe(answer.content, check)
    if content is None:
        return None
    kind = answer.headers.get("content-type", "application/json")
    return Response(content, status_code=200, media_type=kind)


@guarded
async def msearch(request: Request) -> Response:
    """``GET|POST [/{index}]/_msearch``: each search as ``_search`` would run it."""
    started = time.perf_counter()
    state = state_of(request)
    raw = await read_body(request, state.max_body_bytes)
    params = dict(request.query_params)
    named = params.pop("search_pipeline", None)
    pairs = _pairs(raw)
    url_index = request.path_params.get("index")
    items: list[tuple[str | None, JSONObject, JSONObject, Choice]] = []
    plain: list[int] = []
    for number, (header_raw, body_raw) in enumerate(pairs):
        header = json_object(header_raw)
        index = _index_of(header.get("index", url_index))
        body = await rewrite_search(state, index, json_object(body_raw))
        choice = await choose(state, index, named, body.pop("search_pipeline", None))
        items.append((index, header, body, choice))
        marked = any(marker in body_raw for marker in MARKERS)
        if choice.spec is None and not marked and choice.node in (None, named):
            plain.append(number)
    if len(plain) == len(pairs):
        return await state.upstream.forward(request, body=raw)
    responses: list[JSONObject | None] = [None] * len(pairs)
    await _plain_part(request, state, pairs, plain, responses)
    base = {k: v for k, v in params.items() if k not in MSEARCH_ONLY}

    async def one(number: int) -> None:
        index, header, body, choice = items[number]
        extra = {k: _param(v) for k, v in header.items() if k != "index"}
        try:
            answer = await _run(state, choice, index, body, {**base, **extra})
            responses[number] = {**answer, "status": 200}
        except Exception as exc:
            responses[number] = _item_error(exc)

    async with anyio.create_task_group() as group:
        for number in range(len(pairs)):
            if number not in plain:
                group.start_soon(one, number)
    took = int((time.perf_counter() - started) * 1000)
    return JSONResponse({"took": took, "responses": responses})


async def _plain_part(
    request: Request,
    state: ProxyState,
    pairs: list[tuple[bytes, bytes]],
    plain: list[int],
    responses: list[JSONObject | None],
) -> None:
    """The searches that need nothing of neuralpipe, in one ``_msearch`` to the node."""
    if not plain:
        return
    lines = b"".join(pairs[n][0] + b"\n" + pairs[n][1] + b"\n" for n in plain)
    index = request.path_params.get("index")
    answer = await state.upstream.call(
        request.method if request.method == "POST" else "POST",
        f"/{index}/_msearch" if index else "/_msearch",
        params=dict(request.query_params),
        body=lines,
        content_type="application/x-ndjson",
    )
    if answer.status != 200:
        raise ProxyError(answer.status, "exception", answer.content.decode("utf-8", "replace"))
    for number, item in zip(plain, answer.json()["responses"], strict=True):
        responses[number] = item


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    lines = raw.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 2:
        raise ProxyError(400, "illegal_argument_exception",
                         "The msearch request must be terminated by a newline [\\n]")  # fmt: skip
    return [(lines[i] or b"{}", lines[i + 1]) for i in range(0, len(lines), 2)]


def _index_of(value: Any) -> str | None:
    if isinstance(value, list):
        return ",".join(map(str, value)) or None
    return str(value) if value else None


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _query(params: JSONObject, pipeline: str | None) -> str:
    merged = {**params, **({"search_pipeline": pipeline} if pipeline else {})}
    return urlencode(merged)


def dumps(body: JSONObject) -> bytes:
    """``body`` as the node gets it: :func:`~processors.search.body_json.body_json`, encoded.

    Example:
        >>> dumps({"knn": {"v": {"vector": [0.1, 0.25, 1e-05, 3.0, 0.5, 0.75, 2.0, 1.5]}}})
        b'{"knn":{"v":{"vector":[0.1,0.25,1e-05,3,0.5,0.75,2,1.5]}}}'
    """
    return body_json(body).encode()


def _item_error(exc: Exception) -> JSONObject:
    status, error_type, reason = classify(exc)
    if status == 0:
        info = getattr(exc, "info", None)
        code = int(getattr(exc, "status_code", 500))
        if isinstance(info, dict) and "error" in info:
            return {"error": info["error"], "status": code}
        return {"error": {"type": "exception", "reason": str(info)}, "status": code}
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


@guarded
async def query_body(request: Request) -> Response:
    """``_count``, ``_explain``, ``_validate/query``, ``_delete_by_query``, ``_update_by_query``:
    their ``query`` with ``neural`` / ``neural_sparse`` rewritten as a search's, then sent on.

    ``hybrid`` is a top-level query of ``_search`` only (the node would not know it here
    either); a body without a neural clause goes to the node unparsed.
    """
    state = state_of(request)
    raw = await read_body(request, state.max_body_bytes)
    if not any(marker in raw for marker in MARKERS[:2]):
        return await state.upstream.forward(request, body=raw)
    body = json_object(raw)
    index = request.path_params.get("index")
    query = body.get("query")
    if isinstance(query, dict) and "hybrid" in query:
        raise ProxyError(400, "illegal_argument_exception",
                         f"[hybrid] query is only supported by _search, not by "
                         f"[{request.url.path}]")  # fmt: skip
    pipeline = state.search_pipeline(None)
    sent = await run_in_threadpool(pipeline.node_request, index, body, True)
    return await state.upstream.forward(request, body=dumps(sent or body))
