"""The proxy's part of the ``semantic`` field type (:mod:`processors.semantic`).

* ``PUT /<index>`` and templates: semantic fields become plain fields on the node, their
  definitions go to ``_meta.neuralpipe.semantic``, and the index setting
  ``index.neural_search.semantic_ingest_batch_size`` (unknown to the node) to
  ``_meta.neuralpipe``;
* ``GET [/<index>]/_mapping``: the semantic fields shown as the plugin's node shows them;
* ``PUT /<index>/_mapping``: new or changed semantic fields, as at creation;
* writes (``_bulk``, ``_doc``, ``_create``): :class:`~processors.semantic.ingest.SemanticIngest`
  after the document's pipelines;
* searches: ``neural`` on a semantic field rewritten (:mod:`processors.semantic.query`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.config.index_translation import node_index_body, translate_semantic
from processors.config.index_translation import take_batch_size as _take_batch_size
from processors.config.sparse_vector_mapping import META_KEY as SPARSE_META_KEY
from processors.config.sparse_vector_mapping import has_sparse_vector, restore_mapping
from processors.ingest.sparse_mirror import META_KEY as MIRROR_META_KEY
from processors.ingest.sparse_mirror import (
    add_mirror,
    mirrors_of,
    put_meta_without,
    shown_without_mirrors,
)
from processors.models.mlcommons.errors import model_not_found
from processors.proxy.errors import ProxyError, guarded, json_object
from processors.proxy.state import ProxyState, state_of
from processors.proxy.upstream import read_body
from processors.semantic.fields import (
    BATCH_SETTING,
    DENSE,
    META_KEY,
    ModelDoc,
    SemanticMappingError,
    SemanticParseError,
    shown_mapping,
)
from processors.semantic.ingest import SemanticIngest, batch_size_of, registration_doc
from processors.semantic.query import SemanticQueryError, rewrite

JSONObject = dict[str, Any]
MARKER = b'"semantic"'


def model_doc_for(yaml_dir: Path | None, registry: Any) -> ModelDoc:
    """``model_id -> model document``: a ``<yaml_dir>/<id>.yaml`` body, else the registry's."""
    from processors.models.store import read_registration

    def describe(model_id: str) -> JSONObject:
        path = (yaml_dir / f"{model_id}.yaml") if yaml_dir is not None else None
        if path is not None and path.is_file():
            return registration_doc(read_registration(path))
        if registry is None:
            raise model_not_found()
        doc: JSONObject = registry.get_model(model_id)
        return doc

    return describe


def _model_doc(state: ProxyState) -> ModelDoc:
    """The state's model documents; an unknown id fails as the plugin's transformer fails."""
    from processors.errors import ModelNotRegisteredError
    from processors.models.mlcommons.errors import MLNotFoundError

    found: ModelDoc = getattr(state, "model_doc", None) or model_doc_for(None, state.registry)

    def describe(model_id: str) -> JSONObject:
        try:
            return found(model_id)
        except (MLNotFoundError, ModelNotRegisteredError) as exc:
            raise ProxyError(500, "runtime_exception", f"Failed to fetch model [{model_id}]: "
                             f"Failed to find model with the provided model id: {model_id}"
                             ) from exc  # fmt: skip

    return describe


def take_batch_size(settings: Any) -> str | None:
    """:func:`processors.config.index_translation.take_batch_size`, refusals as the node's 400."""
    try:
        return _take_batch_size(settings)
    except SemanticMappingError as exc:
        raise ProxyError(400, "illegal_argument_exception", str(exc)) from exc


def _refusal(exc: SemanticMappingError) -> ProxyError:
    if isinstance(exc, SemanticParseError):
        return ProxyError(400, "mapper_parsing_exception", f"Failed to parse mapping [_doc]: {exc}")
    return ProxyError(400, "illegal_argument_exception", str(exc))


async def node_body(state: ProxyState, holder: JSONObject) -> None:
    """``holder`` (an index body, or a template's ``template``) made for the node, in place
    (:func:`~processors.config.index_translation.translate_semantic`).

    Raises:
        ProxyError: the plugin's refusal (400 ``illegal_argument_exception``); a model
            that does not exist: ml-commons' not-found error.
    """
    try:
        await run_in_threadpool(translate_semantic, holder, _model_doc(state))
    except SemanticMappingError as exc:
        raise _refusal(exc) from exc


