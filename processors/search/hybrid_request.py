"""The ``hybrid`` query and its search request: validation and the node requests it becomes.

Validation follows ``HybridQueryBuilder`` (2.19), plus the 3.0 ``filter``: one query applied to
every sub-query the way ``QueryBuilder.filter`` does it (reference §9.1):

* ``knn``: becomes the knn ``filter`` (a pre-filter), or is combined with an existing one;
* ``bool``: the filter is appended to its ``filter`` clauses, except a ``should``-only bool
  without ``minimum_should_match`` (what ``neural_sparse`` is rewritten into), which is wrapped
  instead, since an added filter clause would make its ``should`` clauses optional;
* anything else: ``{"bool": {"must": [query], "filter": [filter]}}``.

Example:
    >>> h = parse_hybrid({"queries": [{"match": {"t": "x"}}], "filter": {"term": {"c": 1}}})
    >>> h.sub_queries()[0]
    {'bool': {'must': [{'match': {'t': 'x'}}], 'filter': [{'term': {'c': 1}}]}}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from processors.errors import InvalidQueryError, UnsupportedFeatureError
from processors.search.dsl_values import copy_json

JSONObject = dict[str, Any]
PARSING = "parsing_exception"
MAX_SUB_QUERIES = 5
MAX_RESULT_WINDOW = 10_000  # index.max_result_window default; a lower index setting: node error
BREAKDOWN_FLAG = "hybrid_breakdown"
INLINE_FETCH_DOCS = 200  # up to this many sub-query hits, _source & co. come with them
MALFORMED = "[hybrid] query malformed, no start_object after query name"
TOO_MANY = "Number of sub-queries exceeds maximum supported by [hybrid] query"
NOT_QUERIES = "[hybrid] sub-queries must be query objects"
NO_BOOST = "[hybrid] query does not support [boost]"
UNKNOWN_FIELD = "Field is not supported by [hybrid] query"
NO_QUERIES = "[hybrid] requires 'queries' field with at least one clause"
DEPTH_NEGATIVE = "pagination_depth should be greater than 0"
DEPTH_TOO_LARGE = "pagination_depth should be less than or equal to index.max_result_window setting"
DEPTH_MISSING = "pagination_depth param is missing in the search request"

SUPPORTED_BODY_KEYS = frozenset(
    ("query", "from", "size", "_source", "fields", "docvalue_fields", "stored_fields",
     "script_fields", "highlight", "version", "seq_no_primary_term", "track_total_hits",
     "aggs", "aggregations", "suggest", "timeout", "ext", "track_scores", "stats",
     "min_score", "explain", "collapse")
)  # fmt: skip
FETCH_KEYS = ("_source", "fields", "docvalue_fields", "stored_fields", "script_fields",
              "highlight", "version", "seq_no_primary_term")  # fmt: skip
HEADER_PARAMS = frozenset(
    ("routing", "preference", "search_type", "request_cache", "allow_no_indices",
     "expand_wildcards", "ignore_unavailable", "allow_partial_search_results")
)  # fmt: skip
BODY_PARAMS = {"from": "from", "size": "size", "track_total_hits": "track_total_hits",
               "timeout": "timeout", "version": "version", "_source": "_source",
               "seq_no_primary_term": "seq_no_primary_term", "explain": "explain"}  # fmt: skip
IGNORED_PARAMS = frozenset(("search_pipeline", "typed_keys"))


@dataclass(frozen=True)
class HybridQuery:
    """A validated ``hybrid`` query: sub-queries (core DSL), pagination depth, filter."""

    queries: tuple[JSONObject, ...]
    pagination_depth: int | None = None
    filter: JSONObject | None = None

    def sub_queries(self) -> list[JSONObject]:
        """The sub-queries as the node runs them, with the hybrid filter applied to each."""
        if self.filter is None:
            return [copy_json(q) for q in self.queries]
        return [with_filter(copy_json(q), copy_json(self.filter)) for q in self.queries]


def _int_value(value: Any, name: str) -> int:
    """``parser.intValue()``: numbers (truncated) and numeric strings."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidQueryError(f"[hybrid] failed to parse field [{name}]", PARSING)
    try:
        return int(float(value)) if not isinstance(value, int) else value
    except ValueError as exc:
        raise InvalidQueryError(f"[hybrid] failed to parse field [{name}]", PARSING) from exc


