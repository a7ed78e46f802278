"""The 3.x search features through the proxy with an unmodified opensearch-py client, on the real
node: hybrid ``filter``, ``min_score``, min_max bounds, RRF weights, ``explain`` with
``hybrid_score_explanation``, the refusal of ``hybrid`` inside ``function_score``, ``ext.mmr``
(the node's k-NN plugin), and an asymmetric model (real all-MiniLM-L6-v2 registered with
``query_prefix`` / ``passage_prefix``) on ``_predict``, ingest and ``neural``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from opensearchpy import OpenSearch, TransportError

from processors.proxy.app import ProxySettings, create_app
from processors.settings import Settings
from tests.integration.proxy_server import serve

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:8]
INDEX = f"search3-{RUN}"
EMBED = f"search3-embed-{RUN}"
TEXTS = [
    ("1", "the wing produces lift", 1),
    ("2", "a shock wave in a nozzle", 2),
    ("3", "boundary layer on a wing", 3),
    ("4", "lift and drag of a swept wing", 4),
    ("5", "heat flux in a nozzle", 5),
]
MAPPING = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {"properties": {
        "text": {"type": "text"}, "n": {"type": "integer"},
        "emb": {"type": "knn_vector", "dimension": 384,
                "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}},
    }},
}  # fmt: skip
MATCH = {"match": {"text": "wing lift"}}
NEURAL = {"neural": {"emb": {"query_text": "wing lift", "model_id": "dense", "k": 5}}}


def _fusion(**normalization: Any) -> dict[str, Any]:
    return {"normalization-processor": {"normalization": {"technique": "min_max", **normalization},
                                        "combination": {"technique": "arithmetic_mean"}}}  # fmt: skip


@pytest.fixture(scope="module")
def proxied(fake_proxied: OpenSearch, client: Any) -> Iterator[OpenSearch]:
    proxy = fake_proxied
    try:
        proxy.ingest.put_pipeline(id=EMBED, body={"processors": [{"text_embedding": {
            "model_id": "dense", "field_map": {"text": "emb"}}}]})  # fmt: skip
        proxy.indices.create(index=INDEX, body=MAPPING)
        actions: list[dict[str, Any]] = []
        for doc_id, text, n in TEXTS:
            actions += [{"index": {"_id": doc_id}}, {"text": text, "n": n}]
        proxy.bulk(index=INDEX, body=actions, pipeline=EMBED, refresh=True)
        yield proxy
    finally:
        client.indices.delete(index=INDEX, ignore=[404])
        client.cluster.put_settings(body={"persistent": {
            "cluster.search.enabled_system_generated_factories": None}})  # fmt: skip


def _search(proxy: OpenSearch, body: dict[str, Any], *steps: dict[str, Any]) -> Any:
    phase = [s for s in steps if "normalization-processor" in s or "score-ranker-processor" in s]
    response = [s for s in steps if s not in phase]
    pipeline = {"phase_results_processors": phase, "response_processors": response}
    return proxy.search(index=INDEX, body={**body, "search_pipeline": pipeline})


def test_filter_min_score_and_bounds(proxied: OpenSearch) -> None:
    hybrid = {"queries": [MATCH, NEURAL], "filter": {"range": {"n": {"gte": 3}}}}
    ids = [h["_id"] for h in _search(proxied, {"query": {"hybrid": hybrid}}, _fusion())
           ["hits"]["hits"]]  # fmt: skip
    assert ids and set(ids) <= {"3", "4", "5"}
    everything = _search(proxied, {"query": {"hybrid": {"queries": [MATCH, NEURAL]}}}, _fusion())
    kept = _search(proxied, {"query": {"hybrid": {"queries": [MATCH, NEURAL]}}, "min_score": 0.5},
                   _fusion())  # fmt: skip
    scores = [h["_score"] for h in everything["hits"]["hits"]]
    assert [h["_score"] for h in kept["hits"]["hits"]] == [s for s in scores if s >= 0.5]
    assert kept["hits"]["total"] == {"value": len(kept["hits"]["hits"]), "relation": "eq"}
    bounded = _search(
        proxied,
        {"query": {"hybrid": {"queries": [MATCH, NEURAL]}}},
        _fusion(
            parameters={"lower_bounds": [{"mode": "apply", "min_score": 0}, {"mode": "ignore"}]}
        ),
    )
    assert [h["_score"] for h in bounded["hits"]["hits"]] != scores  # match scores now start at 0
    with pytest.raises(TransportError) as err:
        _search(proxied, {"query": {"hybrid": {"queries": [MATCH]}}},
                _fusion(parameters={"lower_bounds": [{"mode": "cut"}]}))  # fmt: skip
    assert err.value.status_code == 400
    assert "invalid mode: cut, valid values are: apply, clip, ignore" in str(err.value.info)


def test_explain_with_the_response_processor(proxied: OpenSearch) -> None:
    body = {"query": {"hybrid": {"queries": [MATCH, NEURAL]}}, "explain": True, "size": 3}
    hits = _search(proxied, body, _fusion(), {"hybrid_score_explanation": {}})["hits"]["hits"]
    top = hits[0]["_explanation"]
    assert top["description"] == "arithmetic_mean combination of:"
    assert top["value"] == pytest.approx(hits[0]["_score"])
    assert {d["description"] for d in top["details"]} == {"min_max normalization of:"}
    assert all(len(d["details"]) == 1 for d in top["details"])
    assert "_shard" in hits[0] and "_node" in hits[0]
    raw = _search(proxied, body, _fusion())["hits"]["hits"][0]["_explanation"]
    assert raw["description"] == "combined score of:" and len(raw["details"]) == 2


def test_hybrid_inside_function_score_is_refused(proxied: OpenSearch) -> None:
    body = {"query": {"function_score": {"query": {"hybrid": {"queries": [MATCH]}}, "weight": 2}}}
    with pytest.raises(TransportError) as err:
        _search(proxied, body, _fusion())
    assert err.value.status_code == 400
    assert "hybrid query must be a top level query" in str(err.value.info)


def test_mmr_reranks_on_the_node(proxied: OpenSearch, client: Any) -> None:
    client.cluster.put_settings(body={"persistent": {
        "cluster.search.enabled_system_generated_factories": ["*"]}})  # fmt: skip
    plain = proxied.search(index=INDEX, body={"size": 3, "query": NEURAL})
    diverse = proxied.search(index=INDEX, body={"size": 3, "query": NEURAL,
                                                "ext": {"mmr": {"candidates": 5, "diversity": 1.0}}})  # fmt: skip
    assert len(diverse["hits"]["hits"]) == 3
    assert [h["_id"] for h in diverse["hits"]["hits"]] != [h["_id"] for h in plain["hits"]["hits"]]


# -- an asymmetric model, registered through the proxy ----------------------------------------


@pytest.fixture(scope="module")
def registry_proxy(opensearch_url: str, client: Any) -> Iterator[OpenSearch]:
    store = f".nptest-{RUN}-asym-pipelines"
    settings = ProxySettings(upstream_url=opensearch_url, pipelines_dir=None, home=Settings().home,
                             ml_index_prefix=f".nptest-{RUN}-asym-ml", pipeline_index=store,
                             cache_ttl=0.2, warm_models=False, embedded_node=True)  # fmt: skip
    try:
        with serve(create_app(settings)) as url:
            yield OpenSearch(hosts=[url], timeout=300)
    finally:
        for name in (store, f".nptest-{RUN}-asym-ml*", f"asym-{RUN}"):
            client.indices.delete(index=name, ignore=[404])


def _register_asymmetric(proxy: OpenSearch) -> str:
    body = yaml.safe_load(
        (REPO / "pipelines" / "models" / "all-minilm-l6-v2-onnx.yaml").read_text()
    )
    body["name"] = f"asym-{RUN}"
    body["model_config"].update(query_prefix="query: ", passage_prefix="passage: ")
    proxy.cluster.put_settings(body={"persistent": {
        "plugins.ml_commons.allow_registering_model_via_url": True,
        "plugins.ml_commons.allow_registering_model_via_local_file": True}})  # fmt: skip
    task = proxy.transport.perform_request("POST", "/_plugins/_ml/models/_register",
                                           params={"deploy": "true"}, body=body)  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = proxy.transport.perform_request("GET", f"/_plugins/_ml/tasks/{task['task_id']}")
        if state["state"] == "COMPLETED" and state.get("model_id"):
            return str(state["model_id"])
        assert state["state"] not in ("FAILED", "COMPLETED_WITH_ERROR"), state
        time.sleep(0.5)
    raise AssertionError(f"register task {task} not done")


def _vector(proxy: OpenSearch, model_id: str, text: str, side: str | None) -> np.ndarray:
    body: dict[str, Any] = {"text_docs": [text]}
    if side:
        body["parameters"] = {"content_type": side}
    answer = proxy.transport.perform_request(
        "POST", f"/_plugins/_ml/models/{model_id}/_predict", body=body
    )
    return np.asarray(answer["inference_results"][0]["output"][0]["data"], dtype=np.float32)


def test_asymmetric_model_query_and_passage_sides(registry_proxy: OpenSearch) -> None:
    proxy = registry_proxy
    model_id = _register_asymmetric(proxy)
    text = "the wing produces lift"
    query, passage = (_vector(proxy, model_id, text, side) for side in ("query", "passage"))
    assert float(query @ passage) < 0.999  # the prefixes make the two sides differ
    with pytest.raises(TransportError) as err:
        _vector(proxy, model_id, text, None)
    assert err.value.status_code == 400 and "asymmetric" in str(err.value.info)
    index = f"asym-{RUN}"
    proxy.indices.create(index=index, body=MAPPING)
    pipeline = {"processors": [{"text_embedding": {"model_id": model_id,
                                                   "field_map": {"text": "emb"}}}]}  # fmt: skip
    proxy.ingest.put_pipeline(id=f"asym-{RUN}", body=pipeline)
    proxy.index(index=index, id="1", body={"text": text}, pipeline=f"asym-{RUN}", refresh=True)
    stored = np.asarray(proxy.get(index=index, id="1")["_source"]["emb"], dtype=np.float32)
    assert np.allclose(stored, passage, atol=1e-5)  # ingest embeds the passage side
    hit = proxy.search(index=index, body={"query": {"neural": {"emb": {
        "query_text": text, "model_id": model_id, "k": 1}}}})["hits"]["hits"][0]  # fmt: skip
    cosine = float(query @ passage / (np.linalg.norm(query) * np.linalg.norm(passage)))
    assert hit["_score"] == pytest.approx((1 + cosine) / 2, abs=1e-5)  # neural: the query side
