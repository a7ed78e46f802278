"""``/_plugins/_ml/…``: ml-commons' model APIs, served by a ``ModelRegistry``.

Every route maps to one registry method, run in a worker thread (the registry talks to the
node synchronously, through the proxy's bridged client). Refusals are ml-commons' own
(``MLCommonsError`` with its status, shaped ``status_exception``). ml-commons' old names
(its ``ReplacedRoute``s) are served too, and a trailing slash is ignored. The APIs of what
neuralpipe does not emulate (connectors, remote models, agents, memory, controllers, training,
``_execute``) answer a 400 that says so.

==========================================================  =================================
route (old name)                                            registry method
==========================================================  =================================
``POST model_groups/_register``                             ``register_model_group``
``GET|PUT|DELETE model_groups/{id}``                        ``get_`` / ``update_`` / ``delete_…``
``GET|POST model_groups/_search``                           ``search_model_groups``
``POST models/_register[?deploy=true]`` (``_upload``)       ``register_model`` (settings checked)
``POST models/{id}/{version}/_register`` (``_upload``)      ``register_model`` (the same)
``POST models/_register_meta`` (``models/meta``)            ``register_model_meta`` (idem)
``POST models/{id}/upload_chunk/{n}`` (``chunk/{n}``)       ``upload_chunk`` (idem; raw bytes)
``POST models/{id}/_deploy`` (``_load``)                    ``deploy_model``
``POST models/{id}/_undeploy`` (``_unload``)                ``undeploy_model``
``POST models/_undeploy`` (``_unload``)                     ``undeploy_model`` for each id
``GET|PUT|DELETE models/{id}``                              ``get_`` / ``update_`` / ``delete_…``
``GET|POST models/_search``                                 ``search_models``
``POST models/{id}/_predict``, ``_predict/{algo}/{id}``     ``predict``
``GET|DELETE tasks/{id}``, ``GET|POST tasks/_search``       ``get_task`` / ``delete_task`` / …
``GET profile[/models[/{ids}]|/tasks[/{ids}]]``             ``profile``
``GET [{node}/]stats[/{stat}]``                             ``stats``
==========================================================  =================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from processors.errors import NeuralpipeError
from processors.models.mlcommons.errors import MLCommonsError
from processors.models.mlcommons.sources import local_path
from processors.proxy.errors import ProxyError, guarded, json_object
from processors.proxy.state import ProxyState, state_of
from processors.proxy.upstream import read_body

JSONObject = dict[str, Any]
ML = "/_plugins/_ml"
ALLOW_URL = "plugins.ml_commons.allow_registering_model_via_url"
ALLOW_LOCAL_FILE = "plugins.ml_commons.allow_registering_model_via_local_file"
TRUSTED_URL = "plugins.ml_commons.trusted_url_regex"
URL_REFUSED = (
    "To upload custom model user needs to enable allow_registering_model_via_url settings. "
    "Otherwise please use opensearch pre-trained models."
)
CHUNKS_REFUSED = (
    "To upload custom model from local file, user needs to enable "
    "allow_registering_model_via_local_file settings. Otherwise please use opensearch "
    "pre-trained models."
)
LOCAL_FILE_REFUSED = CHUNKS_REFUSED
UNTRUSTED_URL = "URL can't match trusted url regex"


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
    url = body.get("url")
    if url is not None:
        await check_url(state_of(request), str(url))
    return JSONResponse(
        await run_in_threadpool(lambda: registry.register_model(body, deploy=deploy))
    )


async def check_url(state: ProxyState, url: str) -> None:
    """ml-commons' refusals of a ``_register`` ``url`` (settings off, untrusted URL), and
    neuralpipe's own: a local file only inside ``model_files_dir`` (whether a path outside it
    exists is never looked at, so the answer cannot tell)."""
    cluster = state.cluster
    if not await cluster.flag(ALLOW_URL):
        raise MLCommonsError(URL_REFUSED, error_type="illegal_argument_exception")
    local = not url.startswith(("http://", "https://", "ftp://"))
    if local and not await cluster.flag(ALLOW_LOCAL_FILE):
        raise MLCommonsError(LOCAL_FILE_REFUSED, error_type="illegal_argument_exception")
    if not local and not re.match(str(await cluster.value(TRUSTED_URL)), url):
        raise MLCommonsError(UNTRUSTED_URL, error_type="illegal_argument_exception")
    if local and not inside(url, state.model_files_dir):
        raise MLCommonsError(
            f"model url [{url}] is outside the directory model files may be read from "
            "(NEURALPIPE_MODEL_FILES_DIR)", error_type="illegal_argument_exception",
        )  # fmt: skip


def inside(url: str, root: Path | None) -> bool:
    """Whether a local model ``url`` (path or ``file:`` URL) names a file under ``root``.

    Relative paths resolve against ``root``; ``..`` and symbolic links are resolved first.

    Example:
        >>> inside("file:///m/a.zip", Path("/m")), inside("/m/../etc/passwd", Path("/m"))
        (True, False)
    """
    if root is None:
        return False
    try:
        path = local_path(url, root)
    except NeuralpipeError:
        return False
    if path is None:
        return False
    real, base = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, base]) == base and real != base


async def _local_file_allowed(request: Request) -> None:
    if not await state_of(request).cluster.flag(ALLOW_LOCAL_FILE):
        raise MLCommonsError(CHUNKS_REFUSED, error_type="illegal_argument_exception")


@guarded
async def register_meta(request: Request) -> Response:
    registry = _registry(request)
    await _local_file_allowed(request)
    body = await _body(request)
    return JSONResponse(await run_in_threadpool(registry.register_model_meta, body))


@guarded
async def upload_chunk(request: Request) -> Response:
    registry = _registry(request)
    await _local_file_allowed(request)
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


@guarded
async def profile(request: Request) -> Response:
    """``GET profile[/models[/<ids>]|/tasks[/<ids>]]``."""
    registry = _registry(request)
    path = request.url.path.rstrip("/")
    ids = request.path_params.get("model_id")
    if path.endswith(("/profile/tasks",)) or "/profile/tasks/" in path:
        return JSONResponse({})  # tasks run synchronously: none is ever running
    wanted = ids.split(",") if ids else None
    return JSONResponse(await run_in_threadpool(lambda: registry.profile(wanted)))


@guarded
async def stats(request: Request) -> Response:
    """``GET [<node>/]stats[/<stat>]``."""
    registry = _registry(request)
    stat = request.path_params.get("stat")
    return JSONResponse(await run_in_threadpool(registry.stats, stat))


@guarded
async def not_served(request: Request) -> Response:
    """An ml-commons API that needs what neuralpipe does not emulate (remote connectors,
    agents, memory, training): said so, instead of the node's "no handler found"."""
    raise ProxyError(
        400, "illegal_argument_exception",
        f"[{request.method} {request.url.path}] is an ml-commons API neuralpipe does not serve: "
        "it serves local models (model groups, register, deploy, predict, tasks, profile, stats)",
    )  # fmt: skip


