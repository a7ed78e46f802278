"""``GET /_plugins/_neural/stats`` through the proxy with an unmodified opensearch-py client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch, TransportError

from processors.proxy.app import ProxySettings, create_app
from tests.integration.proxy_server import fake_models, serve

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
STATS = "/_plugins/_neural/stats"
ENABLED = "plugins.neural_search.stats_enabled"


@pytest.fixture(scope="module")
def proxied(opensearch_url: str, client: Any, tmp_path_factory: Any) -> Iterator[OpenSearch]:
    root = tmp_path_factory.mktemp("proxy")
    (root / "pipelines").mkdir()
    settings = ProxySettings(
        upstream_url=opensearch_url, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=f".nptest-{RUN}-ml", pipeline_index=f".nptest-{RUN}-pipelines",
        cache_ttl=0.5,
    )  # fmt: skip
    app = create_app(settings, models=fake_models)
    try:
        with serve(app) as url:
            proxy = OpenSearch(hosts=[url], timeout=60)
            yield proxy
            proxy.cluster.put_settings(body={"persistent": {ENABLED: None}})
    finally:
        client.indices.delete(index=f".nptest-{RUN}-*", ignore=[404])


def _count(proxied: OpenSearch, name: str) -> int:
    body = proxied.transport.perform_request(
        "GET", f"{STATS}/{name}", params={"flat_stat_paths": "true"}
    )
    return int(next(iter(body["all_nodes"].values())))


def test_stats_are_off_until_enabled_then_count_queries_and_processors(
    proxied: OpenSearch, index_name: str
) -> None:
    with pytest.raises(TransportError) as caught:
        proxied.transport.perform_request("GET", STATS)
    assert caught.value.status_code == 403
    proxied.cluster.put_settings(body={"persistent": {ENABLED: True}})
    proxied.indices.create(index=index_name, body={"mappings": {"properties": {
        "s": {"type": "rank_features"}}}})  # fmt: skip
    before = _count(proxied, "neural_sparse_query_requests")
    seismic = _count(proxied, "seismic_query_requests")
    encoded = _count(proxied, "sparse_encoding_executions")
    proxied.search(index=index_name, body={"query": {"neural_sparse": {"s": {
        "query_tokens": {"a": 1.0}, "method_parameters": {"k": 2}}}}})  # fmt: skip
    pipeline = {"processors": [{"sparse_encoding": {"model_id": "sparse",
                                                    "field_map": {"t": "s"}}}]}  # fmt: skip
    proxied.ingest.simulate(body={"pipeline": pipeline, "docs": [
        {"_source": {"t": "a b"}}, {"_source": {"t": "c"}}]})  # fmt: skip
    assert _count(proxied, "neural_sparse_query_requests") == before + 1
    assert _count(proxied, "seismic_query_requests") == seismic + 1
    assert _count(proxied, "sparse_encoding_executions") == encoded + 2

    full = proxied.transport.perform_request("GET", STATS, params={"include_metadata": "true"})
    assert full["info"]["cluster_version"]["stat_type"] == "info_string"
    (node,) = full["nodes"].values()
    counter = node["query"]["neural_sparse"]["neural_sparse_query_requests"]
    assert counter["stat_type"] == "timestamped_event_counter"
    assert counter["trailing_interval_value"] >= 1
    assert counter["minutes_since_last_event"] == 0
    with pytest.raises(TransportError) as caught:
        proxied.transport.perform_request("GET", f"{STATS}/nope")
    assert caught.value.info["error"]["reason"] == (
        f"request [{STATS}/nope] contains unrecognized stats: [nope]"
    )
