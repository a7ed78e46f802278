"""``sparse_vector`` fields (the plugin's SEISMIC mapper, 3.3+) on a node without the plugin.

``PUT /<index>`` with ``{"type": "sparse_vector", "method": {"name": "seismic", ...}}`` and
``index.sparse: true``: the node gets a ``rank_features`` field (the plugin's mapper indexes the
same ``FeatureField`` per token) whose ``meta`` marks it as a ``sparse_vector`` (searches read
it from ``_mapping/field``), the method goes to ``_meta.neuralpipe.sparse_vector`` and the
setting to ``_meta.neuralpipe["index.sparse"]`` (the node does not know it); ``GET _mapping``
shows the plugin's field again. Methods are validated with the plugin's messages.

Example:
    >>> body = {"settings": {"index": {"sparse": True}}, "mappings": {"properties": {
    ...     "e": {"type": "sparse_vector", "method": {"name": "seismic"}}}}}
    >>> node = to_node_body(body)
    >>> node["mappings"]["properties"]["e"]["type"], node["settings"]
    ('rank_features', {'index': {}})
    >>> restore_mapping(node["mappings"])["properties"]["e"]
    {'type': 'sparse_vector', 'method': {'name': 'seismic', 'parameters': None}}
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from processors.errors import ConfigError
from processors.search.sparse_ann import META_THRESHOLD, META_TYPE, SPARSE_VECTOR

JSONObject = dict[str, Any]
SETTING = "index.sparse"
META_KEY = "sparse_vector"
MAPPER_PARSING = "mapper_parsing_exception"
_Rule = tuple[type, Callable[[float], bool], str]
_RULES: dict[str, _Rule] = {  # in the order the plugin checks them
    "summary_prune_ratio": (float, lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "n_postings": (int, lambda v: v > 0, "must be a positive integer"),
    "cluster_ratio": (float, lambda v: 0 < v < 1, "must be in (0, 1)"),
    "approximate_threshold": (int, lambda v: v >= 0, "must be a non-negative integer"),
    "quantization_ceiling_ingest": (float, lambda v: v > 0, "must be a positive float number"),
    "quantization_ceiling_search": (float, lambda v: v > 0, "must be a positive float number"),
}
_JAVA = {float: "java.lang.Float", int: "java.lang.Integer"}


class SparseVectorMappingError(ConfigError):
    """A ``sparse_vector`` mapping the plugin refuses (``mapper_parsing_exception``)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Failed to parse mapping [_doc]: {message}", MAPPER_PARSING)


def has_sparse_vector(raw: bytes) -> bool:
    """Cheap test on a request body before parsing it."""
    return b"sparse_vector" in raw


def to_node_body(body: JSONObject) -> JSONObject:
    """An index body the node takes (a copy): ``sparse_vector`` fields as marked
    ``rank_features``, their methods and ``index.sparse`` in ``_meta.neuralpipe``."""
    out = copy.deepcopy(body)
    mappings = out.get("mappings")
    methods: JSONObject = {}
    if isinstance(mappings, dict):
        for path, field in _fields(mappings.get("properties")):
            if field.get("type") == SPARSE_VECTOR:
                methods[path] = _check_method(path, field)
                field.clear()
                field.update(_node_field(methods[path]))
    sparse = _pop_setting(out.get("settings"))
    if methods or sparse is not None:
        mappings = out.setdefault("mappings", {})
        ours = mappings.setdefault("_meta", {}).setdefault("neuralpipe", {})
        if methods:
            ours[META_KEY] = methods
        if sparse is not None:
            ours[SETTING] = sparse
    return out


def restore_mapping(mappings: JSONObject) -> JSONObject:
    """``mappings`` as the plugin's node shows them (in place; also returned)."""
    meta = mappings.get("_meta")
    ours = meta.get("neuralpipe") if isinstance(meta, dict) else None
    methods = ours.get(META_KEY) if isinstance(ours, dict) else None
    if not isinstance(methods, dict) or not isinstance(ours, dict) or not isinstance(meta, dict):
        return mappings
    for path, field in _fields(mappings.get("properties")):
        if (field.get("meta") or {}).get(META_TYPE) == SPARSE_VECTOR and path in methods:
            field.clear()
            field.update({"type": SPARSE_VECTOR, "method": methods[path]})
    ours.pop(META_KEY, None)
    ours.pop(SETTING, None)
    if not ours:
        meta.pop("neuralpipe")
    if not meta:
        mappings.pop("_meta")
    return mappings


def _fields(properties: Any, prefix: str = "") -> Iterator[tuple[str, JSONObject]]:
    if not isinstance(properties, dict):
        return
    for name, field in properties.items():
        if not isinstance(field, dict):
            continue
        path = f"{prefix}{name}"
        yield path, field
        yield from _fields(field.get("properties"), f"{path}.")


def _check_method(path: str, field: JSONObject) -> JSONObject:
    method = field.get("method")
    if method is None:
        raise SparseVectorMappingError(f"[{SPARSE_VECTOR}] requires [method] parameter")
    if not isinstance(method, dict):
        raise SparseVectorMappingError(
            'Unable to parse mapping into SparseMethodContext. Object not of type "Map"'
        )
    unknown = [k for k in field if k not in ("type", "method")]
    if unknown:
        raise SparseVectorMappingError(
            f"unknown parameter [{unknown[0]}] on mapper [{path}] of type [{SPARSE_VECTOR}]"
        )
    for key in method:
        if key not in ("name", "parameters"):
            raise SparseVectorMappingError(f"Invalid parameter: {key}")
    name = method.get("name")
    if not name:
        raise SparseVectorMappingError("name needs to be set")
    if name != "seismic":
        raise SparseVectorMappingError(f"[method.name]: {name} is not supported")
    params = method.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise SparseVectorMappingError("Unable to parse parameters for main method component")
    errors = _parameter_errors(params or {})
    if errors:
        numbered = "".join(f"{i}: {m};" for i, m in enumerate(errors, 1))
        raise SparseVectorMappingError(f"Validation Failed: {numbered}")
    return {"name": name, "parameters": params}


def _parameter_errors(params: JSONObject) -> list[str]:
    errors: list[str] = []
    for key, (kind, ok, words) in _RULES.items():
        if key in params:
            try:
                if not ok(kind(str(params[key]))):
                    errors.append(f"Parameter [{key}] {words}")
            except ValueError:
                errors.append(f"Parameter [{key}] must be of {_JAVA[kind]} type")
    errors += [f"Unknown parameter '{k}' found" for k in params if k not in _RULES]
    return errors


def _node_field(method: JSONObject) -> JSONObject:
    meta = {META_TYPE: SPARSE_VECTOR}
    threshold = (method.get("parameters") or {}).get("approximate_threshold")
    if threshold is not None:
        meta[META_THRESHOLD] = str(int(str(threshold)))
    return {"type": "rank_features", "meta": meta}


def _pop_setting(settings: Any) -> Any:
    """Remove ``index.sparse`` (any form) from ``settings``; its value, or ``None``."""
    if not isinstance(settings, dict):
        return None
    found = None
    for key in (SETTING, "sparse"):
        if key in settings:
            found = settings.pop(key)
    index = settings.get("index")
    if isinstance(index, dict) and "sparse" in index:
        found = index.pop("sparse")
    return found
