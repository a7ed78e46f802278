"""The body of ``GET /_plugins/_neural/stats[/<stat>]``, shaped as the 3.6 plugin's.

Stats are of three kinds: *info* (the cluster version and how many of the plugin's processors
the stored pipelines hold), *events* (:mod:`.events`, counted by neuralpipe) and *metrics*
(SEISMIC's memory use: neuralpipe keeps no SEISMIC structures, so 0). Parameters:
``include_metadata`` (each value becomes ``{"value", "stat_type", ...}``), ``flat_stat_paths``
(``"query.neural.neural_query_requests"`` keys), ``include_individual_nodes``,
``include_all_nodes``, ``include_info``, ``include_metric``; ``stat`` names some stats.

Example:
    >>> body = stats_body(StatsQuery.parse({"flat_stat_paths": "true"}, "neural_query_requests"),
    ...                   Cluster("c", "3.6.0", "n1"), EventCounters(), {})
    >>> body["all_nodes"]
    {'query.neural.neural_query_requests': 0}
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.errors import InvalidQueryError
from processors.neural_stats.events import EVENT_NAMES, EVENT_PATHS, EventCounters

JSONObject = dict[str, Any]
INFO_PATHS = (
    "processors.search.hybrid.comb_geometric_processors",
    "processors.search.hybrid.comb_rrf_processors",
    "processors.search.hybrid.norm_l2_processors",
    "processors.search.hybrid.norm_minmax_processors",
    "processors.search.hybrid.comb_harmonic_processors",
    "processors.search.hybrid.comb_arithmetic_processors",
    "processors.search.hybrid.norm_zscore_processors",
    "processors.search.hybrid.rank_based_normalization_processors",
    "processors.search.hybrid.normalization_processors",
    "processors.search.rerank_ml_processors",
    "processors.search.rerank_by_field_processors",
    "processors.search.neural_sparse_two_phase_processors",
    "processors.search.agentic.agentic_context_processors",
    "processors.search.agentic.agentic_query_translator_processors",
    "processors.search.neural_query_enricher_processors",
    "processors.ingest.sparse_encoding_processors",
    "processors.ingest.skip_existing_processors",
    "processors.ingest.text_image_embedding_processors",
    "processors.ingest.text_chunking_delimiter_processors",
    "processors.ingest.text_embedding_processors_in_pipelines",
    "processors.ingest.text_chunking_fixed_token_length_processors",
    "processors.ingest.text_chunking_fixed_char_length_processors",
    "processors.ingest.text_chunking_processors",
)
INFO_NAMES = {"cluster_version": "cluster_version"} | {p.rsplit(".", 1)[-1]: p for p in INFO_PATHS}
METRIC_PATHS = (
    "memory.sparse.sparse_memory_usage_percentage",
    "memory.sparse.sparse_memory_usage",
    "memory.sparse.clustered_posting_usage",
    "memory.sparse.forward_index_usage",
)
METRIC_NAMES = {p.rsplit(".", 1)[-1]: p for p in METRIC_PATHS}
NODE_ONLY = {"sparse_memory_usage_percentage"}
_TRUE = ("", "true")


@dataclass(frozen=True)
class Cluster:
    """What the stats show of the cluster: its name, version and (one) node id."""

    name: str
    version: str
    node_id: str


@dataclass(frozen=True)
class StatsQuery:
    """The request's parameters."""

    flat: bool = False
    metadata: bool = False
    individual_nodes: bool = True
    all_nodes: bool = True
    info: bool = True
    metric: bool = True
    stats: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, params: Mapping[str, str], stat: str | None, path: str = "") -> StatsQuery:
        """Parameters and the ``stat`` path part; unknown stats are the plugin's 400."""

        def flag(name: str, default: bool) -> bool:
            value = params.get(name)
            return default if value is None else value in _TRUE

        names = [s.lower() for s in (stat or "").split(",") if s]
        known = set(INFO_NAMES) | set(EVENT_NAMES) | set(METRIC_NAMES)
        unknown = sorted({n for n in names if n not in known})
        if unknown:
            listed = ", ".join(f"[{n}]" for n in unknown)
            raise InvalidQueryError(f"request [{path}] contains unrecognized stats: {listed}")
        return cls(
            flag("flat_stat_paths", False), flag("include_metadata", False),
            flag("include_individual_nodes", True), flag("include_all_nodes", True),
            flag("include_info", True), flag("include_metric", True), frozenset(names),
        )  # fmt: skip

    def wants(self, name: str) -> bool:
        return not self.stats or name in self.stats


