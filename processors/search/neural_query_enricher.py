"""``neural_query_enricher`` search request processor: default model ids (reference §6).

Every ``neural`` and ``neural_sparse`` clause of the request's ``query`` whose ``model_id`` is
absent gets ``neural_field_default_id[<field as written>]``, else ``default_model_id``; with
neither, the request fails with the plugin's message. Clauses with a model id are left alone.
A ``neural_sparse`` clause using ``analyzer`` gets the default too, and then fails with the
plugin's "Cannot use both" error, as the real processor makes it fail.

Example:
    >>> cfg = NeuralQueryEnricherConfig.from_body({"default_model_id": "m"})
    >>> cfg.model_for("any_field")
    'm'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from processors.compat import options
from processors.errors import InvalidProcessorConfigError, InvalidQueryError
from processors.registry import Kind, register_processor

JSONObject = dict[str, Any]
TYPE = "neural_query_enricher"
FIELDS = "neural_field_default_id"
NO_MODEL = (
    "model id must be provided in neural query or a default model id must be set in search "
    "request processor"
)


class _HasModel(Protocol):
    @property
    def field(self) -> str: ...

    @property
    def model_id(self) -> str | None: ...


Q = TypeVar("Q", bound=_HasModel)


@dataclass(frozen=True)
class NeuralQueryEnricherConfig:
    """Options of ``neural_query_enricher`` (at least one of the two ids is required).

    Example:
        >>> NeuralQueryEnricherConfig.from_body({"neural_field_default_id": {"v": "m1"}})
        NeuralQueryEnricherConfig(default_model_id=None, neural_field_default_id={'v': 'm1'}, tag=None, description=None, ignore_failure=False)
    """  # noqa: E501

    default_model_id: str | None = None
    neural_field_default_id: Mapping[str, Any] | None = None
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False
    keys: ClassVar[tuple[str, ...]] = (
        "default_model_id",
        "neural_field_default_id",
        "tag",
        "description",
        "ignore_failure",
    )

    @classmethod
    def from_body(cls, body: Any) -> NeuralQueryEnricherConfig:
        """Validate the processor body; one error listing every problem."""
        if not isinstance(body, dict):
            raise InvalidProcessorConfigError(f"[{TYPE}] options must be an object")
        problems = _problems(body, [k for k in body if k not in cls.keys])
        if problems:
            raise InvalidProcessorConfigError("; ".join(m for _, m in problems), problems)
        return cls(
            body.get("default_model_id"),
            body.get(FIELDS),
            body.get("tag"),
            body.get("description"),
            bool(body.get("ignore_failure", False)),
        )

    def model_for(self, field: str) -> str:
        """The default model id for a clause on ``field``, or the plugin's error."""
        per_field = self.neural_field_default_id or {}
        if per_field.get(field) is not None:
            return str(per_field[field])
        if self.default_model_id is not None:
            return self.default_model_id
        raise InvalidQueryError(NO_MODEL)


def enrich(queries: Sequence[Q], config: NeuralQueryEnricherConfig) -> list[Q]:
    """``queries`` with missing model ids filled in (same order; others unchanged)."""
    return [
        q if q.model_id is not None else dataclasses.replace(q, model_id=config.model_for(q.field))  # type: ignore[type-var]
        for q in queries
    ]


def _problems(body: JSONObject, unknown: list[str]) -> list[tuple[str, str]]:
    problems = [(unknown[0], _unsupported(unknown))] if unknown else []
    for key in ("default_model_id", "tag", "description"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.append((key, options.wrong_type(key, "string", body[key])))
    fields = body.get(FIELDS)
    if fields is not None and not isinstance(fields, dict):
        problems.append((FIELDS, options.wrong_type(FIELDS, "map", fields)))
    elif fields and any(not isinstance(v, str) for v in fields.values()):
        problems.append((FIELDS, f"[{FIELDS}] model ids must be strings"))
    if body.get("default_model_id") is None and fields is None:
        problems.append(("", "model Id or neural info map either of them should be provided"))
    flag = body.get("ignore_failure", False)
    if not isinstance(flag, bool):
        problems.append(("ignore_failure", options.wrong_type("ignore_failure", "boolean", flag)))
    return problems


def _unsupported(keys: list[str]) -> str:
    return (
        f"processor [{TYPE}] doesn't support one or more provided configuration parameters: "
        f"[{', '.join(keys)}]"
    )


register_processor(
    Kind.SEARCH_REQUEST, "neural_query_enricher", parse=NeuralQueryEnricherConfig.from_body
)
