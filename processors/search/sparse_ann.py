"""``neural_sparse`` on ``sparse_vector`` fields (the plugin's SEISMIC sparse ANN, 3.3+), exactly.

The node has no ``sparse_vector`` type: neuralpipe maps such a field as ``rank_features`` keyed
by token id (:mod:`processors.config.sparse_vector_mapping`), marked in the field's ``meta``.
The plugin itself answers a segment with fewer documents than the field's
``approximate_threshold`` (default 1,000,000) with its *fallback*: the plain ``neural_sparse``
query (``FeatureField`` linear clauses) plus the ``method_parameters.filter`` as a filter
clause, every match returned. neuralpipe does exactly that below the threshold. At or above
it the plugin runs SEISMIC, which returns at most ``k`` approximate hits per segment;
neuralpipe instead finds the exact top ``k`` of the index (one extra search) and restricts the
clause to them: exact scores, recall 1 (a superset of what the approximation finds), at most
``k`` matches. ``top_n`` and ``heap_factor`` only tune the approximation and change nothing in
an exact answer; they are validated as the plugin validates them.

Example:
    >>> SparseAnnParams.parse({"k": 5, "top_n": 3}).k
    5
    >>> SparseAnnParams.parse({"k": 0})
    Traceback (most recent call last):
    processors.errors.InvalidQueryError: [neural_sparse] k must be a positive integer
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from processors.errors import InvalidQueryError
from processors.search.dsl_values import PARSING, is_value, to_float
from processors.search.dsl_values import token_name as _token

JSONObject = dict[str, Any]
NAME = "neural_sparse"
METHOD_PARAMETERS = "method_parameters"
DEFAULT_K = 10
DEFAULT_APPROXIMATE_THRESHOLD = 1_000_000
META_TYPE = "neuralpipe_type"
META_THRESHOLD = "ann_threshold"
"""The field meta key (the node allows at most 20 characters)."""
SPARSE_VECTOR = "sparse_vector"
TopIds = Callable[[JSONObject, int, int], list[str] | None]
"""``(query, k, approximate_threshold) -> ids of its exact top k``, or ``None`` where the
plugin would answer exactly too (fewer documents than the threshold)."""


@dataclass(frozen=True)
class SparseAnnParams:
    """``method_parameters`` of a ``neural_sparse`` clause (``k``, ``top_n``, ``heap_factor``,
    ``filter``), validated with the plugin's messages."""

    k: int | None = None
    top_n: int | None = None
    heap_factor: float | None = None
    filter: JSONObject | None = None

    @classmethod
    def parse(cls, value: Any) -> SparseAnnParams:
        """The parsed object, or the plugin's ``parsing_exception``."""
        if not isinstance(value, dict):
            raise InvalidQueryError(f"[{NAME}] {METHOD_PARAMETERS} must be an object", PARSING)
        values: dict[str, Any] = {}
        for key, item in value.items():
            if is_value(item):
                if key in ("k", "top_n"):
                    number = _int(item)
                    if number <= 0:
                        raise InvalidQueryError(
                            f"[{NAME}] {key} must be a positive integer", PARSING
                        )
                    values[key] = number
                elif key == "heap_factor":
                    factor = float(to_float(item))
                    if factor <= 0:
                        raise InvalidQueryError(
                            f"[{NAME}] heap_factor must be a positive float", PARSING
                        )
                    values[key] = factor
                else:
                    raise InvalidQueryError(f"[{NAME}] unknown field [{key}]", PARSING)
            elif key == "filter" and isinstance(item, dict):
                values["filter"] = item
            else:
                raise InvalidQueryError(
                    f"[{NAME}] unknown token [{_token(item)}] after [{key}]", PARSING
                )
        return cls(**values)

    @property
    def top_k(self) -> int:
        """``k``, or the plugin's default of 10."""
        return self.k or DEFAULT_K


@dataclass(frozen=True)
class SparseVectorField:
    """What a search needs to know of a ``sparse_vector`` field (from the node's field meta)."""

    approximate_threshold: int = DEFAULT_APPROXIMATE_THRESHOLD

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> SparseVectorField | None:
        """The field's description, or ``None`` when it is a plain ``rank_features`` field.

        Example:
            >>> SparseVectorField.from_meta({"neuralpipe_type": "sparse_vector"})
            SparseVectorField(approximate_threshold=1000000)
        """
        if not meta or meta.get(META_TYPE) != SPARSE_VECTOR:
            return None
        threshold = meta.get(META_THRESHOLD)
        return cls(int(threshold) if threshold is not None else DEFAULT_APPROXIMATE_THRESHOLD)


def check_token_ids(tokens: Mapping[str, float]) -> None:
    """Query tokens on a ``sparse_vector`` field are decimal, non-negative token ids.

    Example:
        >>> check_token_ids({"hello": 1.0})
        Traceback (most recent call last):
        processors.errors.InvalidQueryError: Query tokens should be valid integer
    """
    for token in tokens:
        try:
            number = _java_int(token)
        except ValueError:
            raise InvalidQueryError("Query tokens should be valid integer") from None
        if number < 0:
            raise InvalidQueryError("Query tokens should be non-negative integer!")


def with_filter(query: JSONObject, params: SparseAnnParams | None) -> JSONObject:
    """The fallback query: ``query`` with ``method_parameters.filter`` as a filter clause."""
    if params is None or params.filter is None:
        return query
    if "bool" in query and "filter" not in query["bool"]:
        return {"bool": {**query["bool"], "filter": [params.filter]}}
    return {"bool": {"must": [query], "filter": [params.filter]}}


def restricted_to(query: JSONObject, ids: list[str]) -> JSONObject:
    """``query`` matching only the documents ``ids`` (the exact top ``k``), scores unchanged."""
    return {"bool": {"must": [query], "filter": [{"ids": {"values": ids}}]}}


def _int(value: Any) -> int:
    number = to_float(value)
    if isinstance(value, bool) or number != int(number):
        raise InvalidQueryError(f"[{NAME}] {METHOD_PARAMETERS} expects an integer", PARSING)
    return int(number)


def _java_int(text: str) -> int:
    """``Integer.parseInt``: optional sign, ASCII digits, 32-bit range."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(text)
    number = int(text)
    if not -(2**31) <= number < 2**31:
        raise ValueError(text)
    return number


class ExactTopK:
    """:data:`TopIds` over one index: its exact top ``k`` when it holds at least
    ``approximate_threshold`` documents (the count is cached for a second), else ``None``."""

    _counts: ClassVar[dict[tuple[int, str], tuple[float, int]]] = {}
    _lock = threading.Lock()

    def __init__(self, client: Any, index: str, *, ttl: float = 1.0) -> None:
        self.client = client
        self.index = index
        self.ttl = ttl

    def __call__(self, query: JSONObject, k: int, threshold: int) -> list[str] | None:
        if threshold > 0 and self._count() < threshold:
            return None
        body = {"query": query, "size": k, "_source": False, "track_total_hits": False}
        answer = self.client.search(index=self.index, body=body)
        return [str(hit["_id"]) for hit in answer["hits"]["hits"]]

    def _count(self) -> int:
        key = (id(self.client), self.index)
        now = time.monotonic()
        with self._lock:
            cached = self._counts.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        count = int(self.client.count(index=self.index)["count"])
        with self._lock:
            self._counts[key] = (now + self.ttl, count)
        return count