async def create_body(state: ProxyState, raw: bytes, index: str = "mapping") -> bytes:
    """``PUT /<index>``'s body as the node gets it
    (:func:`~processors.config.index_translation.node_index_body`, the translation
    ``neuralpipe index create`` makes too); unchanged when there is nothing to translate."""
    embedded = bool(getattr(state, "embedded_node", False))
    if not any(
        (
            MARKER in raw,
            b"semantic_ingest_batch_size" in raw,
            has_sparse_vector(raw),
            b"rank_features" in raw,  # each gets its dotted-feature mirror
            embedded and b"knn_vector" in raw,
        )
    ):
        return raw
    body = json_object(raw)
    try:
        node = await run_in_threadpool(
            lambda: node_index_body(body, _model_doc(state), embedded=embedded, name=index)
        )
    except SemanticMappingError as exc:
        raise _refusal(exc) from exc
    return json.dumps(node).encode()


async def template_body(state: ProxyState, raw: bytes, legacy: bool) -> bytes:
    """A template's body with its semantic fields made for the node."""
    if MARKER not in raw and b"semantic_ingest_batch_size" not in raw:
        return raw
    body = json_object(raw)
    holder = body if legacy else body.get("template")
    if isinstance(holder, dict):
        await node_body(state, holder)
    return json.dumps(body).encode()


def _without_ours(mappings: JSONObject) -> JSONObject:
    """``mappings`` as the plugin's node shows them (semantic fields back, our ``_meta`` out)."""
    meta = mappings.get("_meta")
    if not isinstance(meta, dict):
        return mappings
    ours = meta.get("neuralpipe")
    if not isinstance(ours, dict) or (META_KEY not in ours and BATCH_SETTING not in ours):
        return mappings
    shown = shown_mapping(mappings, ours.get(META_KEY) or {})
    put_meta_without(shown, meta, (META_KEY, BATCH_SETTING))
    return shown


@guarded
async def get_mapping(request: Request) -> Response:
    """``GET [/{index}]/_mapping``: the node's answer, semantic fields as the plugin shows them."""
    state = state_of(request)
    answer = await state.upstream.call("GET", request.url.path, params=dict(request.query_params))
    kind = answer.headers.get("content-type", "application/json")
    if answer.status != 200 or (
        MARKER not in answer.content
        and b"semantic_ingest" not in answer.content
        and SPARSE_META_KEY.encode() not in answer.content
        and MIRROR_META_KEY.encode() not in answer.content
    ):
        return Response(answer.content, status_code=answer.status, media_type=kind)
    body = answer.json()
    for entry in body.values() if isinstance(body, dict) else ():
        if isinstance(entry, dict) and isinstance(entry.get("mappings"), dict):
            # sparse_vector fields back first (it drops only its own _meta keys), then semantic
            shown = shown_without_mirrors(entry["mappings"])
            entry["mappings"] = _without_ours(restore_mapping(shown))
    return JSONResponse(body)


@guarded
async def put_mapping(request: Request) -> Response:
    """``PUT|POST /{index}/_mapping``: semantic fields added or updated as at creation."""
    state = state_of(request)
    raw = await read_body(request, state.max_body_bytes)
    if MARKER not in raw:
        return await state.upstream.forward(request, body=raw)
    body = json_object(raw)
    index = request.path_params["index"]
    existing = await state.meta.of(index)
    holder: JSONObject = {"mappings": copy.deepcopy(body)}
    await node_body(state, holder)
    mappings = holder["mappings"]
    semantic = ((mappings.get("_meta") or {}).get("neuralpipe") or {}).get(META_KEY) or {}
    for name, ours in existing.items():
        old = ours.get(META_KEY) or {}
        for path, definition in semantic.items():
            if path in old:
                _check_update(path, old[path], definition)
        merged = {**ours, META_KEY: {**old, **semantic}}
        meta = dict(body.get("_meta") or {})
        meta["neuralpipe"] = merged
        mappings["_meta"] = meta
        del name
    state.meta.forget()
    return await state.upstream.forward(request, body=json.dumps(mappings).encode())


def _check_update(path: str, old: JSONObject, new: JSONObject) -> None:
    """The semantic mapper's merge checks: only its updateable parameters may change."""
    leaf = path.split(".")[-1]
    fixed = ("raw_field_type", "semantic_info_field_name", "chunking", "dense_embedding_config",
             "sparse_encoding_config")  # fmt: skip
    conflicts = [
        f"Cannot update parameter [{key}] from [{_show(old.get(key), key)}] to "
        f"[{_show(new.get(key), key)}]"
        for key in fixed
        if old.get(key) != new.get(key)
    ]
    if conflicts:
        raise ProxyError(400, "illegal_argument_exception",
                         f"Mapper for [{leaf}] conflicts with existing mapper:\n\t"
                         + "\n\t".join(conflicts))  # fmt: skip


