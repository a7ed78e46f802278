"""``semantic`` fields in a mapping: what the node gets, what ``GET _mapping`` shows.

The plugin's mapping transformer adds, next to each ``{"type": "semantic", "model_id": ...}``
field, a ``<name>_semantic_info`` object (``semantic_info_field_name`` renames it) holding the
embedding -- a ``knn_vector`` for a TEXT_EMBEDDING model (dimension and ``space_type`` from the
model's config, ``method.name`` ``hnsw``, ``dense_embedding_config`` merged in) or
``rank_features`` for a sparse one -- under nested ``chunks`` with their ``text`` when
``chunking`` is on, and the model's ``id``/``name``/``type`` (text, not indexed). The node has
no ``semantic`` mapper, so it gets the raw field (``raw_field_type``, default ``text``, with the
field's other parameters) and the semantic definition is kept in ``_meta.neuralpipe.semantic``
(``{path: definition}``), from which :func:`shown_mapping` puts the field back as the plugin's
node shows it.

Example:
    >>> node, kept = to_node({"properties": {"t": {"type": "semantic", "model_id": "m"}}},
    ...     lambda _: {"algorithm": "SPARSE_ENCODING", "name": "s"})
    >>> node["properties"]["t"], node["properties"]["t_semantic_info"]["properties"]["embedding"]
    ({'type': 'text'}, {'type': 'rank_features'})
    >>> kept
    {'t': {'type': 'semantic', 'model_id': 'm'}}
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

JSONObject = dict[str, Any]
ModelDoc = Callable[[str], JSONObject]
"""``model_id -> ml-commons model document`` (``algorithm``, ``name``, ``model_config``);
raises the registry's not-found error for an unknown id."""

SEMANTIC = "semantic"
PARAMETERS = (
    "model_id",
    "search_model_id",
    "raw_field_type",
    "semantic_info_field_name",
    "chunking",
    "semantic_field_search_analyzer",
    "dense_embedding_config",
    "sparse_encoding_config",
    "skip_existing_embedding",
)
"""The semantic mapper's own parameters, in its order; the rest belongs to the raw field."""
RAW_TYPES = ("text", "keyword", "match_only_text", "wildcard", "token_count", "binary")
SUFFIX = "_semantic_info"
DENSE, SPARSE = "TEXT_EMBEDDING", ("SPARSE_ENCODING", "SPARSE_TOKENIZE")
ALGORITHMS = "TEXT_EMBEDDING,REMOTE,SPARSE_ENCODING,SPARSE_TOKENIZE"
"""``SUPPORTED_MODEL_ALGORITHMS``: a Java ``Set.of``, whose order changes from JVM to JVM."""
_MODEL_INFO = {"type": "text", "index": False}
MODEL_MAPPING = {"properties": {"id": _MODEL_INFO, "name": _MODEL_INFO, "type": _MODEL_INFO}}
META_KEY = "semantic"
"""``_meta.neuralpipe.semantic``: ``{path of the semantic field: its definition}``."""


class SemanticMappingError(ValueError):
    """The plugin's ``illegal_argument_exception`` for a semantic mapping (400)."""


class SemanticParseError(SemanticMappingError):
    """A refusal of the semantic type parser: the node wraps it as ``mapper_parsing_exception``
    (``Failed to parse mapping [_doc]: <message>``)."""


def semantic_fields(properties: JSONObject, prefix: str = "") -> Iterator[tuple[str, JSONObject]]:
    """``(dotted path, definition)`` of every semantic field under ``properties``."""
    for name, field in properties.items():
        if not isinstance(field, dict):
            continue
        path = f"{prefix}{name}"
        if field.get("type") == SEMANTIC:
            yield path, field
        elif isinstance(field.get("properties"), dict):
            yield from semantic_fields(field["properties"], f"{path}.")


def info_name(path: str, definition: JSONObject) -> str:
    """The leaf name of the field's semantic info object."""
    custom = definition.get("semantic_info_field_name")
    return str(custom) if custom is not None else path.split(".")[-1] + SUFFIX


def info_path(path: str, definition: JSONObject) -> str:
    """The full path of the field's semantic info object."""
    parts = path.split(".")
    parts[-1] = info_name(path, definition)
    return ".".join(parts)


def chunking_enabled(definition: JSONObject) -> bool:
    value = definition.get("chunking")
    return isinstance(value, list) or value is True


