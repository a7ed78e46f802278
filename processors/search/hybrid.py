"""Run a ``hybrid`` query on a node without the plugin: sub-queries, fusion, one response (§9).

:func:`run_hybrid` takes a search body whose top-level query is ``hybrid`` with sub-queries
already in core DSL (``neural`` / ``neural_sparse`` rewritten), and returns the response the
plugin would give, scores computed by :mod:`processors.search.normalization`:

1. one ``_msearch``: each sub-query's top ``N`` hits (``N = pagination_depth``, else ``size``),
   sorted ``_score`` then ``_doc`` so the Lucene doc ids come back for the plugin's tie order,
   plus one ``size: 0`` search (a ``bool.should`` of the sub-queries) for ``hits.total``,
   ``aggregations`` and ``suggest``. All items carry one ``preference``, so they read the same
   shard copies. An index with more than one shard is queried again shard by shard
   (``preference=_shards:N``): the plugin collects and combines per shard, and so do we;
2. fusion, then ``from`` / ``size`` over the combined ranking (with the plugin's errors);
3. ``_source``, ``fields`` and friends come with the sub-query hits when those are at most 200
   (``N`` x sub-queries); otherwise, or with ``highlight``, one search by ``ids`` for the page.

Supported request keys: ``query``, ``from``, ``size``, ``track_total_hits``, ``aggs``,
``suggest``, ``timeout``, ``_source``, ``fields``, ``docvalue_fields``, ``stored_fields``,
``script_fields``, ``highlight``, ``version``, ``seq_no_primary_term``, ``ext``, ``min_score``
(3.x: combined scores below it are dropped and ``hits.total`` counts the rest), ``explain``
(:mod:`processors.search.hybrid_explain`), ``collapse`` on a field (3.x: :func:`collapse`;
not its ``inner_hits``), and ``inner_hits`` in sub-queries (every page hit gets each of them,
fetched with the sub-queries). Anything else (``sort``, ``search_after``,
``rescore``, ``post_filter``, ``profile``...) raises
:class:`UnsupportedFeatureError` naming it. Hits carry no ``matched_queries``.

Beyond the plugin: with ``"ext": {"neuralpipe": {"hybrid_breakdown": true}}`` every hit gets
``"_neuralpipe": {"hybrid": {"score": s, "sub_queries": [{"raw_score": r, "normalized_score":
n}, ...]}}`` (``null`` where that sub-query did not return the document). ``ext`` never goes to
the node.

Example:
    >>> body = {"query": {"hybrid": {"queries": [{"match": {"text": "wing"}},
    ...     {"knn": {"vec": {"vector": [0.1, 0.2], "k": 10}}}]}}, "size": 5}
    >>> response = run_hybrid(client, "docs", body, NormalizationConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import numpy as np
from opensearchpy.exceptions import HTTP_EXCEPTIONS, TransportError

from processors.compat.floats import java_float_compare_key, json_score
from processors.errors import InvalidQueryError
from processors.neural_stats.events import increment
from processors.registry import Kind, SearchContext, register_processor
from processors.search.body_json import body_json
from processors.search.fusion_config import FusionConfig, NormalizationConfig, RRFConfig
from processors.search.hybrid_explain import TYPE_NAME as EXPLANATION
from processors.search.hybrid_explain import processor_explanation, raw_explanation
from processors.search.hybrid_request import SearchPlan, plan_search, sub_query_body
from processors.search.normalization import Fused, Hit, fuse

__all__ = ["run_hybrid"]

JSONObject = dict[str, Any]
END_OF_RESULTS = "Reached end of search result, increase pagination_depth value to see more results"


def _raise_item_error(item: JSONObject) -> None:
    """An ``_msearch`` item that failed raises what ``client.search`` would have raised."""
    if "error" in item:
        status = int(item.get("status", 500))
        error = item["error"]
        kind = error.get("type", "") if isinstance(error, dict) else str(error)
        raise HTTP_EXCEPTIONS.get(status, TransportError)(status, kind, item)


Search = tuple[JSONObject, JSONObject]  # (msearch header, body)
ShardList = list[list[list[Hit]]]  # [shard][sub-query][hit]


def _msearch(
    client: Any, index: str, searches: list[Search], *, first: int | None = None
) -> list[JSONObject]:
    """The answers, or the first item's error (item ``first``'s before the others)."""
    lines: list[str] = []  # ndjson written here: vectors with float32's 9 digits, not repr's 17
    for header, body in searches:
        lines.extend((body_json({"index": index, **header}), body_json(body)))
    responses: list[JSONObject] = client.msearch(body="\n".join(lines) + "\n")["responses"]
    if first is not None:
        _raise_item_error(responses[first])
    for item in responses:
        _raise_item_error(item)
    return responses


def _hits(response: JSONObject, docs: dict[Any, JSONObject]) -> list[Hit]:
    """A sub-query's hits for fusion; each document's JSON is kept in ``docs``."""
    hits = []
    for h in response["hits"]["hits"]:
        key = (h["_index"], h["_id"])
        docs.setdefault(key, h)
        hits.append(Hit(key, float(h["_score"]), int(h["sort"][1])))
    return hits


def _per_shard(
    client: Any, index: str, plan: SearchPlan, queries: list[JSONObject], docs: dict[Any, Any]
) -> ShardList:
    """Each shard's hits per sub-query, shards in the coordinator's order (shard id, index)."""
    routing = {k: plan.header[k] for k in ("routing",) if k in plan.header}
    groups = client.search_shards(index=index, params=routing)["shards"]
    shards = sorted({(copies[0]["shard"], copies[0]["index"]) for copies in groups if copies})
    header = {k: v for k, v in plan.header.items() if k != "preference"}
    searches: list[Search] = []
    for number, name in shards:
        shard_header = {**header, "index": name, "preference": f"_shards:{number}"}
        searches.extend((shard_header, sub_query_body(q, plan)) for q in queries)
    responses = _msearch(client, index, searches)
    count = len(queries)
    return [
        [_hits(responses[s * count + j], docs) for j in range(count)] for s in range(len(shards))
    ]


def _fetch(
    client: Any, index: str, plan: SearchPlan, page: list[Fused], docs: dict[Any, JSONObject]
) -> dict[Any, JSONObject]:
    """The page's documents with what the request asked for (``_source``, ``fields``...)."""
    wanted = plan.fetch
    if not page or (wanted.get("_source", True) is False and len(wanted) == 1):
        return {}
    if plan.inline_fetch:
        return docs
    by_index: dict[str, list[str]] = {}
    for fused in page:
        name, doc_id = cast(tuple[str, str], fused.key)
        by_index.setdefault(name, []).append(doc_id)
    should = [
        {"bool": {"filter": [{"term": {"_index": name}}, {"ids": {"values": ids}}]}}
        for name, ids in by_index.items()
    ]
    query: JSONObject = {"bool": {"should": should}}
    if plan.inner_hits:  # each hit gets every sub-query's inner hits, as in the plugin
        query = {"bool": {"filter": [query], "should": plan.hybrid.sub_queries()}}
    body: JSONObject = {"query": query, "size": len(page), **wanted}
    if plan.explain:
        body["explain"] = True  # the hits' _shard and _node, as the plugin's hits have
    if "highlight" in wanted and "highlight_query" not in wanted["highlight"]:
        union = {"bool": {"should": plan.hybrid.sub_queries()}}
        body["highlight"] = {**wanted["highlight"], "highlight_query": union}
    (response,) = _msearch(client, index, [(plan.header, body)])
    return {(h["_index"], h["_id"]): h for h in response["hits"]["hits"]}