def _show(value: Any, key: str) -> str:
    """A parameter value as the mapper prints it in a conflict (Java's ``toString``)."""
    if value is None:
        return "text" if key == "raw_field_type" else "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v, key) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0] != "parameters")  # HashMap order
        return "{" + ", ".join(f"{k}={_show(v, key)}" for k, v in items) + "}"
    return str(value)


async def semantic_of(state: ProxyState, index: str | None) -> JSONObject:
    """``{path: definition}`` of the semantic fields of the indices ``index`` names."""
    if not index:
        return {}
    found: JSONObject = {}
    for ours in (await state.meta.of(index)).values():
        found.update(ours.get(META_KEY) or {})
    return found


async def rewrite_search(state: ProxyState, index: str | None, body: JSONObject) -> JSONObject:
    """``body`` with ``neural`` on semantic fields rewritten; unchanged when there are none."""
    fields = await semantic_of(state, index)
    if not fields or b"neural" not in json.dumps(body).encode():
        return body
    describe = _model_doc(state)

    def is_dense(definition: JSONObject) -> bool:
        doc = describe(str(definition["model_id"]))
        return str(doc.get("algorithm") or doc.get("function_name")) == DENSE

    try:
        result: JSONObject = await run_in_threadpool(rewrite, body, fields, is_dense)
    except SemanticQueryError as exc:
        raise ProxyError(400, "illegal_argument_exception", str(exc)) from exc
    return result


UPDATE_NPE = (
    'Cannot invoke "org.opensearch.action.index.IndexRequest.getPipeline()" because '
    '"indexRequest" is null'
)
"""The 3.6 node's whole-``_bulk`` answer (500 ``null_pointer_exception``) when the semantic
processor refuses the ``doc`` of an ``update`` that has no upsert."""


def _bodies(item: Any) -> list[JSONObject]:
    """The documents of a bulk item the semantic processor sees: the source of an
    ``index``/``create``; the ``doc`` (partial, merged by the node afterwards) and the
    ``upsert`` of an ``update`` (a ``script`` is not looked at)."""
    if item.op != "update":
        return [item.source]
    return [item.source[key] for key in ("doc", "upsert") if isinstance(item.source.get(key), dict)]


def _update_failed(item: Any, index: str, error: str) -> None:
    """The plugin's failure of an ``update`` item, as the 3.6 node reports it: with an upsert
    (``upsert`` or ``doc_as_upsert``) an ``index`` item without ``_id``; without one the whole
    request fails (the node's null pointer)."""
    from processors.proxy.bulk_body import failed_result

    if "upsert" in item.source or item.source.get("doc_as_upsert") is True:
        item.result = failed_result("index", index, None, 400, "illegal_argument_exception",
                                    error)  # fmt: skip
        return
    raise ProxyError(500, "null_pointer_exception", UPDATE_NPE)


async def run_semantic(state: ProxyState, items: list[Any]) -> None:
    """Write the semantic info of every pending ``index``/``create`` item, and into the
    ``doc``/``upsert`` of every ``update`` item (the node merges the partial document, info
    included, into the stored one, as the 3.6 node does for ``_bulk`` updates); failures become
    failed items, as the plugin's processor fails them.

    Raises:
        ProxyError: an ``update`` without upsert whose ``doc`` the processor refuses (the 3.6
            node fails the whole request then).
    """
    from processors.proxy.bulk_body import failed_result

    groups: dict[str, list[Any]] = {}
    for item in items:
        if item.result is None and item.op in ("index", "create", "update") and item.index:
            groups.setdefault(item.index, []).append(item)
    for index, group in groups.items():
        fields = await semantic_of(state, index)
        if not fields:
            continue
        for item in group:
            if item.source is None and item.source_raw is not None:
                item.source = json.loads(item.source_raw)
        group = [item for item in group if isinstance(item.source, dict)]
        runner = SemanticIngest(fields, _model_doc(state), state.models, state.client,
                                batch_size=await _batch_size(state, index))  # fmt: skip
        owners = [(item, body) for item in group for body in _bodies(item)]
        docs = [{"_index": index, "_id": it.doc_id, "_source": body} for it, body in owners]
        errors = await run_in_threadpool(runner.run, docs)
        failed: dict[int, str] = {}
        for (item, _), error in zip(owners, errors, strict=True):
            if error is not None:
                failed.setdefault(id(item), error)
        for item in group:
            error = failed.get(id(item))
            if error is None:
                item.changed = True
            elif item.op == "update":
                _update_failed(item, index, error)
            else:
                item.result = failed_result(item.op, item.index, item.doc_id, 400,
                                            "illegal_argument_exception", error)  # fmt: skip