def parse_hybrid(body: Any) -> HybridQuery:
    """Validate the object under ``query.hybrid`` with the plugin's messages.

    Raises:
        InvalidQueryError: what the plugin rejects (``parsing_exception`` for syntax).
    """
    if not isinstance(body, dict):
        raise InvalidQueryError(MALFORMED, PARSING)
    queries: list[JSONObject] = []
    depth: int | None = None
    filter_query: JSONObject | None = None
    for key, value in body.items():
        if key == "queries":
            items = value if isinstance(value, list) else [value]
            if len(items) > MAX_SUB_QUERIES:
                raise InvalidQueryError(TOO_MANY, PARSING)
            if any(not isinstance(q, dict) or len(q) != 1 for q in items):
                raise InvalidQueryError(NOT_QUERIES, PARSING)
            queries.extend(items)
        elif key == "filter":
            if not isinstance(value, dict):
                raise InvalidQueryError(UNKNOWN_FIELD, PARSING)  # 3.6: any non-object filter
            filter_query = value
        elif key == "boost":
            if isinstance(value, bool) or not isinstance(value, int | float) or value != 1.0:
                raise InvalidQueryError(NO_BOOST, PARSING)
        elif key == "pagination_depth":
            depth = _int_value(value, key)
        elif key != "_name":
            raise InvalidQueryError(UNKNOWN_FIELD, PARSING)
    if not queries:
        raise InvalidQueryError(NO_QUERIES, PARSING)
    if depth is not None and depth < 0:
        raise InvalidQueryError(DEPTH_NEGATIVE)
    if depth is not None and depth > MAX_RESULT_WINDOW:
        raise InvalidQueryError(DEPTH_TOO_LARGE)
    return HybridQuery(tuple(queries), depth, filter_query)


def with_filter(query: JSONObject, filter_query: JSONObject) -> JSONObject:
    """``query.filter(filter)`` as OpenSearch core and k-NN implement it."""
    (kind, params), *_ = query.items()
    if kind == "knn" and isinstance(params, dict) and len(params) == 1:
        options = next(iter(params.values()))
        if isinstance(options, dict):
            existing = options.get("filter")
            merged = filter_query if existing is None else with_filter(existing, filter_query)
            options["filter"] = merged
            return query
    if kind == "bool" and isinstance(params, dict):
        scoring = any(params.get(k) for k in ("must", "filter"))
        should_only = not scoring and bool(params.get("should"))
        if not should_only or "minimum_should_match" in params:
            existing = params.get("filter", [])
            clauses = existing if isinstance(existing, list) else [existing]
            params["filter"] = [*clauses, filter_query]
            return query
    return {"bool": {"must": [query], "filter": [filter_query]}}


@dataclass(frozen=True)
class SearchPlan:
    """What the hybrid search asks the node, derived from the request body and URL params."""

    hybrid: HybridQuery
    start: int
    size: int
    depth: int
    header: JSONObject
    fetch: JSONObject
    count: JSONObject | None
    timeout: Any
    breakdown: bool
    min_score: float | None = None
    explain: bool = False
    collapse: str | None = None
    """The ``collapse.field``: one hit per value (:func:`processors.search.hybrid.collapse`)."""

    @cached_property
    def inner_hits(self) -> bool:
        """Some sub-query asks for ``inner_hits`` (every page hit gets each one's, as core's
        fetch phase gives them for the whole query)."""
        return any(has_inner_hits(q) for q in self.hybrid.queries)

    @property
    def inline_fetch(self) -> bool:
        """Whether the sub-query searches return ``_source`` & co. (no separate fetch)."""
        collected = self.depth * len(self.hybrid.queries)
        separate = "highlight" in self.fetch or self.inner_hits
        return not separate and collected <= INLINE_FETCH_DOCS


def _merge_params(body: JSONObject, params: JSONObject | None) -> tuple[JSONObject, JSONObject]:
    merged, header = dict(body), {}
    for key, value in (params or {}).items():
        if key in HEADER_PARAMS:
            header[key] = value
        elif key in BODY_PARAMS:
            merged[BODY_PARAMS[key]] = value
        elif key in ("_source_includes", "_source_excludes"):
            source = merged.get("_source")
            source = dict(source) if isinstance(source, dict) else {}
            values = value.split(",") if isinstance(value, str) else value
            source[key.removeprefix("_source_")] = values
            merged["_source"] = source
        elif key not in IGNORED_PARAMS:
            raise UnsupportedFeatureError(f"hybrid search: URL parameter [{key}] is not emulated")
    return merged, header


