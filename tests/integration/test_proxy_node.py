"""The proxy in front of the real node, driven by an unmodified opensearch-py client.

The app runs under uvicorn in a thread on a free loopback port; its models are
``processors.testing.fakes`` (no weights load). Pipelines PUT through the proxy and the model
registry live in ``.nptest-*`` indices of this module, deleted at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opensearchpy import NotFoundError, OpenSearch, TransportError, helpers

from processors.opensearch.indices import load_mapping
from processors.proxy.app import ProxySettings, create_app
from processors.settings import Settings
from tests.integration.proxy_server import (
    ALLOW_MODEL_FILES,
    drop_proxy_indices,
    fake_models,
    free_port,
    registry_app,
    serve,
    tiny_model_body,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:8]
PIPELINE = f"test-embed-{RUN}"
HYBRID = f"test-hybrid-{RUN}"
EMBED = {
    "description": "dense + sparse",
    "processors": [
        {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}},
        {"sparse_encoding": {"model_id": "sparse", "field_map": {"text": "text_sparse"}}},
    ],
}
DOCS = {
    "1": "the wing produces lift at a high angle of attack",
    "2": "turbulent boundary layer over a flat plate",
    "3": "shock waves in a supersonic nozzle flow",
    "4": "propeller slipstream effects on wing lift",
}


@pytest.fixture(scope="module")
def proxy_url(
    opensearch_url: str, client: Any, tmp_path_factory: pytest.TempPathFactory, model_files: Path
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("proxy")
    search = root / "pipelines" / "search"
    search.mkdir(parents=True)
    enrich = {"request_processors": [{"neural_query_enricher": {"default_model_id": "dense"}}]}
    (search / f"enrich-{RUN}.yaml").write_text(yaml.safe_dump(enrich))
    prefix, store = f".nptest-{RUN}-ml", f".nptest-{RUN}-pipelines"
    app = registry_app(opensearch_url, root, prefix, store, model_files, cache_ttl=0.5)
    try:
        with serve(app) as url:
            yield url
    finally:
        drop_proxy_indices(client, prefix, store)


@pytest.fixture(scope="module")
def proxied(proxy_url: str) -> Any:
    """An unmodified opensearch-py client, pointed at the proxy."""
    return OpenSearch(hosts=[proxy_url], timeout=60)


@pytest.fixture(scope="module")
def corpus(proxied: Any, client: Any) -> Iterator[str]:
    """An index created, filled and searched through the proxy only."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    body = load_mapping(REPO / "mappings" / "combined.json")
    body["settings"]["index"]["search.default_pipeline"] = f"enrich-{RUN}"
    body["settings"]["index"]["default_pipeline"] = PIPELINE
    assert proxied.ingest.put_pipeline(id=PIPELINE, body=EMBED) == {"acknowledged": True}
    proxied.indices.create(index=name, body=body)
    actions = [{"_index": name, "_id": i, "_source": {"text": t}} for i, t in DOCS.items()]
    ok, errors = helpers.bulk(proxied, actions[:3], pipeline=PIPELINE, refresh=True)
    assert (ok, errors) == (3, [])
    proxied.index(index=name, id="4", body={"text": DOCS["4"]}, refresh=True)  # default pipeline
    yield name
    client.indices.delete(index=name, ignore=[404])
    client.ingest.delete_pipeline(id=PIPELINE, ignore=[404])


def _ids(response: Any) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def test_documents_reach_the_node_with_vectors_and_tokens(corpus: str, client: Any) -> None:
    meta = client.indices.get_mapping(index=corpus)[corpus]["mappings"]["_meta"]["neuralpipe"]
    assert meta["index.default_pipeline"] == PIPELINE
    assert (
        "default_pipeline"
        not in client.indices.get_settings(index=corpus)[corpus]["settings"]["index"]
    )
    for doc_id in DOCS:
        source = client.get(index=corpus, id=doc_id)["_source"]
        assert len(source["text_embedding"]) == 384
        assert (
            source["text_sparse"][
                "wing" if doc_id in "14" else "flow" if doc_id == "3" else "plate"
            ]
            > 0
        )