async def _batch_size(state: ProxyState, index: str) -> int:
    """``index.neural_search.semantic_ingest_batch_size`` of ``index`` (10 unless set)."""
    sizes = [batch_size_of(ours) for ours in (await state.meta.of(index)).values()]
    return sizes[0] if sizes else batch_size_of({})


async def mirrors_for(state: ProxyState, index: str | None) -> dict[str, str]:
    """``{rank_features path: dotted-feature mirror path}`` of the index ``index`` names (empty
    when it names several: a write goes to one index)."""
    if not index:
        return {}
    found = await state.meta.of(index)
    return mirrors_of(next(iter(found.values()))) if len(found) == 1 else {}


async def add_mirrors_to(state: ProxyState, items: list[Any]) -> None:
    """Write the dotted-feature mirrors (:mod:`processors.ingest.sparse_mirror`) into every
    pending ``index``/``create`` item's document."""
    for item in items:
        if item.result is not None or item.op not in ("index", "create"):
            continue
        mirrors = await mirrors_for(state, item.index)
        if not mirrors:
            continue
        if item.source is None and item.source_raw is not None:
            try:
                item.source = json.loads(item.source_raw)
            except ValueError:
                continue  # the node's own parse error
        if isinstance(item.source, dict):
            add_mirror(item.source, mirrors)
            item.changed = True


async def has_semantic(state: ProxyState, index: str | None) -> bool:
    return bool(await semantic_of(state, index))


def index_path(index: str) -> str:
    return f"/{quote(index, safe=',*')}"


__all__ = ["create_body", "get_mapping", "model_doc_for", "put_mapping", "rewrite_search",
           "run_semantic", "template_body"]  # fmt: skip


def _merge(target: JSONObject, changes: JSONObject) -> None:
    """OpenSearch's partial-document merge: objects merged key by key, the rest replaced."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _drop_info(source: Any, fields: JSONObject) -> None:
    """Remove the stored semantic info of every semantic field (it is written again)."""
    from processors.semantic.fields import info_name

    for path, definition in fields.items():
        parts = path.split(".")
        holders: list[Any] = [source]
        for part in parts[:-1]:
            nxt: list[Any] = []
            for holder in holders:
                value = holder.get(part) if isinstance(holder, dict) else None
                nxt += value if isinstance(value, list) else [value]
            holders = nxt
        for holder in holders:
            if isinstance(holder, dict):
                holder.pop(info_name(path, definition), None)


@guarded
async def update_document(request: Request) -> Response:
    """``POST /{index}/_update/{id}``: on an index with semantic fields, a partial ``doc`` is
    merged into the stored document and its semantic info written again, as the plugin's
    system processor does on the node; anything else goes to the node unchanged."""
    state = state_of(request)
    index, doc_id = request.path_params["index"], request.path_params["id"]
    raw = await read_body(request, state.max_body_bytes)
    fields = await semantic_of(state, index)
    if not fields:
        return await state.upstream.forward(request, body=raw)
    body = json_object(raw)
    changes = body.get("doc")
    if not isinstance(changes, dict) or set(body) - {"doc", "detect_noop"}:
        return await state.upstream.forward(request, body=raw)
    status, stored = await state.upstream.json(
        "GET", f"/{quote(index, safe='')}/_doc/{quote(doc_id, safe='')}"
    )
    if status != 200 or not stored.get("found"):
        return await state.upstream.forward(request, body=raw)
    source = copy.deepcopy(stored.get("_source") or {})
    _merge(source, changes)
    _drop_info(source, fields)
    runner = SemanticIngest(fields, _model_doc(state), state.models, state.client)
    errors = await run_in_threadpool(
        runner.run, [{"_index": index, "_id": doc_id, "_source": source}]
    )
    if errors[0] is not None:
        raise ProxyError(400, "illegal_argument_exception", errors[0])
    add_mirror(source, await mirrors_for(state, index))
    params = {
        k: v for k, v in request.query_params.items() if k in ("refresh", "routing", "timeout")
    }
    params.update(if_seq_no=str(stored["_seq_no"]), if_primary_term=str(stored["_primary_term"]))
    answer = await state.upstream.call(
        "PUT", f"/{quote(index, safe='')}/_doc/{quote(doc_id, safe='')}", params=params,
        body=json.dumps(source).encode(), content_type="application/json",
    )  # fmt: skip
    kind = answer.headers.get("content-type", "application/json")
    return Response(answer.content, status_code=answer.status, media_type=kind)