def plan_search(body: JSONObject, params: JSONObject | None = None) -> SearchPlan:
    """Check the request and work out the node requests (reference §9.1, §9.7).

    Raises:
        InvalidQueryError: what the plugin or the node would reject.
        UnsupportedFeatureError: a request option hybrid search does not emulate.
    """
    merged, header = _merge_params(body, params)
    for key in merged:
        if key not in SUPPORTED_BODY_KEYS:
            raise UnsupportedFeatureError(f"hybrid search: [{key}] is not emulated")
    query = merged.get("query")
    if not isinstance(query, dict) or list(query) != ["hybrid"]:
        raise InvalidQueryError("run_hybrid needs a top-level [hybrid] query")
    hybrid = parse_hybrid(query["hybrid"])
    start = _int_value(merged.get("from", 0), "from")
    size = _int_value(merged.get("size", 10), "size")
    if start < 0:
        raise InvalidQueryError(f"[from] parameter cannot be negative, found [{start}]")
    if size < 0:
        raise InvalidQueryError(f"[size] parameter cannot be negative, found [{size}]")
    if hybrid.pagination_depth is None and start > 0:
        raise InvalidQueryError(DEPTH_MISSING)
    depth = hybrid.pagination_depth if hybrid.pagination_depth is not None else size
    fetch = {k: merged[k] for k in FETCH_KEYS if k in merged}
    collapse = _collapse(merged.get("collapse"))
    count = _count_body(merged, hybrid)
    if count is not None and collapse is not None:
        count["collapse"] = {"field": collapse}  # the node checks the field as for the plugin
    return SearchPlan(
        hybrid, start, size, depth, header, fetch, count,
        merged.get("timeout"), breakdown_requested(merged), _min_score(merged),
        merged.get("explain") in (True, "true"), collapse,
    )  # fmt: skip


def _collapse(value: Any) -> str | None:
    """``collapse.field`` (other collapse options, ``inner_hits`` first, are not emulated)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("field"), str):
        raise InvalidQueryError("[collapse] failed to parse field [field]", PARSING)
    others = sorted(k for k in value if k != "field")
    if others:
        raise UnsupportedFeatureError(f"hybrid search: [collapse.{others[0]}] is not emulated")
    return str(value["field"])


def has_inner_hits(value: Any) -> bool:
    """Whether a query holds ``inner_hits`` anywhere (``nested``, ``has_child``...).

    Only objects and lists are walked into (a ``knn`` vector's numbers are passed over
    without a call each).

    Example:
        >>> has_inner_hits({"knn": {"v": {"vector": [0.5] * 384, "k": 10}}})
        False
        >>> has_inner_hits({"bool": {"should": [{"nested": {"path": "p", "inner_hits": {}}}]}})
        True
    """
    if isinstance(value, dict):
        if "inner_hits" in value:
            return True
        values: Any = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return False
    return any(has_inner_hits(v) for v in values if isinstance(v, dict | list))


def _min_score(merged: JSONObject) -> float | None:
    """The request's ``min_score``: the plugin keeps combined scores ``>=`` it (3.x)."""
    value = merged.get("min_score")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidQueryError("[min_score] failed to parse field", PARSING)
    try:
        number = float(value)
    except ValueError as exc:
        raise InvalidQueryError("[min_score] failed to parse field", PARSING) from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidQueryError(
            f"min_score is invalid : [{number:f}], must neither be Infinity nor NaN"
        )
    return number


def breakdown_requested(body: JSONObject) -> bool:
    """``ext.neuralpipe.hybrid_breakdown: true`` (our opt-in; never sent to the node)."""
    ext = body.get("ext")
    ours = ext.get("neuralpipe") if isinstance(ext, dict) else None
    return isinstance(ours, dict) and ours.get(BREAKDOWN_FLAG) is True


def _count_body(merged: JSONObject, hybrid: HybridQuery) -> JSONObject | None:
    """hits.total (docs matching any sub-query), aggregations and suggestions: one search."""
    tracked = merged.get("track_total_hits", True) is not False
    extras: JSONObject = {k: merged[k] for k in ("aggs", "aggregations", "suggest") if k in merged}
    if not tracked and not extras:
        return None
    body: JSONObject = {"size": 0, "query": {"bool": {"should": hybrid.sub_queries()}}, **extras}
    if "track_total_hits" in merged:
        body["track_total_hits"] = merged["track_total_hits"]
    if merged.get("timeout") is not None:
        body["timeout"] = merged["timeout"]
    return body


def sub_query_body(query: JSONObject, plan: SearchPlan) -> JSONObject:
    """One sub-query's top ``depth`` hits, ordered as Lucene collects them, with doc ids."""
    body: JSONObject = {
        "query": query,
        "size": plan.depth,
        "sort": [{"_score": {"order": "desc"}}, {"_doc": {"order": "asc"}}],
        "track_scores": True,
        "track_total_hits": False,
        "_source": False,
    }
    if plan.inline_fetch:
        body.update({"_source": True, **plan.fetch})
    if plan.collapse is not None:
        fields = body.get("docvalue_fields", [])
        body["docvalue_fields"] = [*(fields if isinstance(fields, list) else [fields]),
                                   plan.collapse]  # fmt: skip
    if plan.timeout is not None:
        body["timeout"] = plan.timeout
    if plan.explain:
        body["explain"] = True
    return body