def _hit(fused: Fused, fetched: JSONObject | None, breakdown: bool) -> JSONObject:
    name, doc_id = cast(tuple[str, str], fused.key)
    hit: JSONObject = {"_index": name, "_id": doc_id, "_score": json_score(fused.score)}
    for key, value in (fetched or {}).items():
        if key not in ("_index", "_id", "_score", "sort", "matched_queries"):
            hit[key] = value
    if breakdown:
        subs = [
            {
                "raw_score": None if raw is None else json_score(raw),
                "normalized_score": None if norm is None else json_score(norm),
            }
            for raw, norm in zip(fused.raw, fused.normalized, strict=True)
        ]
        hit["_neuralpipe"] = {"hybrid": {"score": json_score(fused.score), "sub_queries": subs}}
    return hit


def _sub_explanations(responses: list[JSONObject]) -> dict[tuple[Any, int], JSONObject]:
    """``(hit key, sub-query) -> explanation`` from the sub-query searches (``explain``)."""
    found: dict[tuple[Any, int], JSONObject] = {}
    for j, response in enumerate(responses):
        for h in response["hits"]["hits"]:
            if isinstance(h.get("_explanation"), dict):
                found[((h["_index"], h["_id"]), j)] = h["_explanation"]
    return found


def _explain_hit(
    client: Any,
    plan: SearchPlan,
    queries: list[JSONObject],
    fused: Fused,
    hit: JSONObject,
    subs: dict[tuple[Any, int], JSONObject],
    fusion: FusionConfig,
    processor: bool,
) -> None:
    """``hit["_explanation"]``: the hybrid query's, or the response processor's (``processor``)."""
    name, doc_id = cast(tuple[str, str], fused.key)
    details = []
    for j, query in enumerate(queries):
        sub = subs.get((fused.key, j))
        if sub is None:  # the sub-query did not return this hit: ask the node
            routing = {k: plan.header[k] for k in ("routing",) if k in plan.header}
            answer = client.explain(index=name, id=doc_id, body={"query": query}, params=routing)
            sub = answer["explanation"]
        details.append(sub)
    if processor:
        normalized = [None if n is None else float(n) for n in fused.normalized]
        hit["_explanation"] = processor_explanation(
            float(fused.score), details, normalized, fusion, plan.min_score
        )
    else:
        hit["_explanation"] = raw_explanation(details)