def test_neural_sparse_and_hybrid_searches(corpus: str, proxied: Any) -> None:
    neural = {
        "neural": {
            "text_embedding": {"query_text": "boundary layer plate", "model_id": "dense", "k": 4}
        }
    }
    assert _ids(proxied.search(index=corpus, body={"query": neural}))[0] == "2"
    enriched = {"neural": {"text_embedding": {"query_text": "supersonic nozzle shock", "k": 4}}}
    assert (
        _ids(proxied.search(index=corpus, body={"query": enriched}))[0] == "3"
    )  # default pipeline
    sparse = {
        "neural_sparse": {"text_sparse": {"query_text": "shock nozzle", "model_id": "sparse"}}
    }
    assert _ids(proxied.search(index=corpus, body={"query": sparse}))[0] == "3"
    fusion = {"phase_results_processors": [{"normalization-processor": {
        "normalization": {"technique": "min_max"}, "combination": {"technique": "arithmetic_mean"}}}]}  # fmt: skip
    assert proxied.search_pipeline.put(id=HYBRID, body=fusion) == {"acknowledged": True}
    hybrid = {"hybrid": {"queries": [{"match": {"text": "slipstream"}}, {
        "neural": {"text_embedding": {"query_text": "propeller wing", "model_id": "dense", "k": 4}}}]}}  # fmt: skip
    hits = proxied.search(index=corpus, body={"query": hybrid}, params={"search_pipeline": HYBRID})
    assert _ids(hits)[0] == "4" and hits["hits"]["max_score"] == pytest.approx(1.0)
    assert proxied.search_pipeline.get(id=HYBRID) == {HYBRID: fusion}
    proxied.search_pipeline.delete(id=HYBRID)
    with pytest.raises(NotFoundError):
        proxied.search_pipeline.get(id=HYBRID)
    responses = proxied.msearch(body=[{"index": corpus}, {"query": neural},
                                      {"index": corpus}, {"query": {"match": {"text": "nozzle"}}}])["responses"]  # fmt: skip
    assert [r["status"] for r in responses] == [200, 200]
    assert [_ids(r)[0] for r in responses] == ["2", "3"]


def test_a_failed_embedding_is_a_failed_item(corpus: str, proxied: Any, client: Any) -> None:
    answer = proxied.bulk(body=[{"index": {"_index": corpus, "_id": "bad"}}, {"text": 42},
                                {"index": {"_index": corpus, "_id": "5"}}, {"text": "fine"}],
                          params={"pipeline": PIPELINE, "refresh": "true"})  # fmt: skip
    assert answer["errors"] is True
    bad, good = (item["index"] for item in answer["items"])
    assert bad["status"] == 400 and bad["error"]["type"] == "illegal_argument_exception"
    assert good["status"] == 201 and good["result"] == "created"
    assert not client.exists(index=corpus, id="bad")
    client.delete(index=corpus, id="5", refresh=True)


def test_dropped_documents_answer_as_the_node_does(
    index_name: str, proxied: Any, client: Any
) -> None:
    drop = {"drop": {"if": "ctx.skip == true"}}
    node_side, ours = f"test-drop-node-{RUN}", f"test-drop-ours-{RUN}"
    proxied.ingest.put_pipeline(id=node_side, body={"processors": [drop]})
    proxied.ingest.put_pipeline(id=ours, body={"processors": [drop, *EMBED["processors"][:1]]})
    try:
        assert node_side in client.ingest.get_pipeline(id=node_side)  # core only: the node's own
        body = [{"index": {"_index": index_name, "_id": "1"}}, {"text": "a", "skip": True},
                {"create": {"_index": index_name}}, {"text": "b", "skip": True}]  # fmt: skip
        by_node = proxied.bulk(body=body, params={"pipeline": node_side})["items"]
        by_us = proxied.bulk(body=body, params={"pipeline": ours})["items"]
        assert by_us == by_node
        assert by_us[0]["index"]["result"] == "noop"
    finally:
        client.ingest.delete_pipeline(id=node_side, ignore=[404])
        proxied.ingest.delete_pipeline(id=ours)


def test_pipeline_apis_and_simulate(corpus: str, proxied: Any, client: Any) -> None:
    assert proxied.ingest.get_pipeline(id=PIPELINE) == {PIPELINE: EMBED}
    simulated = proxied.ingest.simulate(id=PIPELINE, body={"docs": [{"_source": {"text": "hi"}}]})
    assert len(simulated["docs"][0]["doc"]["_source"]["text_embedding"]) == 384
    with pytest.raises(TransportError) as bad:
        proxied.ingest.put_pipeline(id="bad", body={"processors": [{"text_embedding": {}}]})
    assert bad.value.status_code == 400 and bad.value.error == "parse_exception"
    with pytest.raises(NotFoundError):
        proxied.ingest.get_pipeline(id=f"missing-{RUN}")
    with pytest.raises(NotFoundError):
        proxied.ingest.delete_pipeline(id=f"missing-{RUN}")


def test_passthrough(corpus: str, proxied: Any) -> None:
    rows = proxied.cat.indices(index=corpus, format="json")
    assert [row["index"] for row in rows] == [corpus]
    assert proxied.info()["version"]["number"] == Settings().opensearch_version
    assert proxied.count(index=corpus)["count"] == 4


