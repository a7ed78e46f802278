"""``/_plugins/_ml/…``: ml-commons' model APIs, served by a ``ModelRegistry``.

Every route maps to one registry method, run in a worker thread (the registry talks to the
node synchronously, through the proxy's bridged client). Refusals are ml-commons' own
(``MLCommonsError`` with its status, shaped ``status_exception``). Routes not listed here go
to the node, which answers as a node without ml-commons does.

========================================================  ===================================
route                                                     registry method
========================================================  ===================================
``POST model_groups/_register``                           ``register_model_group``
``GET|DELETE model_groups/{id}``                          ``get_model_group`` / ``delete_…``
``GET|POST model_groups/_search``                         ``search_model_groups``
``POST models/_register[?deploy=true]``                   ``register_model``
``POST models/_register_meta``                            ``register_model_meta``
``POST models/{id}/upload_chunk/{n}``                     ``upload_chunk`` (raw bytes)
``POST models/{id}/_deploy`` / ``_undeploy``              ``deploy_model`` / ``undeploy_model``
``POST models/_undeploy`` (``{"model_ids": [...]}``)      ``undeploy_model`` for each
``GET|DELETE models/{id}``                                ``get_model`` / ``delete_model``
``GET|POST models/_search``                               ``search_models``
``POST models/{id}/_predict``, ``_predict/{algo}/{id}``   ``predict``
``GET|DELETE tasks/{id}``, ``GET|POST tasks/_search``     ``get_task`` / ``delete_task`` / …
========================================================  ===================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from processors.proxy.errors import ProxyError, guarded, json_object
from processors.proxy.state import state_of
from processors.proxy.upstream import read_body

JSONObject = dict[str, Any]
ML = "/_plugins/_ml"


def _registry(request: Request) -> Any:
    registry = state_of(request).registry
    if registry is None:
        raise ProxyError(400, "illegal_argument_exception", "this proxy serves no model registry")
    return registry


async def _body(request: Request) -> JSONObject:
    return json_object(await read_body(request, state_of(request).max_body_bytes))


def _call(method: str, *, body: bool = False, path: tuple[str, ...] = ()) -> Callable[..., Any]:
    """An endpoint calling ``registry.<method>(*path params[, body])``."""

    @guarded
    async def endpoint(request: Request) -> Response:
        registry = _registry(request)
        args: list[Any] = [request.path_params[name] for name in path]
        if body:
            args.append(await _body(request))
        answer = await run_in_threadpool(getattr(registry, method), *args)
        return JSONResponse(answer)

    return endpoint


@guarded
async def register_model(request: Request) -> Response:
    registry, body = _registry(request), await _body(request)
    deploy = request.query_params.get("deploy") in ("", "true")
    return JSONResponse(
        await run_in_threadpool(lambda: registry.register_model(body, deploy=deploy))
    )


@guarded
async def upload_chunk(request: Request) -> Response:
    registry = _registry(request)
    model_id, number = request.path_params["model_id"], request.path_params["chunk"]
    if not number.isdigit():
        raise ProxyError(400, "illegal_argument_exception", f"chunk number [{number}] is invalid")
    content = await read_body(request, state_of(request).max_body_bytes)
    return JSONResponse(
        await run_in_threadpool(registry.upload_chunk, model_id, int(number), content)
    )


@guarded
async def undeploy_many(request: Request) -> Response:
    registry, body = _registry(request), await _body(request)
    ids = body.get("model_ids") or []
    if not isinstance(ids, list) or not ids:
        raise ProxyError(400, "illegal_argument_exception", "model_ids is required")
    merged: JSONObject = {}
    for model_id in ids:
        answer = await run_in_threadpool(registry.undeploy_model, str(model_id))
        for node, part in answer.items():
            merged.setdefault(node, {"stats": {}})["stats"].update(part.get("stats", {}))
    return JSONResponse(merged)


def routes() -> list[Route]:
    """The ml-commons routes, specific paths before ``{id}`` ones."""
    get_post = ["GET", "POST"]
    return [
        Route(f"{ML}/model_groups/_register", _call("register_model_group", body=True),
              methods=["POST"]),
        Route(f"{ML}/model_groups/_search", _call("search_model_groups", body=True),
              methods=get_post),
        Route(f"{ML}/model_groups/{{group_id}}", _call("get_model_group", path=("group_id",)),
              methods=["GET"]),
        Route(f"{ML}/model_groups/{{group_id}}",
              _call("delete_model_group", path=("group_id",)), methods=["DELETE"]),
        Route(f"{ML}/models/_register", register_model, methods=["POST"]),
        Route(f"{ML}/models/_register_meta", _call("register_model_meta", body=True),
              methods=["POST"]),
        Route(f"{ML}/models/_search", _call("search_models", body=True), methods=get_post),
        Route(f"{ML}/models/_undeploy", undeploy_many, methods=["POST"]),
        Route(f"{ML}/models/{{model_id}}/upload_chunk/{{chunk}}", upload_chunk,
              methods=["POST"]),
        Route(f"{ML}/models/{{model_id}}/_deploy", _call("deploy_model", path=("model_id",)),
              methods=["POST"]),
        Route(f"{ML}/models/{{model_id}}/_undeploy",
              _call("undeploy_model", path=("model_id",)), methods=["POST"]),
        Route(f"{ML}/models/{{model_id}}/_predict",
              _call("predict", body=True, path=("model_id",)), methods=["POST"]),
        Route(f"{ML}/_predict/{{algorithm}}/{{model_id}}",
              _call("predict", body=True, path=("model_id",)), methods=["POST"]),
        Route(f"{ML}/models/{{model_id}}", _call("get_model", path=("model_id",)),
              methods=["GET"]),
        Route(f"{ML}/models/{{model_id}}", _call("delete_model", path=("model_id",)),
              methods=["DELETE"]),
        Route(f"{ML}/tasks/_search", _call("search_tasks", body=True), methods=get_post),
        Route(f"{ML}/tasks/{{task_id}}", _call("get_task", path=("task_id",)),
              methods=["GET"]),
        Route(f"{ML}/tasks/{{task_id}}", _call("delete_task", path=("task_id",)),
              methods=["DELETE"]),
    ]  # fmt: skip
