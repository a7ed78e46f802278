"""Find query clauses of given types anywhere in a search request, and replace them in place.

A search body holds queries in many places: ``query``, ``post_filter``, ``rescore``,
aggregations (``filter``, ``filters``, ``adjacency_matrix``, ``background_filter``), highlight
queries, nested-sort filters. Inside a query, compound queries hold more queries (``bool``,
``nested``, ``function_score``, ``dis_max``, ``constant_score``, ``boosting``, ``script_score``,
``has_child``/``has_parent``, ``hybrid``), and ``knn`` / ``neural`` clauses hold a ``filter``.
Leaf queries are not entered, so a field that happens to be called ``neural`` is never taken
for a clause. Clauses come back inner first: replacing them in that order is always safe.

Example:
    >>> body = {"query": {"bool": {"should": [{"neural": {"v": {"query_text": "hi"}}}]}}}
    >>> [ref] = find_clauses(body)
    >>> ref.kind, ref.path
    ('neural', 'query.bool.should[0]')
    >>> ref.replace({"match_none": {}})
    >>> body["query"]["bool"]["should"]
    [{'match_none': {}}]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from processors.errors import InvalidQueryError

JSONObject = dict[str, Any]
KINDS = ("neural", "neural_sparse")

_QUERY_KEYS: dict[str, tuple[str, ...]] = {
    "bool": ("must", "should", "filter", "must_not"),
    "nested": ("query",),
    "has_child": ("query",),
    "has_parent": ("query",),
    "constant_score": ("filter",),
    "boosting": ("positive", "negative"),
    "function_score": ("query",),
    "script_score": ("query",),
    "dis_max": ("queries",),
    "hybrid": ("queries", "filter"),
}
"""Compound query type -> keys holding a query or a list of queries."""

_FIELD_FILTER = ("knn", "neural")
"""Queries shaped ``{field: {..., "filter": query}}``."""

HYBRID_NOT_TOP = (
    "hybrid query must be a top level query and cannot be wrapped into other queries. To use "
    "scoring wrapper queries (function_score, script_score, etc.) with hybrid sub-queries, "
    "replace the hybrid clause with a bool query using should clauses containing the same "
    "sub-queries"
)
"""neural-search 3.6's words (2.19 stopped after "other queries")."""


@dataclass
class ClauseRef:
    """One found clause: ``body`` is the value under ``kind`` (``{field: {params}}``)."""

    kind: str
    body: Any
    path: str
    holder: Any = field(repr=False)
    key: str | int = field(repr=False)

    def replace(self, query: JSONObject) -> None:
        """Put ``query`` where the clause object (``{kind: body}``) was."""
        self.holder[self.key] = query


@dataclass
class _Walk:
    kinds: tuple[str, ...]
    found: list[ClauseRef] = field(default_factory=list)

    def slot(self, holder: Any, key: str | int, path: str, *, top: bool = False) -> None:
        """``holder[key]`` is a query or a list of queries."""
        value = holder[key]
        if isinstance(value, list):
            for index in range(len(value)):
                self.query(value, index, f"{path}[{index}]", top=False)
        else:
            self.query(holder, key, path, top=top)

    def query(self, holder: Any, key: str | int, path: str, *, top: bool) -> None:
        clause = holder[key]
        if not isinstance(clause, dict):
            return
        for qtype, qbody in list(clause.items()):
            if qtype == "hybrid" and not top:
                raise InvalidQueryError(HYBRID_NOT_TOP)
            if not isinstance(qbody, dict):
                continue
            self._children(qtype, qbody, f"{path}.{qtype}")
            if qtype in self.kinds:
                self.found.append(ClauseRef(qtype, qbody, path, holder, key))

    def _children(self, qtype: str, qbody: JSONObject, path: str) -> None:
        for key in _QUERY_KEYS.get(qtype, ()):
            if key in qbody:
                self.slot(qbody, key, f"{path}.{key}")
        if qtype == "function_score":
            for index, function in enumerate(_list(qbody.get("functions"))):
                if isinstance(function, dict) and "filter" in function:
                    self.slot(function, "filter", f"{path}.functions[{index}].filter")
        if qtype in _FIELD_FILTER:
            for name, params in qbody.items():
                if isinstance(params, dict) and "filter" in params:
                    self.slot(params, "filter", f"{path}.{name}.filter")