def _collapse_value(hit: JSONObject, field: str) -> Any:
    """The document's collapse value (``docvalue_fields`` of the sub-query hit), or None."""
    values = (hit.get("fields") or {}).get(field)
    return values[0] if isinstance(values, list) and values else None


def _set_collapse_field(hit: JSONObject, field: str, value: Any) -> None:
    """``fields.<collapse field>``: the group's value, as core's collapse writes it (none for a
    document without one)."""
    fields = dict(hit.get("fields") or {})
    fields.pop(field, None)
    if value is not None:
        fields[field] = [value]
    if fields:
        hit["fields"] = fields
    else:
        hit.pop("fields", None)


def _java_float_order(value: Any) -> tuple[int, float, float]:
    return java_float_compare_key(float(value))


def collapse(fused: list[Fused], groups: dict[Any, Any]) -> list[Fused]:
    """One hit per collapse value, as neural-search 3.6 collapses hybrid results.

    Per shard, the combined documents come in the order ``ScoreCombiner`` merges the
    sub-query lists when a sort is set (collapse sorts by ``_score``): every sub-query hit by
    its raw sub-query score, highest first, ties by the lower normalized score, then the lower
    doc id; each document at its first place. Walking that order, a group keeps its first
    document unless a later one has a strictly higher combined score; groups keep the order
    they were first seen in, and are then sorted by combined score (stably).

    Example:
        >>> from processors.search.normalization import Fused
        >>> f = lambda key, score, raw, doc: Fused(key, np.float32(score), 0, doc,
        ...     (np.float32(raw),), (np.float32(score),))
        >>> hits = [f("1", 0.5, 2.0, 0), f("7", 0.5, 3.0, 6), f("3", 0.2, 1.0, 2)]
        >>> [h.key for h in collapse(hits, {"1": "a", "7": "a", "3": "b"})]
        ['7', '3']
    """
    best: dict[Any, Fused] = {}
    for shard in sorted({f.shard for f in fused}):
        entries = [
            (f, raw, norm)
            for f in fused
            if f.shard == shard
            for raw, norm in zip(f.raw, f.normalized, strict=True)
            if raw is not None
        ]
        entries.sort(key=lambda e: (_negated(e[1]), _java_float_order(e[2]), e[0].doc))
        seen: set[Any] = set()
        for f, _, _ in entries:
            if f.key in seen:
                continue
            seen.add(f.key)
            value = groups.get(f.key)
            current = best.get(value)
            if current is None or f.score > current.score:
                best[value] = f
    return sorted(best.values(), key=lambda f: _negated(f.score))


def _negated(value: Any) -> tuple[int, float, float]:
    key = _java_float_order(value)
    return (-key[0], -key[1], -key[2])


