"""``GET /_plugins/_neural/stats`` on both sides: the reference node and a neuralpipe proxy.

The proxy runs in this process in front of the main node (its stats are this process's
counters). Cases: the disabled answer, the stat tree (keys, with and without
``flat_stat_paths`` / ``include_metadata``, values aside: each node counts its own history), an
unknown stat, and what the same requests add to the counters on each side.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.differential.harness.compare import Case, compare_errors
from tests.differential.harness.sides import TOKENIZER, JSONObject, Sides

ENABLED = "plugins.neural_search.stats_enabled"
STATS = "/_plugins/_neural/stats"
COUNTED = (
    "neural_sparse_query_requests",
    "seismic_query_requests",
    "sparse_encoding_executions",
    "text_chunking_executions",
    "text_chunking_delimiter_executions",
)
PIPELINE = {
    "processors": [
        {"text_chunking": {"algorithm": {"delimiter": {"delimiter": "."}},
                           "field_map": {"text": "chunks"}}},
        {"sparse_encoding": {"model_id": TOKENIZER, "field_map": {"text": "sparse"}}},
    ]
}  # fmt: skip


@contextmanager
def _proxy(sides: Sides) -> Iterator[str]:
    from processors.proxy.app import ProxySettings, create_app
    from processors.testing.serving import serve

    host = sides.client.transport.hosts[0]
    url = str(sides.settings.opensearch_url or f"http://{host['host']}:{host['port']}")
    with tempfile.TemporaryDirectory() as root:
        settings = ProxySettings(
            upstream_url=url, pipelines_dir=None, home=Path(root),
            ml_index_prefix=f".{sides.index}-stats-ml",
            pipeline_index=f".{sides.index}-stats-pipelines",
        )  # fmt: skip
        app = create_app(settings, models=sides.store.get, with_registry=False)
        try:
            with serve(app) as proxy:
                yield proxy
        finally:
            sides.client.indices.delete(index=f".{sides.index}-stats-*", ignore_unavailable=True)


def _get(url: str, path: str, **params: Any) -> tuple[int, Any]:
    answer = requests.get(f"{url}{path}", params=params, timeout=120)
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, answer.text


def _enable(url: str, on: bool) -> None:
    body = {"persistent": {ENABLED: True if on else None}}
    answer = requests.put(f"{url}/_cluster/settings", json=body, timeout=60)
    answer.raise_for_status()


def _keys(body: Any, prefix: str = "") -> set[str]:
    """Every key path of the stat tree (node ids replaced by ``<node>``, values dropped;
    with metadata, a value's ``stat_type`` and its other keys)."""
    if not isinstance(body, dict):
        return {prefix}
    if "stat_type" in body:
        return {f"{prefix}:{body['stat_type']}"} | {f"{prefix}.{k}" for k in body if k != "value"}
    out: set[str] = set()
    for key, value in body.items():
        out |= _keys(value, f"{prefix}.{'<node>' if prefix == '.nodes' else key}")
    return out


def _tree_case(name: str, ref: tuple[int, Any], ours: tuple[int, Any]) -> Case:
    case = Case("neural_stats", name)
    if ref[0] != 200 or ours[0] != 200:
        case.differences = [
            f"status {ref[0]} vs {ours[0]}: {str(ref[1])[:200]} / {str(ours[1])[:200]}"
        ]
        return case
    ref_keys = _keys({k: v for k, v in ref[1].items() if k != "cluster_name"})
    our_keys = _keys({k: v for k, v in ours[1].items() if k != "cluster_name"})
    case.differences = (
        [f"only reference: {sorted(ref_keys - our_keys)[:8]}"] if ref_keys - our_keys else []
    )
    if our_keys - ref_keys:
        case.differences.append(f"only neuralpipe: {sorted(our_keys - ref_keys)[:8]}")
    return case


def _counts(url: str) -> dict[str, int]:
    body = _get(url, f"{STATS}/{','.join(COUNTED)}", flat_stat_paths="true",
                include_individual_nodes="false")[1]  # fmt: skip
    return {path.rsplit(".", 1)[-1]: int(value) for path, value in body["all_nodes"].items()}


def _exercise(url: str, index: str, pipeline: JSONObject) -> None:
    """The same requests to a side: two neural_sparse searches, a two-document _simulate."""
    requests.put(f"{url}/{index}", json={"mappings": {"properties": {
        "sparse": {"type": "rank_features"}}}}, timeout=60).raise_for_status()  # fmt: skip
    for params in ({"query_tokens": {"wing": 1.0}},
                   {"query_tokens": {"wing": 1.0}, "method_parameters": {"k": 3}}):  # fmt: skip
        body: JSONObject = {"query": {"neural_sparse": {"sparse": params}}}
        requests.post(f"{url}/{index}/_search", json=body, timeout=60).raise_for_status()
    docs = [{"_source": {"text": "A swept wing. It delays drag."}},
            {"_source": {"text": "Shock waves."}}]  # fmt: skip
    answer = requests.post(f"{url}/_ingest/pipeline/_simulate",
                           json={"pipeline": pipeline, "docs": docs}, timeout=120)  # fmt: skip
    answer.raise_for_status()
    requests.delete(f"{url}/{index}", timeout=60)


def stats_cases(sides: Sides) -> list[Case]:
    """The stats API on both sides (the setting is reset on both at the end)."""
    cases: list[Case] = []
    with _proxy(sides) as ours:
        ref = sides.ref_url
        try:
            _enable(ref, False)
            _enable(ours, False)
            disabled = Case("neural_stats", "stats disabled: 403 text")
            a, b = _get(ref, STATS), _get(ours, STATS)
            if a != b:
                disabled.differences = [f"{a} vs {b}"]
            cases.append(disabled)
            _enable(ref, True)
            _enable(ours, True)
            for name, params in (
                ("stat tree", {}),
                ("stat tree flat_stat_paths", {"flat_stat_paths": "true"}),
                ("stat tree include_metadata", {"include_metadata": "true"}),
                (
                    "no nodes, no info",
                    {"include_individual_nodes": "false", "include_info": "false"},
                ),
            ):
                cases.append(
                    _tree_case(name, _get(ref, STATS, **params), _get(ours, STATS, **params))
                )
            path = f"{STATS}/neural_query_requests,cluster_version,sparse_memory_usage"
            named = [_get(url, path, include_metadata="true") for url in (ref, ours)]
            cases.append(_tree_case("named stats with metadata", *named))
            unknown = Case("errors", "stats: unrecognized stats")
            a, b = _get(ref, f"{STATS}/foo,bar"), _get(ours, f"{STATS}/foo,bar")
            unknown.differences = compare_errors(sides.error_of(a), sides.error_of(b))
            cases.append(unknown)
            cases.append(_delta_case(sides, ref, ours))
        finally:
            _enable(ref, False)
            _enable(ours, False)
    return cases


def _delta_case(sides: Sides, ref: str, ours: str) -> Case:
    case = Case("neural_stats", "counted: neural_sparse (+seismic), sparse_encoding, chunking")
    deltas: list[JSONObject] = []
    for url, pipeline in ((ref, sides.to_ref(PIPELINE)), (ours, PIPELINE)):
        before = _counts(url)
        _exercise(url, f"{sides.index}-stats", pipeline)
        after = _counts(url)
        deltas.append({k: after[k] - before.get(k, 0) for k in after})
    if deltas[0] != deltas[1]:
        case.differences = [f"reference {deltas[0]} vs neuralpipe {deltas[1]}"]
    return case