def find_clauses(
    body: Any, kinds: Iterable[str] = KINDS, *, query_only: bool = False
) -> list[ClauseRef]:
    """Every clause of ``kinds`` in a search body, inner clauses before their containers.

    Args:
        body: A search request body (mutable: :meth:`ClauseRef.replace` edits it).
        kinds: Query types to find.
        query_only: Look in ``body["query"]`` only (what ``neural_query_enricher`` visits).

    Raises:
        InvalidQueryError: a ``hybrid`` query anywhere but at the top of ``query``.
    """
    walk = _Walk(tuple(kinds))
    if not isinstance(body, dict):
        return walk.found
    if "query" in body:
        walk.slot(body, "query", "query", top=True)
    if query_only:
        return walk.found
    if "post_filter" in body:
        walk.slot(body, "post_filter", "post_filter")
    _rescore(walk, body.get("rescore"))
    for key in ("aggs", "aggregations"):
        _aggregations(walk, body.get(key), key)
    _highlight(walk, body.get("highlight"))
    _sort(walk, body.get("sort"))
    return walk.found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _rescore(walk: _Walk, rescore: Any) -> None:
    for index, item in enumerate(_list(rescore)):
        inner = item.get("query") if isinstance(item, dict) else None
        if isinstance(inner, dict) and "rescore_query" in inner:
            walk.slot(inner, "rescore_query", f"rescore[{index}].query.rescore_query")


def _aggregations(walk: _Walk, aggs: Any, path: str) -> None:
    if not isinstance(aggs, dict):
        return
    for name, agg in aggs.items():
        if not isinstance(agg, dict):
            continue
        where = f"{path}.{name}"
        for atype, abody in agg.items():
            if atype in ("aggs", "aggregations"):
                _aggregations(walk, abody, f"{where}.{atype}")
            elif atype == "filter":
                walk.slot(agg, "filter", f"{where}.filter")
            elif atype in ("filters", "adjacency_matrix") and isinstance(abody, dict):
                _named_queries(walk, abody.get("filters"), f"{where}.{atype}.filters")
            elif atype in ("significant_terms", "significant_text") and isinstance(abody, dict):
                if "background_filter" in abody:
                    walk.slot(abody, "background_filter", f"{where}.{atype}.background_filter")


def _named_queries(walk: _Walk, filters: Any, path: str) -> None:
    if isinstance(filters, dict):
        for name in filters:
            walk.slot(filters, name, f"{path}.{name}")
    elif isinstance(filters, list):
        for index in range(len(filters)):
            walk.query(filters, index, f"{path}[{index}]", top=False)


def _highlight(walk: _Walk, highlight: Any) -> None:
    if not isinstance(highlight, dict):
        return
    if "highlight_query" in highlight:
        walk.slot(highlight, "highlight_query", "highlight.highlight_query")
    fields = highlight.get("fields")
    entries = fields.items() if isinstance(fields, dict) else _fields_list(fields)
    for name, options in entries:
        if isinstance(options, dict) and "highlight_query" in options:
            walk.slot(options, "highlight_query", f"highlight.fields.{name}.highlight_query")


def _fields_list(fields: Any) -> list[tuple[str, Any]]:
    return [pair for item in _list(fields) if isinstance(item, dict) for pair in item.items()]


def _sort(walk: _Walk, sort: Any) -> None:
    for index, item in enumerate(_list(sort)):
        if not isinstance(item, dict):
            continue
        for name, options in item.items():
            nested = options.get("nested") if isinstance(options, dict) else None
            depth = 0
            while isinstance(nested, dict):
                if "filter" in nested:
                    walk.slot(nested, "filter", f"sort[{index}].{name}.nested{depth}.filter")
                nested, depth = nested.get("nested"), depth + 1
