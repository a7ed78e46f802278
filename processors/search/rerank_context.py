"""What a ``rerank`` cross-encoder reads: the query text and each hit's text (reference §8.3).

* Query text: ``ext.rerank.query_context`` of the search request, either ``query_text`` or a
  ``query_text_path`` evaluated (``ObjectPath.eval``: dot-separated, numeric segments index
  lists) against the request *as OpenSearch serializes it*: short forms are expanded, so
  ``{"match": {"text": "x"}}`` reads as ``{"match": {"text": {"query": "x"}}}`` and bool clauses
  are lists. Pass the request as the node sees it: ``neural`` clauses intact, not rewritten.
* Document text (2.19): per ``document_fields`` entry, the first value of ``hit.fields[f]``, else
  ``_source[f]`` for a *top-level* key ``f`` (dot paths into ``_source`` are 3.6+), printed with
  ``String.valueOf`` (``[a, b]`` for lists, ``4.5``, ``true``), else ``""``; concatenated with
  no separator.

Example:
    >>> hit = {"_id": "1", "_source": {"title": "Wing", "tags": ["a", "b"], "n": 3}}
    >>> document_texts([hit], ["title", "tags", "n", "missing"])
    ['Wing[a, b]3']
    >>> ext = {"rerank": {"query_context": {"query_text_path": "query.match.text.query"}}}
    >>> query_text({"query": {"match": {"text": "heat"}}, "ext": ext})
    'heat'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from processors.compat.java_text import java_class, java_str
from processors.errors import InvalidQueryError, ProcessorRuntimeError

log = logging.getLogger(__name__)
JSONObject = dict[str, Any]
MAX_PATH_CHARS = 1000
MAX_PATH_DEPTH = 20  # index.mapping.depth.limit default
NO_EXT = (
    'Cannot invoke "RerankSearchExtBuilder.getParams()" because the search request has no '
    "[ext.rerank] (the plugin fails here with a NullPointerException)"
)
BOTH = 'Cannot specify both "query_text" and "query_text_path"'
NEITHER = 'Must specify either "query_text" or "query_text_path"'
NOT_A_STRING = "query_text_path must point to a string field"
TOO_LONG = f"query_text_path exceeded the maximum path length of {MAX_PATH_CHARS} characters"
TOO_DEEP = f"query_text_path exceeded the maximum path length of {MAX_PATH_DEPTH} nested fields"

_VALUE_KEY = {"match": "query", "match_phrase": "query", "match_phrase_prefix": "query",
              "match_bool_prefix": "query", "term": "value", "prefix": "value",
              "wildcard": "value", "regexp": "value", "fuzzy": "value"}  # fmt: skip
_CLAUSES = {"bool": ("must", "should", "filter", "must_not"), "dis_max": ("queries",),
            "hybrid": ("queries", "filter"), "constant_score": ("filter",),
            "function_score": ("query",), "script_score": ("query",), "nested": ("query",),
            "boosting": ("positive", "negative"), "has_child": ("query",),
            "has_parent": ("query",)}  # fmt: skip
_LIST_CLAUSES = {"bool": ("must", "should", "filter", "must_not")}


def java_split_dots(path: str) -> list[str]:
    """``path.split("\\\\.")``: trailing empty segments dropped, inner ones kept."""
    parts = path.split(".")
    while parts and parts[-1] == "":
        parts.pop()
    return parts if parts else [""] if path == "" else []


def object_path(path: str, value: Any) -> Any:
    """``ObjectPath.eval``: ``None`` where the path leads nowhere.

    Raises:
        ProcessorRuntimeError: a list index out of range (Java's IndexOutOfBoundsException).
    """
    for part in java_split_dots(path) if path else []:
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list):
            try:
                index = int(part)
            except ValueError:
                return None
            if not 0 <= index < len(value):
                raise ProcessorRuntimeError(
                    f"Index {index} out of bounds for length {len(value)}", processor_type="rerank"
                )
            value = value[index]
        else:
            return None
    return value


def serialized_query(query: Any) -> Any:
    """A query as OpenSearch prints it back: value short forms expanded, bool clauses lists."""
    if not isinstance(query, dict) or len(query) != 1:
        return query
    ((kind, body),) = query.items()
    if kind in _VALUE_KEY and isinstance(body, dict):
        body = {
            f: v if isinstance(v, dict) else {_VALUE_KEY[kind]: v}
            for f, v in body.items()
            if f not in ("boost", "_name")
        } | {f: body[f] for f in ("boost", "_name") if f in body}
    elif kind in _CLAUSES and isinstance(body, dict):
        body = dict(body)
        for key in _CLAUSES[kind]:
            if key not in body:
                continue
            inner = body[key]
            if isinstance(inner, list):
                body[key] = [serialized_query(q) for q in inner]
            elif key in _LIST_CLAUSES.get(kind, ()):
                body[key] = [serialized_query(inner)]
            else:
                body[key] = serialized_query(inner)
    return {kind: body}


def query_text(request_body: JSONObject) -> str:
    """The rerank query text from ``ext.rerank.query_context``, with the plugin's errors.

    Raises:
        InvalidQueryError: a missing or invalid ``ext.rerank.query_context``.
    """
    ext = request_body.get("ext")
    params = ext.get("rerank") if isinstance(ext, dict) else None
    if params is None:
        raise InvalidQueryError(NO_EXT)
    if not isinstance(params, dict):
        raise InvalidQueryError("[rerank] ext must be an object", "parsing_exception")
    if "query_context" not in params:
        raise InvalidQueryError("must specify query_context")
    context = params["query_context"]
    if not isinstance(context, dict):
        raise InvalidQueryError("query_context must be a map")
    if "query_text" in context:
        if "query_text_path" in context:
            raise InvalidQueryError(BOTH)
        return _string(context["query_text"], "query_text")
    if "query_text_path" not in context:
        raise InvalidQueryError(NEITHER)
    path = _string(context["query_text_path"], "query_text_path")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidQueryError(TOO_LONG)
    if path and len(java_split_dots(path)) > MAX_PATH_DEPTH:
        raise InvalidQueryError(TOO_DEEP)
    serialized = {**request_body, "query": serialized_query(request_body.get("query"))}
    text = object_path(path, serialized)
    if not isinstance(text, str):
        raise InvalidQueryError(NOT_A_STRING)
    return text


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidQueryError(
            f"class {java_class(value)} cannot be cast to class java.lang.String ([{name}])"
        )
    return value


def _field_text(hit: JSONObject, field: str) -> str:
    fields = hit.get("fields")
    if isinstance(fields, dict) and field in fields:
        values = fields[field]
        return java_str(values[0] if isinstance(values, list) and values else None)
    source = hit.get("_source")
    if isinstance(source, dict) and field in source:
        return java_str(object_path(field, source))
    log.warning(
        "Could not find field %s in document %s for reranking! Using the empty string instead.",
        field,
        hit.get("_id"),
    )
    return ""


def document_texts(hits: Sequence[JSONObject], fields: Sequence[str]) -> list[str]:
    """Each hit's ``document_fields`` texts, concatenated with no separator."""
    return ["".join(_field_text(hit, f) for f in fields) for hit in hits]
