"""``neural`` query -> k-NN ``knn`` query with a locally computed vector (reference §5).

Parsing reproduces ``NeuralQueryBuilder.fromXContent`` (``parsing_exception`` messages);
validation reports every problem as neural-search 3.x does for a ``knn_vector`` target
(``Invalid neural query: <problem>; <problem>`` in its order: query text, then ``k`` /
``min_score`` / ``max_distance``, ``model_id``, then the sparse-only parameters). The
rewritten clause carries ``k`` (10 when none of
``k`` / ``min_score`` / ``max_distance`` is given), ``filter``, ``method_parameters``,
``rescore``, ``expand_nested_docs``, ``boost`` and ``_name`` over unchanged, so scoring is
exactly the k-NN plugin's.

Example:
    >>> q = NeuralQuery.parse({"v": {"query_text": "hi", "model_id": "m", "k": 3}})
    >>> q.check()
    >>> q.to_knn([0.5, 0.5])
    {'knn': {'v': {'vector': [0.5, 0.5], 'k': 3}}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from processors.compat.java_text import java_is_blank
from processors.errors import InvalidQueryError, UnsupportedFeatureError
from processors.search.dsl_values import (
    PARSING,
    is_value,
    single_field,
    to_bool,
    to_float,
    to_int,
    to_text,
    token_name,
)

JSONObject = dict[str, Any]
NAME = "neural"
DEFAULT_K = 10

_TEXT_KEYS = ("query_text", "query_image", "model_id", "_name", "semantic_field_search_analyzer")
_VALUE_KEYS = (*_TEXT_KEYS, "k", "boost", "max_distance", "min_score", "expand_nested_docs")
_OBJECT_KEYS = ("filter", "method_parameters", "rescore", "query_tokens")
"""``query_tokens`` and ``semantic_field_search_analyzer`` (3.1) are parsed; on a
``knn_vector`` target they are refused as the plugin refuses them (sparse-only)."""
INVALID = "Invalid neural query: "
NO_TEXT = "Either query_text or query_image must be provided."
ONE_OF = "Only one of k, max_distance, or min_score can be provided"
NO_MODEL = "model_id must be provided."
EMPTY_MODEL = "model_id field can not be empty"
SPARSE_ONLY = (
    "Target field is a KNN field using a dense model. {} is not supported since it is for the "
    "sparse model."
)
PASSED_THROUGH = ("filter", "method_parameters", "rescore", "expand_nested_docs", "boost", "_name")
"""Carried into the ``knn`` clause as given (after the ``k`` / radial parameter)."""


@dataclass(frozen=True)
class NeuralQuery:
    """A parsed ``neural`` clause; ``raw`` is the clause's own parameter object.

    Example:
        >>> NeuralQuery.parse({"v": {"query_text": "x"}}).model_id is None
        True
    """

    field: str
    raw: JSONObject = dc_field(repr=False, compare=False)
    query_text: str | None = None
    query_image: str | None = None
    model_id: str | None = None
    k: int | None = None
    min_score: float | None = None
    max_distance: float | None = None

    @classmethod
    def parse(cls, body: Any) -> NeuralQuery:
        """``{field: {params}}`` -> a query, or the plugin's ``parsing_exception``."""
        name, params = single_field(NAME, body)
        values: dict[str, Any] = {}
        for key, value in params.items():
            if is_value(value):
                if key not in _VALUE_KEYS:
                    raise InvalidQueryError(f"[{NAME}] query does not support [{key}]", PARSING)
                values[key] = _read_value(key, value)
            elif isinstance(value, dict):
                if key not in _OBJECT_KEYS:
                    raise InvalidQueryError(f"[{NAME}] query does not support [{key}]", PARSING)
            else:
                raise InvalidQueryError(
                    f"[{NAME}] unknown token [{token_name(value)}] after [{key}]", PARSING
                )
        return cls(
            field=name,
            raw=params,
            query_text=values.get("query_text"),
            query_image=values.get("query_image"),
            model_id=values.get("model_id"),
            k=values.get("k"),
            min_score=values.get("min_score"),
            max_distance=values.get("max_distance"),
        )

    def errors(self) -> list[str]:
        """The plugin's checks for a ``knn_vector`` target, in its order (3.x wording).

        ``model_id`` is required once ``neural_query_enricher`` had its chance to set it.
        """
        found: list[str] = []
        if java_is_blank(self.query_text or "") and java_is_blank(self.query_image or ""):
            found.append(NO_TEXT)
        given = [p for p in (self.k, self.max_distance, self.min_score) if p is not None]
        if len(given) > 1:
            found.append(ONE_OF)
        if self.model_id == "":
            found.append(EMPTY_MODEL)
        if self.model_id is None:
            found.append(NO_MODEL)
        for sparse_only in ("semantic_field_search_analyzer", "query_tokens"):
            if self.raw.get(sparse_only) is not None:
                found.append(SPARSE_ONLY.format(sparse_only))
        return found

    def check(self) -> None:
        """Raise the problems (as the plugin throws them) or refuse what is not emulated."""
        problems = self.errors()
        if problems:
            raise InvalidQueryError(INVALID + "; ".join(problems))
        if not java_is_blank(self.query_image or ""):
            raise UnsupportedFeatureError(
                "neural query_image needs a multimodal model, which neuralpipe does not emulate"
            )

    @property
    def text(self) -> str:
        """The text to embed (after :meth:`check`)."""
        return self.query_text or ""

    def to_knn(self, vector: Sequence[float]) -> JSONObject:
        """The equivalent ``knn`` clause: only one of ``k`` / ``min_score`` / ``max_distance``."""
        params: JSONObject = {"vector": list(vector)}
        radial = [key for key in ("min_score", "max_distance") if key in self.raw]
        if "k" in self.raw:
            params["k"] = self.k
        elif radial:
            params[radial[0]] = self.raw[radial[0]]
        else:
            params["k"] = DEFAULT_K
        params.update((key, self.raw[key]) for key in PASSED_THROUGH if key in self.raw)
        return {"knn": {self.field: params}}


def _read_value(key: str, value: Any) -> Any:
    if key in _TEXT_KEYS:
        return to_text(value)
    if key == "k":
        return to_int(value)
    if key == "expand_nested_docs":
        return to_bool(value)
    return float(to_float(value))
