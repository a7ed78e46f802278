"""Options of the ``rerank`` response processor (reference §8.1), with the plugin's messages.

Versions: the 2.19 keys, plus ``by_field.previous_score_field`` (3.8). Unknown keys inside
``ml_opensearch`` / ``by_field`` are errors here (the plugin ignores them, so a typo would pass
silently); a ``context`` next to ``by_field`` is accepted and ignored.

Example:
    >>> body = {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": ["t"]}}
    >>> RerankConfig.from_body(body).document_fields
    ('t',)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from processors.compat.options import missing, wrong_type
from processors.errors import InvalidProcessorConfigError
from processors.registry import Kind, register_processor

__all__ = ["RerankConfig"]

JSONObject = dict[str, Any]
TYPES = ("ml_opensearch", "by_field")
MAX_DOCUMENT_FIELDS = 50  # plugins.neural_search.reranker_max_document_fields default
GENERIC_KEYS = ("tag", "description", "ignore_failure")
NO_TYPE = "No rerank type found. Possible rerank types are: [ml_opensearch, by_field]"
TOO_MANY_FIELDS = (
    f"document_fields must not contain more than {MAX_DOCUMENT_FIELDS} fields. "
    "Configure by setting plugins.neural_search.reranker_max_document_fields"
)
_BY_FIELD_KEYS = ("target_field", "remove_target_field", "keep_previous_score",
                  "previous_score_field")  # fmt: skip
MULTIPLE_TYPES = "Multiple rerank types found: [{types}]. Only one is permitted."
UNKNOWN_KEYS = (
    "processor [rerank] doesn't support one or more provided configuration parameters [{keys}]"
)
UNKNOWN_OPTION = "unknown key [{key}] in [{kind}], expected one of {allowed}"


@dataclass(frozen=True)
class RerankConfig:
    """Options of one ``rerank`` processor.

    Example:
        >>> body = {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": ["t"]}}
        >>> RerankConfig.from_body(body).document_fields
        ('t',)
    """

    type: str
    model_id: str | None = None
    document_fields: tuple[str, ...] = ()
    target_field: str | None = None
    remove_target_field: bool = False
    keep_previous_score: bool = False
    previous_score_field: str = "previous_score"
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False
    type_name: ClassVar[str] = "rerank"

    @classmethod
    def from_body(cls, body: JSONObject) -> RerankConfig:
        """Parse the processor body with the plugin's messages (first problem wins, as there)."""
        types = [t for t in TYPES if t in body]
        if not types:
            _fail("", NO_TYPE)
        if len(types) > 1:
            _fail(types[1], MULTIPLE_TYPES.format(types=", ".join(types)))
        kind = types[0]
        unknown = [k for k in body if k not in (*TYPES, "context", *GENERIC_KEYS)]
        if unknown:
            _fail(unknown[0], UNKNOWN_KEYS.format(keys=", ".join(unknown)))
        generic = _generic(body)
        options = _map(body, kind, required=True)
        if kind == "ml_opensearch":
            fields = _document_fields(body)
            _only(options, ("model_id",), kind)
            return cls(kind, _string(options, "model_id", required=True), fields, **generic)
        _only(options, _BY_FIELD_KEYS, kind)
        return cls(
            kind,
            target_field=_string(options, "target_field", required=True),
            remove_target_field=_bool(options, "remove_target_field"),
            keep_previous_score=_bool(options, "keep_previous_score"),
            previous_score_field=_string(options, "previous_score_field") or "previous_score",
            **generic,
        )


def _fail(path: str, message: str) -> NoReturn:
    raise InvalidProcessorConfigError(f"[rerank] {message}", [(path, message)])


def _map(body: JSONObject, key: str, *, required: bool = False) -> JSONObject:
    value = body.get(key)
    if value is None and required:
        _fail(key, missing(key))
    if value is not None and not isinstance(value, dict):
        _fail(key, wrong_type(key, "map", value))
    return value or {}


def _string(body: JSONObject, key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and required:
        _fail(key, missing(key))
    if value is not None and not isinstance(value, str):
        _fail(key, wrong_type(key, "string", value))
    return value


def _bool(body: JSONObject, key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        _fail(key, wrong_type(key, "boolean", value))
    return bool(value)


def _only(options: JSONObject, allowed: tuple[str, ...], kind: str) -> None:
    """Stricter than the plugin, which ignores unknown keys here (typos would pass silently)."""
    for key in options:
        if key not in allowed:
            message = UNKNOWN_OPTION.format(key=key, kind=kind, allowed=list(allowed))
            _fail(f"{kind}.{key}", message)


def _generic(body: JSONObject) -> JSONObject:
    return {"tag": _string(body, "tag"), "description": _string(body, "description"),
            "ignore_failure": _bool(body, "ignore_failure")}  # fmt: skip


def _document_fields(body: JSONObject) -> tuple[str, ...]:
    context = _map(body, "context", required=True)
    for key in context:
        if key != "document_fields":
            _fail(f"context.{key}", f"unrecognized context field: {key}")
    fields = context.get("document_fields")
    if not isinstance(fields, list) or any(not isinstance(f, str) for f in fields):
        _fail("context.document_fields", "document_fields must be a list of field names")
    if not fields:
        _fail("context.document_fields", "document_fields must be nonempty")
    if len(fields) > MAX_DOCUMENT_FIELDS:
        _fail("context.document_fields", TOO_MANY_FIELDS)
    return tuple(fields)


register_processor(Kind.SEARCH_RESPONSE, "rerank", parse=RerankConfig.from_body)
