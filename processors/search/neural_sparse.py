"""``neural_sparse`` query -> core ``rank_feature`` clauses with the plugin's exact score (§7).

The plugin's query is a boolean of SHOULD clauses ``FeatureField.newLinearQuery(field, token,
weight)``; the same Lucene query comes out of a ``bool.should`` of ``rank_feature`` clauses on
``<field>.<token>`` with ``linear`` and ``boost`` = weight, so scores are identical. Where core
``rank_feature`` differs, the rewrite differs:

* no tokens: ``match_none`` (an empty ``bool`` would match every document);
* a token with a dot (``"3.14"``, ``"."``): ``rank_feature`` splits the field name at the last
  dot and silently matches nothing. A clause bound to its index (:meth:`NeuralSparseQuery.bind`,
  done by the search pipeline) first asks the index which dotted tokens some document has
  (:mod:`processors.search.sparse_dotted`): the others score and match nothing in the plugin
  either and are dropped. A present one whose escaped name the field's dotted-feature mirror
  holds for exactly the same documents (:mod:`processors.ingest.sparse_mirror`) becomes a
  ``rank_feature`` clause on the mirror (same stored value, same score). Only when a present
  dotted token is not mirrored exactly (or the answer is unknown) does
  the whole clause become a ``script_score`` over all documents that recomputes
  ``Σ float(w_q · dec(w_d))`` from ``_source`` (exact, but a full scan; it needs the field in
  ``_source`` and drops weight-0 dotted matches);
* a negative weight: refused with Lucene's message, as the plugin fails.

Example:
    >>> q = NeuralSparseQuery.parse({"f": {"query_tokens": {"hi": 2}}})
    >>> q.to_query(q.tokens())
    {'bool': {'should': [{'rank_feature': {'field': 'f.hi', 'linear': {}, 'boost': 2.0}}]}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from typing import Any, Literal

from processors.compat.floats import f32, java_float_str, json_score
from processors.compat.java_text import java_is_blank
from processors.errors import InvalidQueryError
from processors.ingest.sparse_mirror import escape, mirror_path
from processors.search.dsl_values import PARSING, is_value, single_field, to_float, to_text
from processors.search.dsl_values import token_name as _token
from processors.search.sparse_ann import (
    METHOD_PARAMETERS,
    SparseAnnParams,
    SparseVectorField,
    TopIds,
    check_token_ids,
    restricted_to,
    with_filter,
)
from processors.search.sparse_dotted import DottedAnswer

log = logging.getLogger(__name__)
JSONObject = dict[str, Any]
NAME = "neural_sparse"
DEFAULT_ANALYZER = "bert-uncased"
SMALLEST_SCORE = json_score(f32(1.4e-45))
_VALUE_KEYS = ("_name", "boost", "query_text", "model_id", "analyzer", "max_token_score")
Source = tuple[Literal["tokens", "model", "analyzer"], str]
DottedCheck = Callable[[str, Collection[str]], DottedAnswer | None]
"""``(field, dotted tokens) -> those some document has, and those its mirror holds exactly``
(``None``: unknown, keep them all and score by script)."""

DOTTED_TOKEN_SCRIPT = (
    "def m = params._source.get(params.field);"
    " if (m == null) { m = params._source;"
    " for (p in params.path) { m = m instanceof Map ? m.get(p) : null; } }"
    " if (!(m instanceof Map)) { return 0; }"
    " double total = 0;"
    " for (e in params.tokens.entrySet()) { def v = m.get(e.getKey());"
    " if (v == null) { continue; }"
    " float f = v instanceof String ? Float.parseFloat(v) : ((Number) v).floatValue();"
    " float d = Float.intBitsToFloat((Float.floatToIntBits(f) >> 15) << 15);"
    " float w = (float) e.getValue(); total += (float) (w * d); }"
    " return total;"
)
"""Painless: the plugin's score from ``_source`` (9-bit stored weights, float products)."""


