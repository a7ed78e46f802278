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

from processors.compat.options import Problems, read
from processors.errors import InvalidProcessorConfigError

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
        """Parse the processor body with the plugin's messages.

        Every problem is collected (the one policy of :mod:`processors.compat.options`), in the
        order the plugin checks them, so the first is the plugin's own answer.
        """
        problems: Problems = []
        types = [t for t in TYPES if t in body]
        if not types:
            problems.append(("", NO_TYPE))
        elif len(types) > 1:
            problems.append((types[1], MULTIPLE_TYPES.format(types=", ".join(types))))
        unknown = [k for k in body if k not in (*TYPES, "context", *GENERIC_KEYS)]
        if unknown:
            problems.append((unknown[0], UNKNOWN_KEYS.format(keys=", ".join(unknown))))
        tag = _string(body, "tag", problems)
        description = _string(body, "description", problems)
        ignore_failure = _bool(body, "ignore_failure", problems)
        options = (
            read(body, types[0], dict, "map", problems, required=True) if len(types) == 1 else None
        )
        if options is None:  # no type, several, or not a map: nothing under it to check
            _stop(problems)
        kind = types[0]
        if kind == "ml_opensearch":
            fields = _document_fields(body, problems)
            _only(options, ("model_id",), kind, problems)
            model_id = _string(options, "model_id", problems, required=True)
            _raise(problems)
            return cls(kind, model_id, fields, tag=tag, description=description,
                       ignore_failure=ignore_failure)  # fmt: skip
        _only(options, _BY_FIELD_KEYS, kind, problems)
        config = cls(
            kind,
            target_field=_string(options, "target_field", problems, required=True),
            remove_target_field=_bool(options, "remove_target_field", problems),
            keep_previous_score=_bool(options, "keep_previous_score", problems),
            previous_score_field=_string(options, "previous_score_field", problems)
            or "previous_score",
            tag=tag,
            description=description,
            ignore_failure=ignore_failure,
        )
        _raise(problems)
        return config


def _stop(problems: Problems) -> NoReturn:
    _raise(problems)
    raise AssertionError("a problem was collected")  # pragma: no cover


def _raise(problems: Problems) -> None:
    """Every problem at once, the message prefixed with the processor (as before)."""
    if problems:
        message = "; ".join(m for _, m in problems)
        raise InvalidProcessorConfigError(f"[rerank] {message}", problems)


def _string(
    body: JSONObject, key: str, problems: Problems, *, required: bool = False
) -> str | None:
    value: str | None = read(body, key, str, "string", problems, required=required)
    return value


def _bool(body: JSONObject, key: str, problems: Problems) -> bool:
    return read(body, key, bool, "boolean", problems) is True


def _only(options: JSONObject, allowed: tuple[str, ...], kind: str, problems: Problems) -> None:
    """Stricter than the plugin, which ignores unknown keys here (typos would pass silently)."""
    for key in options:
        if key not in allowed:
            message = UNKNOWN_OPTION.format(key=key, kind=kind, allowed=list(allowed))
            problems.append((f"{kind}.{key}", message))


def _document_fields(body: JSONObject, problems: Problems) -> tuple[str, ...]:
    context = read(body, "context", dict, "map", problems, required=True)
    if context is None:
        return ()
    for key in context:
        if key != "document_fields":
            problems.append((f"context.{key}", f"unrecognized context field: {key}"))
    fields = context.get("document_fields")
    where = "context.document_fields"
    if not isinstance(fields, list) or any(not isinstance(f, str) for f in fields):
        problems.append((where, "document_fields must be a list of field names"))
        return ()
    if not fields:
        problems.append((where, "document_fields must be nonempty"))
    elif len(fields) > MAX_DOCUMENT_FIELDS:
        problems.append((where, TOO_MANY_FIELDS))
    return tuple(fields)