def embedding_path(path: str, definition: JSONObject) -> str:
    """``<info>.embedding``, or ``<info>.chunks.embedding`` with chunking."""
    base = info_path(path, definition)
    return f"{base}.chunks.embedding" if chunking_enabled(definition) else f"{base}.embedding"


def _check(path: str, definition: JSONObject) -> list[str]:
    errors = []
    model_id = definition.get("model_id")
    if model_id is None:
        errors.append(f"model_id is required for the semantic field at {path}")
    elif not isinstance(model_id, str) or not model_id:
        errors.append(f"model_id should be a non-empty string for the semantic field at {path}")
    if "semantic_info_field_name" in definition:
        name = definition["semantic_info_field_name"]
        if isinstance(name, str) and not name:
            errors.append(
                "semantic_info_field_name cannot be an empty string for the semantic field at "
                + path
            )
        elif isinstance(name, str) and "." in name:
            errors.append(
                f"semantic_info_field_name should not contain '.' for the semantic field at {path}"
            )
    return errors


def _check_parameters(path: str, definition: JSONObject) -> None:
    """The type parser's checks (before the transformer's)."""
    name = path.split(".")[-1]
    raw = definition.get("raw_field_type", "text")
    if raw not in RAW_TYPES:
        raise SemanticParseError(
            f"raw_field_type {raw} is not supported. It should be one of [{', '.join(RAW_TYPES)}]"
        )
    search_model = definition.get("search_model_id")
    analyzer = definition.get("semantic_field_search_analyzer")
    if search_model is not None and analyzer is not None:
        raise SemanticParseError(
            f"search_model_id can not coexist with semantic_field_search_analyzer in semantic "
            f"field {name}"
        )
    if search_model == "":
        raise SemanticParseError(
            f"search_model_id can not be empty string in semantic field {name}"
        )
    if analyzer == "":
        raise SemanticParseError(
            f"semantic_field_search_analyzer can not be empty string in semantic field {name}"
        )
    chunking = definition.get("chunking")
    if chunking is not None and not isinstance(chunking, bool | list):
        raise SemanticParseError("[chunking] must be either a List of Maps or a Boolean")


def _embedding_mapping(model_id: str, doc: JSONObject, definition: JSONObject) -> JSONObject:
    algorithm = str(doc.get("algorithm") or doc.get("function_name") or "")
    if algorithm in SPARSE:
        if definition.get("dense_embedding_config") is not None:
            raise SemanticMappingError(
                "Cannot build the semantic info config because dense_embedding_config is not "
                "supported by the sparse model."
            )
        return {"type": "rank_features"}
    if algorithm != DENSE:
        raise SemanticMappingError(
            f"The algorithm {algorithm} of the model {model_id} is not supported in the semantic "
            f"field. Supported algorithms: [{ALGORITHMS}]."
        )
    config = doc.get("model_config") or {}
    dimension = config.get("embedding_dimension")
    if dimension is None:
        raise SemanticMappingError(
            f"Model {model_id} is a text embedding model, but the embedding dimension is not "
            "defined in the model config."
        )
    space = (config.get("additional_config") or {}).get("space_type")
    if not isinstance(space, str):
        raise SemanticMappingError(
            f"space_type is not defined or not a string in the additional_config of the model "
            f"{model_id}."
        )
    if definition.get("semantic_field_search_analyzer") is not None:
        raise SemanticMappingError(
            "Cannot build the semantic info config because the dense(text embedding) model "
            "cannot support semantic_field_search_analyzer"
        )
    if "sparse_encoding_config" in definition:
        raise SemanticMappingError(
            "Cannot build the semantic info config because the dense(text embedding) model "
            "cannot support sparse_encoding_config."
        )
    extra = definition.get("dense_embedding_config")
    mapping: JSONObject = {"type": "knn_vector", "dimension": dimension}
    method: JSONObject = {}
    if isinstance(extra, dict):
        for key in ("dimension", "data_type", "space_type"):
            if extra.get(key) is not None:
                raise SemanticMappingError(
                    f"Cannot configure {key} in dense_embedding_config in the semantic field."
                )
        given = extra.get("method")
        if given is not None and not isinstance(given, dict):
            raise SemanticMappingError(
                "Cannot build the semantic info config because method must be a Map when provided."
            )
        if isinstance(given, dict) and given.get("space_type") is not None:
            raise SemanticMappingError(
                "Cannot configure space_type in dense_embedding_config in the semantic field."
            )
        mapping.update(copy.deepcopy(extra))
        method.update(copy.deepcopy(given or {}))
    method.setdefault("name", "hnsw")
    method["space_type"] = space
    mapping["method"] = method
    return mapping