def test_ml_model_apis(corpus: str, proxied: Any, model_files: Path) -> None:
    ml = "/_plugins/_ml"
    perform = proxied.transport.perform_request
    assert proxied.cluster.put_settings(body={"transient": ALLOW_MODEL_FILES})["acknowledged"]
    group = perform("POST", f"{ml}/model_groups/_register", body={"name": f"g-{RUN}"})
    assert perform("GET", f"{ml}/model_groups/{group['model_group_id']}")["name"] == f"g-{RUN}"
    body = tiny_model_body(model_files, f"m-{RUN}", group["model_group_id"])
    task = perform("POST", f"{ml}/models/_register", body=body, params={"deploy": "true"})
    done = perform("GET", f"{ml}/tasks/{task['task_id']}")
    assert done["state"] == "COMPLETED", done
    model_id = done["model_id"]
    assert perform("GET", f"{ml}/models/{model_id}")["model_state"] == "DEPLOYED"
    predicted = perform("POST", f"{ml}/models/{model_id}/_predict", body={"text_docs": ["hi"]})
    assert predicted["inference_results"][0]["output"][0]["shape"] == [384]
    neural = {
        "neural": {
            "text_embedding": {"query_text": "boundary layer plate", "model_id": model_id, "k": 4}
        }
    }
    assert _ids(proxied.search(index=corpus, body={"query": neural}))[0] == "2"
    with pytest.raises(NotFoundError) as missing:
        perform("GET", f"{ml}/models/nope-{RUN}")
    assert missing.value.info["error"]["reason"] == "Failed to find model"
    perform("POST", f"{ml}/models/{model_id}/_undeploy")
    assert perform("DELETE", f"{ml}/models/{model_id}")["result"] == "deleted"


def test_upstream_down_is_a_502(tmp_path: Path) -> None:
    settings = ProxySettings(upstream_url=f"http://127.0.0.1:{free_port()}", pipelines_dir=None,
                             home=tmp_path, warm_models=False)  # fmt: skip
    with serve(create_app(settings, models=fake_models, with_registry=False)) as url:
        down = OpenSearch(hosts=[url], max_retries=0)
        for call in (lambda: down.cat.indices(), lambda: down.search(index="x", body={
                "query": {"neural": {"v": {"query_text": "a", "model_id": "dense", "k": 1}}}})):  # fmt: skip
            with pytest.raises(TransportError) as failed:
                call()
            assert failed.value.status_code == 502
            assert failed.value.info["error"]["type"] == "connect_exception"


def test_settings_api_keeps_pipeline_settings_in_meta(
    index_name: str, proxied: Any, client: Any
) -> None:
    proxied.indices.create(index=index_name, body=load_mapping(REPO / "mappings" / "combined.json"))
    neural = {"query": {"neural": {"text_embedding": {"query_text": "wing", "k": 1}}}}
    with pytest.raises(TransportError):  # no model_id, no default pipeline yet
        proxied.search(index=index_name, body=neural)
    settings = {"index.search.default_pipeline": f"enrich-{RUN}", "index.refresh_interval": "2s"}
    assert proxied.indices.put_settings(index=index_name, body=settings)["acknowledged"]
    mapping = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["_meta"]["neuralpipe"] == {
        "index.search.default_pipeline": f"enrich-{RUN}",
        "dotted_mirror": {"text_sparse": "text_sparse__np_dotted"},  # mapped at creation
        "dotted_mirror_recovery_source_off": True,  # no second copy of each document
    }
    node_settings = client.indices.get_settings(index=index_name)[index_name]["settings"]["index"]
    assert node_settings["refresh_interval"] == "2s" and "search" not in node_settings
    assert proxied.search(index=index_name, body=neural)["hits"]["total"]["value"] == 0


def test_concurrent_neural_queries(corpus: str, proxied: Any) -> None:
    """A bounded load on loopback: 8 clients x 8 neural queries, every answer right."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(number: int) -> tuple[str, str]:
        doc_id = str(number % 4 + 1)
        text = f"{DOCS[doc_id]} {'again ' * (number // 4)}"  # distinct texts: no cache hits
        body = {
            "query": {
                "neural": {"text_embedding": {"query_text": text, "model_id": "dense", "k": 2}}
            }
        }
        return doc_id, _ids(proxied.search(index=corpus, body=body))[0]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(64)))
    assert all(expected == top for expected, top in answers)
    assert time.monotonic() - started < 60


def test_rerank_through_a_stored_search_pipeline(corpus: str, proxied: Any) -> None:
    rerank = {"response_processors": [{"rerank": {"ml_opensearch": {"model_id": "cross"},
                                                  "context": {"document_fields": ["text"]}}}]}  # fmt: skip
    pipeline = f"test-rerank-{RUN}"
    proxied.search_pipeline.put(id=pipeline, body=rerank)
    try:
        body = {"query": {"match": {"text": "wing"}},
                "ext": {"rerank": {"query_context": {"query_text": "propeller slipstream"}}}}  # fmt: skip
        plain = proxied.search(index=corpus, body={"query": body["query"]})
        assert set(_ids(plain)) == {"1", "4"}
        reranked = proxied.search(index=corpus, body=body, params={"search_pipeline": pipeline})
        assert _ids(reranked) == ["4", "1"]
        assert reranked["hits"]["hits"][0]["_score"] == pytest.approx(1.5)
    finally:
        proxied.search_pipeline.delete(id=pipeline)