def _both(
    new: str, old: str | None, endpoint: Callable[..., Any], methods: list[str]
) -> list[Route]:
    """A route and its deprecated alias (ml-commons' ``ReplacedRoute``)."""
    found = [Route(f"{ML}/{new}", endpoint, methods=methods)]
    if old is not None:
        found.append(Route(f"{ML}/{old}", endpoint, methods=methods))
    return found


def routes() -> list[Route]:
    """The ml-commons routes, specific paths before ``{id}`` ones, each with its old alias."""
    get_post, post = ["GET", "POST"], ["POST"]
    deploy = _call("deploy_model", path=("model_id",))
    undeploy = _call("undeploy_model", path=("model_id",))
    predict = _call("predict", body=True, path=("model_id",))
    return [
        *_both("model_groups/_register", None, _call("register_model_group", body=True), post),
        *_both("model_groups/_search", None, _call("search_model_groups", body=True), get_post),
        *_both("model_groups/{group_id}", None, _call("get_model_group", path=("group_id",)),
               ["GET"]),
        *_both("model_groups/{group_id}", None,
               _call("delete_model_group", path=("group_id",)), ["DELETE"]),
        *_both("model_groups/{group_id}", None,
               _call("update_model_group", body=True, path=("group_id",)), ["PUT"]),
        *_both("models/_register", "models/_upload", register_model, post),
        *_both("models/{model_id}/{version}/_register", "models/{model_id}/{version}/_upload",
               register_model, post),
        *_both("models/_register_meta", "models/meta", register_meta, post),
        *_both("models/_search", None, _call("search_models", body=True), get_post),
        *_both("models/_undeploy", "models/_unload", undeploy_many, post),
        *_both("models/{model_id}/upload_chunk/{chunk}", "models/{model_id}/chunk/{chunk}",
               upload_chunk, post),
        *_both("models/{model_id}/_deploy", "models/{model_id}/_load", deploy, post),
        *_both("models/{model_id}/_undeploy", "models/{model_id}/_unload", undeploy, post),
        *_both("models/{model_id}/_predict", None, predict, post),
        *_both("_predict/{algorithm}/{model_id}", None, predict, post),
        *_both("models/{model_id}", None, _call("get_model", path=("model_id",)), ["GET"]),
        *_both("models/{model_id}", None, _call("update_model", body=True, path=("model_id",)),
               ["PUT"]),
        *_both("models/{model_id}", None, _call("delete_model", path=("model_id",)),
               ["DELETE"]),
        *_both("tasks/_search", None, _call("search_tasks", body=True), get_post),
        *_both("tasks/{task_id}", None, _call("get_task", path=("task_id",)), ["GET"]),
        *_both("tasks/{task_id}", None, _call("delete_task", path=("task_id",)), ["DELETE"]),
        *_both("profile", None, profile, ["GET"]),
        *_both("profile/models", None, profile, ["GET"]),
        *_both("profile/models/{model_id}", None, profile, ["GET"]),
        *_both("profile/tasks", None, profile, ["GET"]),
        *_both("profile/tasks/{task_id}", None, profile, ["GET"]),
        *_both("stats", None, stats, ["GET"]),
        *_both("stats/{stat}", None, stats, ["GET"]),
        *_both("{node_id}/stats", None, stats, ["GET"]),
        *_both("{node_id}/stats/{stat}", None, stats, ["GET"]),
        Route(f"{ML}/{{rest:path}}", not_served,
              methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]  # fmt: skip