@dataclass(frozen=True)
class NeuralSparseQuery:
    """A parsed ``neural_sparse`` clause.

    Example:
        >>> NeuralSparseQuery.parse({"f": {"query_text": "hi"}}).source()
        ('analyzer', 'bert-uncased')
    """

    field: str
    raw: JSONObject = dc_field(repr=False, compare=False)
    query_text: str | None = None
    model_id: str | None = None
    analyzer: str | None = None
    query_tokens: Mapping[str, float] | None = None
    boost: float | None = None
    name: str | None = None
    dotted_check: DottedCheck | None = dc_field(default=None, repr=False, compare=False)
    method_parameters: SparseAnnParams | None = None
    sparse_vector: SparseVectorField | None = None
    """Set when the field is a ``sparse_vector`` (:mod:`processors.search.sparse_ann`)."""
    top_ids: TopIds | None = dc_field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, body: Any) -> NeuralSparseQuery:
        """``{field: {params}}`` -> a query, or the plugin's parse-time error."""
        name, params = single_field(NAME, body)
        values: dict[str, Any] = {}
        tokens: dict[str, float] | None = None
        ann: SparseAnnParams | None = None
        for key, value in params.items():
            if is_value(value):
                if key not in _VALUE_KEYS:
                    raise InvalidQueryError(
                        f"[{NAME}] query does not support [{key}] field", PARSING
                    )
                values[key] = (
                    to_text(value)
                    if key not in ("boost", "max_token_score")
                    else float(to_float(value))
                )
            elif key == "query_tokens" and isinstance(value, dict):
                tokens = {str(t): _weight(w) for t, w in value.items()}
            elif key == METHOD_PARAMETERS:
                ann = SparseAnnParams.parse(value)
            else:
                raise InvalidQueryError(
                    f"[{NAME}] unknown token [{_token(value)}] after [{key}]", PARSING
                )
        if "max_token_score" in values:
            log.info("[neural_sparse] max_token_score is deprecated since 2.12 and is ignored")
        query = cls(
            name,
            params,
            values.get("query_text"),
            values.get("model_id"),
            values.get("analyzer"),
            tokens,
            values.get("boost"),
            values.get("_name"),
            method_parameters=ann,
        )
        query._check_parsed()
        return query

    def _check_parsed(self) -> None:
        if self.query_tokens is None and self.query_text is None:
            raise InvalidQueryError(
                f"either query_text field or query_tokens field must be provided for [{NAME}] query"
            )
        for key in ("query_text", "model_id", "analyzer"):
            if getattr(self, key) == "":
                raise InvalidQueryError(f"{key} field can not be empty")

    def source(self) -> Source:
        """Where the tokens come from: given, a model (by id) or an analyzer (by name)."""
        if self.query_tokens is not None:
            return ("tokens", "")
        if self.model_id is not None and self.analyzer is not None:
            raise InvalidQueryError(
                f"Cannot use both [model_id: {self.model_id}] and [analyzer: {self.analyzer}] "
                "for neural sparse query tokenization. Specify only one tokenization method. "
                "These parameters can be set either in the query or through the "
                "neural_query_enricher search processor."
            )
        if self.analyzer is not None:
            return ("analyzer", self.analyzer)
        if self.model_id is None:
            return ("analyzer", DEFAULT_ANALYZER)
        if java_is_blank(self.query_text or "") or java_is_blank(self.model_id):
            raise InvalidQueryError("query_text and model_id cannot be null")
        return ("model", self.model_id)

    def tokens(self) -> Mapping[str, float]:
        """The ``query_tokens`` given in the query (empty when there are none)."""
        return self.query_tokens or {}

    def bind(self, check: DottedCheck) -> NeuralSparseQuery:
        """This clause, asking ``check`` which dotted tokens the searched index has."""
        return replace(self, dotted_check=check)

    def on_sparse_vector(
        self, field: SparseVectorField, top_ids: TopIds | None
    ) -> NeuralSparseQuery:
        """This clause on a ``sparse_vector`` field (token ids; ``top_ids`` finds the exact
        top ``k`` where the plugin would run its approximate search)."""
        return replace(self, sparse_vector=field, top_ids=top_ids)

    def to_query(self, tokens: Mapping[str, float]) -> JSONObject:
        """The core query scoring exactly as the plugin's query with these token weights."""
        if self.sparse_vector is not None:
            return self._sparse_vector_query(tokens)
        return self._feature_query(tokens)

    def _sparse_vector_query(self, tokens: Mapping[str, float]) -> JSONObject:
        check_token_ids(tokens)
        named = {"_name": self.name} if self.name is not None else {}
        plain = replace(self, sparse_vector=None, name=None)._feature_query(tokens)
        query = with_filter(plain, self.method_parameters)
        params = self.method_parameters or SparseAnnParams()
        if self.top_ids is not None and self.sparse_vector is not None:
            ids = self.top_ids(query, params.top_k, self.sparse_vector.approximate_threshold)
            if ids is not None:
                query = restricted_to(query, ids)
        if named:
            key = next(iter(query))
            query = {key: {**query[key], **named}}
        return query

    def _feature_query(self, tokens: Mapping[str, float]) -> JSONObject:
        for weight in tokens.values():
            if weight < 0:
                raise InvalidQueryError(
                    f"boost must be a positive float, got {java_float_str(weight)}"
                )
        named = {"_name": self.name} if self.name is not None else {}
        answer = self._dotted_answer(tokens)
        if answer is not None:
            tokens = {t: w for t, w in tokens.items() if "." not in t or t in answer.present}
            if any(t not in answer.present for t in tokens if "." in t):
                log.debug("neural_sparse on %s: dropped dotted tokens no document has", self.field)
        if not tokens:
            return {"match_none": named}
        mirrored = answer.mirrored if answer is not None else frozenset()
        if any("." in t and t not in mirrored for t in tokens):
            return self._script_query(tokens, named)
        should = [
            {"rank_feature": {"field": self._feature(t), "linear": {}, "boost": json_score(w)}}
            for t, w in tokens.items()
        ]
        outer = {"boost": json_score(self.boost)} if self.boost not in (None, 1.0) else {}
        return {"bool": {"should": should, **outer, **named}}

    def _dotted_answer(self, tokens: Mapping[str, float]) -> DottedAnswer | None:
        """What the index says of the dotted tokens (None: none, or unknown)."""
        dotted = [t for t in tokens if "." in t]
        if not dotted or self.dotted_check is None:
            return None
        return self.dotted_check(self.field, dotted)

    def _feature(self, token: str) -> str:
        """The ``rank_feature`` field of ``token``: in the mirror when it has a dot."""
        if "." in token:
            return f"{mirror_path(self.field)}.{escape(token)}"
        return f"{self.field}.{token}"

    def _script_query(self, tokens: Mapping[str, float], named: JSONObject) -> JSONObject:
        log.debug(
            "neural_sparse on %s: dotted tokens, scoring by script over all documents", self.field
        )
        boost = f32(1.0 if self.boost is None else self.boost)
        weights = {t: json_score(f32(boost * f32(w))) for t, w in tokens.items() if w > 0}
        script = {
            "source": DOTTED_TOKEN_SCRIPT,
            "params": {"field": self.field, "path": self.field.split("."), "tokens": weights},
        }
        body = {"query": {"match_all": {}}, "script": script, "min_score": SMALLEST_SCORE}
        return {"script_score": {**body, **named}}


def _weight(value: Any) -> float:
    if not is_value(value):
        raise InvalidQueryError(
            f"[{NAME}] unknown token [{_token(value)}] in [query_tokens]", PARSING
        )
    return float(to_float(value))


def analyzer_tokens(weights: Mapping[str, float]) -> dict[str, float]:
    """Analyzer mode keeps only tokens with a weight above 0 (their payload, else 1.0)."""
    return {token: weight for token, weight in weights.items() if weight > 0}