def run_hybrid(
    client: Any,
    index: str,
    body: JSONObject,
    fusion: FusionConfig,
    *,
    params: JSONObject | None = None,
    explanation: bool = False,
) -> JSONObject:
    """Run a hybrid search and return an OpenSearch-shaped response with fused scores.

    Args:
        client: An ``opensearchpy.OpenSearch`` client.
        index: The index (or alias, or comma-separated list) to search.
        body: The search body; ``query`` is ``{"hybrid": {...}}`` with sub-queries in core DSL.
        fusion: The pipeline's ``normalization-processor`` or ``score-ranker-processor`` options.
        params: URL parameters of the search (``routing``, ``preference``, ``size``...).
        explanation: The pipeline has a ``hybrid_score_explanation`` response processor (with
            ``explain``, hits get its explanation instead of the hybrid query's own).

    Raises:
        InvalidQueryError: what the plugin rejects (same messages).
        UnsupportedFeatureError: request options not emulated for hybrid queries.
        opensearchpy.TransportError: a node error, as ``client.search`` would raise it.
    """
    started = time.perf_counter()
    plan = plan_search(body, params)
    queries = plan.hybrid.sub_queries()
    header = {"preference": f"neuralpipe-{uuid.uuid4().hex}", **plan.header}
    searches = [(header, sub_query_body(q, plan)) for q in queries]
    if plan.count is not None:
        searches.append((header, plan.count))
    checked = len(searches) - 1 if plan.collapse is not None and plan.count else None
    responses = _msearch(client, index, searches, first=checked)  # collapse: its errors first
    first = responses[0]
    docs: dict[Any, JSONObject] = {}
    shards: ShardList = [[_hits(r, docs) for r in responses[: len(queries)]]]
    if first["_shards"]["total"] > 1:
        docs = {}
        shards = _per_shard(client, index, plan, queries, docs)
    fused = fuse(shards, fusion)
    collected = len(fused)
    if plan.min_score is not None:
        floor = np.float32(plan.min_score)
        fused = [f for f in fused if f.score >= floor]
    kept = len(fused)  # what min_score leaves counts in hits.total, before collapse
    groups: dict[Any, Any] = {}
    if plan.collapse is not None:
        groups = {key: _collapse_value(hit, plan.collapse) for key, hit in docs.items()}
        fused = collapse(fused, groups)
    if plan.inner_hits:
        increment("hybrid_query_with_inner_hits_requests")
    if plan.start > len(fused):
        raise InvalidQueryError(END_OF_RESULTS)
    page = fused[plan.start : plan.start + plan.size]
    fetched = _fetch(client, index, plan, page, docs)
    hits: JSONObject = {}
    count = responses[-1] if plan.count is not None else None
    if count is not None and "total" in count["hits"]:
        hits["total"] = count["hits"]["total"]
        if plan.min_score is not None:  # ScoreCombiner: the documents kept, per shard summed
            relation = hits["total"].get("relation", "eq") if kept == collected else "eq"
            hits["total"] = {"value": kept, "relation": relation}
    hits["max_score"] = json_score(fused[0].score) if fused else 0.0
    hits["hits"] = [_hit(f, fetched.get(f.key), plan.breakdown) for f in page]
    if plan.collapse is not None:
        for fused_hit, hit in zip(page, hits["hits"], strict=True):
            _set_collapse_field(hit, plan.collapse, groups.get(fused_hit.key))
    if plan.explain:
        subs = _sub_explanations(responses[: len(queries)])
        for fused_hit, hit in zip(page, hits["hits"], strict=True):
            _explain_hit(client, plan, queries, fused_hit, hit, subs, fusion, explanation)
    response: JSONObject = {
        "took": int((time.perf_counter() - started) * 1000),
        "timed_out": any(r.get("timed_out", False) for r in responses),
        "_shards": first["_shards"],
        "hits": hits,
    }
    for key in ("aggregations", "suggest"):
        if count is not None and key in count:
            response[key] = count[key]
    return response


def run_fusion(config: FusionConfig, request: JSONObject, context: SearchContext) -> JSONObject:
    """The phase-results processor: the hybrid search of ``request``, fused (see
    :func:`run_hybrid`)."""
    extra = {"explanation": True} if EXPLANATION in context.response_steps else {}
    return run_hybrid(
        context.client, context.index or "_all", request, config, params=dict(context.params),
        **extra,
    )  # fmt: skip


register_processor(
    Kind.SEARCH_PHASE_RESULTS, "normalization-processor", parse=NormalizationConfig.from_body,
    run=run_fusion,
)  # fmt: skip
register_processor(
    Kind.SEARCH_PHASE_RESULTS, "score-ranker-processor", parse=RRFConfig.from_body, run=run_fusion
)
