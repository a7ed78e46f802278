"""Through the proxy with an unmodified opensearch-py client, on the real node:
``neural_sparse_two_phase_processor`` (a named pipeline, the window from the URL's ``size``)
and ``hybrid`` with ``collapse`` and with ``inner_hits`` of a ``nested`` sub-query."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch, TransportError

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
INDEX = f"two-phase-{RUN}"
PIPELINE = f"two-phase-{RUN}"
MAPPING = {
    "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {"properties": {
        "sparse": {"type": "rank_features"}, "text": {"type": "text"},
        "cat": {"type": "keyword"},
        "parts": {"type": "nested", "properties": {"name": {"type": "text"}}},
    }},
}  # fmt: skip
DOCS = {
    "1": ({"wing": 1.0}, "wing lift", "a", ["wing spar"]),
    "2": ({"lift": 1.0}, "lift", "b", []),
    "3": ({"wing": 0.5}, "wing", "a", ["flap"]),
    "4": ({"drag": 3.0, "shock": 3.0}, "drag shock", "c", ["wing tip"]),
    "5": ({"lift": 0.2, "drag": 2.0}, "lift drag", "c", []),
}
TOKENS = {"wing": 3.0, "lift": 2.5, "drag": 1.0, "shock": 0.3}
SPARSE = {"neural_sparse": {"sparse": {"query_tokens": TOKENS}}}
TWO_PHASE = {"request_processors": [{"neural_sparse_two_phase_processor": {
    "two_phase_parameter": {"prune_ratio": 0.5, "expansion_rate": 1.0}}}]}  # fmt: skip
FUSION = {"phase_results_processors": [{"normalization-processor": {
    "normalization": {"technique": "min_max"}, "combination": {"technique": "arithmetic_mean"}}}]}  # fmt: skip


@pytest.fixture(scope="module")
def proxied(fake_proxied: OpenSearch, client: Any) -> Iterator[OpenSearch]:
    proxy = fake_proxied
    try:
        proxy.indices.create(index=INDEX, body=MAPPING)
        actions: list[dict[str, Any]] = []
        for doc_id, (sparse, text, cat, parts) in DOCS.items():
            source = {"sparse": sparse, "text": text, "cat": cat,
                      "parts": [{"name": p} for p in parts]}  # fmt: skip
            actions += [{"index": {"_id": doc_id}}, source]
        proxy.bulk(index=INDEX, body=actions, refresh=True)
        proxy.transport.perform_request("PUT", f"/_search/pipeline/{PIPELINE}", body=TWO_PHASE)
        yield proxy
    finally:
        client.indices.delete(index=INDEX, ignore=[404])


def _hits(response: Any) -> list[tuple[str, float]]:
    return [(h["_id"], h["_score"]) for h in response["hits"]["hits"]]


def test_two_phase_rescores_the_window_with_the_low_tokens(proxied: OpenSearch) -> None:
    plain = _hits(proxied.search(index=INDEX, body={"query": SPARSE}, size=3))
    assert [i for i, _ in plain] == ["4", "1", "2"]  # 4 matches only low-weight tokens
    two_phase = proxied.search(
        index=INDEX, body={"query": SPARSE}, size=3, params={"search_pipeline": PIPELINE}
    )
    # phase 1 (wing, lift) finds 1, 2, 3, 5; the window of 3 (URL size x 1.0) adds drag/shock
    assert _hits(two_phase) == [("1", 3.0), ("2", 2.5), ("3", 1.5)]
    wide = proxied.search(
        index=INDEX, body={"query": SPARSE, "size": 4}, params={"search_pipeline": PIPELINE}
    )
    assert [i for i, _ in _hits(wide)] == ["1", "2", "5", "3"]  # 5 rescored: 0.5 + 2.0


def test_two_phase_options_are_checked_when_the_pipeline_is_put(proxied: OpenSearch) -> None:
    bad = {"request_processors": [{"neural_sparse_two_phase_processor": {
        "two_phase_parameter": {"prune_type": "top_k", "prune_ratio": 0.5}}}]}  # fmt: skip
    with pytest.raises(TransportError) as err:
        proxied.transport.perform_request("PUT", f"/_search/pipeline/{PIPELINE}-bad", body=bad)
    assert err.value.status_code == 400
    assert "Illegal prune_ratio 0.500000 for prune_type: top_k" in str(err.value.info)


def test_hybrid_collapse_keeps_the_best_hit_per_value_with_inner_hits(proxied: OpenSearch) -> None:
    nested = {"nested": {"path": "parts", "query": {"match": {"parts.name": "wing"}},
                         "inner_hits": {}}}  # fmt: skip
    body = {"query": {"hybrid": {"queries": [{"match": {"text": "wing lift"}}, nested]}},
            "collapse": {"field": "cat"}, "search_pipeline": FUSION}  # fmt: skip
    hits = proxied.search(index=INDEX, body=body)["hits"]["hits"]
    values = [h["fields"]["cat"][0] for h in hits]
    assert sorted(values) == ["a", "b", "c"]
    assert hits[0]["_id"] == "1" and hits[0]["inner_hits"]["parts"]["hits"]["total"]["value"] == 1
    assert all("parts" in h["inner_hits"] for h in hits)  # every hit, matched or not