def info_mapping(model_id: str, doc: JSONObject, definition: JSONObject) -> JSONObject:
    """The mapping of the semantic info object for one field and its model document."""
    embedding = _embedding_mapping(model_id, doc, definition)
    if chunking_enabled(definition):
        chunks = {
            "type": "nested",
            "properties": {"text": {"type": "text"}, "embedding": embedding},
        }
        return {"properties": {"chunks": chunks, "model": copy.deepcopy(MODEL_MAPPING)}}
    return {"properties": {"embedding": embedding, "model": copy.deepcopy(MODEL_MAPPING)}}


def _holder(properties: JSONObject, path: str) -> JSONObject:
    """The ``properties`` object holding the field at ``path``."""
    current = properties
    for part in path.split(".")[:-1]:
        current = current[part]["properties"]
    return current


def to_node(mappings: JSONObject, model_doc: ModelDoc) -> tuple[JSONObject, JSONObject]:
    """``(mappings for the node, {path: semantic definition})``; nothing to do: unchanged.

    Raises:
        SemanticMappingError: the plugin's refusal, in its words.
        MLNotFoundError: (from ``model_doc``) a model that does not exist.
    """
    properties = mappings.get("properties")
    if not isinstance(properties, dict):
        return mappings, {}
    found = dict(semantic_fields(properties))
    if not found:
        return mappings, {}
    for path, definition in found.items():
        _check_parameters(path, definition)
    errors = [e for path, definition in found.items() for e in _check(path, definition)]
    if errors:
        raise SemanticMappingError("; ".join(errors))
    node = copy.deepcopy(mappings)
    docs: dict[str, JSONObject] = {}
    for model_id in dict.fromkeys(str(d["model_id"]) for d in found.values()):
        docs[model_id] = model_doc(model_id)
    for path, definition in found.items():
        model_id = str(definition["model_id"])
        try:
            info = info_mapping(model_id, docs[model_id], definition)
        except SemanticMappingError as exc:
            raise SemanticMappingError(
                f"Failed to transform the mapping for the semantic field at {path} due to {exc}"
            ) from exc
        holder = _holder(node["properties"], path)
        leaf = path.split(".")[-1]
        raw = {k: v for k, v in definition.items() if k not in PARAMETERS and k != "type"}
        holder[leaf] = {"type": definition.get("raw_field_type", "text"), **raw}
        holder[info_name(path, definition)] = info
    return node, {path: copy.deepcopy(d) for path, d in found.items()}


def shown_mapping(mappings: JSONObject, kept: JSONObject) -> JSONObject:
    """The node's ``mappings`` as the plugin's node shows them: each semantic field back as
    ``type: semantic`` with its parameters (``raw_field_type`` always). The semantic info is the
    node's own (the engine it resolved: ``lucene`` on neuralpipe's embedded node)."""
    shown = copy.deepcopy(mappings)
    properties = shown.get("properties")
    if not isinstance(properties, dict):
        return shown
    for path, definition in kept.items():
        try:
            holder = _holder(properties, path)
        except (KeyError, TypeError):
            continue
        leaf = path.split(".")[-1]
        raw = dict(holder.get(leaf) or {})
        raw.pop("type", None)
        field: JSONObject = {"type": SEMANTIC}
        for key in PARAMETERS:
            if key == "raw_field_type":
                field[key] = definition.get(key, "text")
            elif definition.get(key) is not None:
                field[key] = definition[key]
        field.update(raw)
        holder[leaf] = field
    return shown


def index_body(body: JSONObject, model_doc: ModelDoc) -> JSONObject:
    """A ``PUT /<index>`` body with its semantic fields made for the node (:func:`to_node`) and
    their definitions in ``mappings._meta.neuralpipe.semantic``; unchanged without any.

    >>> body = {"mappings": {"properties": {"t": {"type": "semantic", "model_id": "m"}}}}
    >>> out = index_body(body, lambda _: {"algorithm": "SPARSE_TOKENIZE", "name": "s"})
    >>> out["mappings"]["_meta"]["neuralpipe"]["semantic"]["t"]["model_id"]
    'm'
    """
    mappings = body.get("mappings")
    if not isinstance(mappings, dict):
        return body
    node, kept = to_node(mappings, model_doc)
    if not kept:
        return body
    meta = node.setdefault("_meta", {}).setdefault("neuralpipe", {})
    meta[META_KEY] = kept
    return {**body, "mappings": node}