def stats_body(
    query: StatsQuery, cluster: Cluster, events: EventCounters, info_counts: Mapping[str, int]
) -> JSONObject:
    """The whole answer."""
    body: JSONObject = {
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": cluster.name,
    }
    if query.info:
        info: dict[str, Any] = {}
        if query.wants("cluster_version"):
            info["cluster_version"] = _value(query, cluster.version, "info_string")
        for path in INFO_PATHS:
            name = path.rsplit(".", 1)[-1]
            if query.wants(name):
                info[path] = _value(query, int(info_counts.get(name, 0)), "info_counter")
        body["info"] = _shape(query, info)
    node: dict[str, Any] = {}
    for path in EVENT_PATHS:
        name = path.rsplit(".", 1)[-1]
        if query.wants(name):
            snap = events.snapshot(name)
            minutes = snap.minutes_since_last_event
            if snap.value == 0:
                minutes = int(time.time() // 60)
            node[path] = (
                {"value": snap.value, "stat_type": "timestamped_event_counter",
                 "trailing_interval_value": snap.trailing_interval_value,
                 "minutes_since_last_event": minutes}
                if query.metadata else snap.value
            )  # fmt: skip
    if query.metric:
        for path in METRIC_PATHS:
            if query.wants(path.rsplit(".", 1)[-1]):
                node[path] = _value(query, 0.0, "memory")
    if query.all_nodes:
        every = {p: v for p, v in node.items() if p.rsplit(".", 1)[-1] not in NODE_ONLY}
        body["all_nodes"] = _shape(query, every)
    if query.individual_nodes:
        body["nodes"] = {cluster.node_id: _shape(query, node)}
    return body


def _value(query: StatsQuery, value: Any, stat_type: str) -> Any:
    return {"value": value, "stat_type": stat_type} if query.metadata else value


def _shape(query: StatsQuery, flat: Mapping[str, Any]) -> JSONObject:
    if query.flat:
        return dict(flat)
    nested: JSONObject = {}
    for path, value in flat.items():
        *parents, last = path.split(".")
        holder = nested
        for part in parents:
            holder = holder.setdefault(part, {})
        holder[last] = value
    return nested


def info_counts(ingest: Mapping[str, Any], search: Mapping[str, Any]) -> dict[str, int]:
    """The info counters from pipeline bodies (``{id: body}`` of ingest and search)."""
    counts: dict[str, int] = {}

    def add(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for body in ingest.values():
        for step in _processors(body, "processors"):
            for kind, config in step.items():
                config = config if isinstance(config, dict) else {}
                if kind == "text_embedding":
                    add("text_embedding_processors_in_pipelines")
                elif kind == "sparse_encoding":
                    add("sparse_encoding_processors")
                elif kind == "text_image_embedding":
                    add("text_image_embedding_processors")
                elif kind == "text_chunking":
                    add("text_chunking_processors")
                    for algorithm in config.get("algorithm") or {}:
                        add(f"text_chunking_{algorithm}_processors")
                if kind in ("text_embedding", "sparse_encoding") and config.get("skip_existing"):
                    add("skip_existing_processors")
    for body in search.values():
        for key in ("request_processors", "phase_results_processors", "response_processors"):
            for step in _processors(body, key):
                for kind, config in step.items():
                    _search_info(kind, config if isinstance(config, dict) else {}, add)
    return counts


def _search_info(kind: str, config: JSONObject, add: Any) -> None:
    if kind == "normalization-processor":
        add("normalization_processors")
        technique = (config.get("normalization") or {}).get("technique", "min_max")
        add(
            {
                "min_max": "norm_minmax_processors",
                "l2": "norm_l2_processors",
                "z_score": "norm_zscore_processors",
            }.get(technique, "norm_minmax_processors")
        )
        combination = (config.get("combination") or {}).get("technique", "arithmetic_mean")
        add(f"comb_{str(combination).removesuffix('_mean')}_processors")
    elif kind == "score-ranker-processor":
        add("rank_based_normalization_processors")
        add("comb_rrf_processors")
    elif kind == "rerank":
        add("rerank_by_field_processors" if "by_field" in config else "rerank_ml_processors")
    elif kind == "neural_query_enricher":
        add("neural_query_enricher_processors")
    elif kind == "neural_sparse_two_phase_processor":
        add("neural_sparse_two_phase_processors")


def _processors(body: Any, key: str) -> list[JSONObject]:
    found = body.get(key) if isinstance(body, dict) else None
    return [s for s in found or [] if isinstance(s, dict)]
