"""``sparse_vector`` fields through the proxy with an unmodified opensearch-py client.

Index creation, ``GET _mapping``, ``_bulk`` through a ``sparse_encoding`` pipeline writing token
ids (the real bert-uncased tokenizer model), ``neural_sparse`` with ``method_parameters`` by
model, analyzer and token ids, below and at the ``approximate_threshold``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch, TransportError

from processors.models.binding import model_store
from processors.proxy.app import ProxySettings, create_app
from processors.settings import Settings
from tests.integration.proxy_server import fake_models, serve

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
TOKENIZER = "bert-uncased-tokenizer"
PIPELINE = f"test-sparse-ids-{RUN}"
DOCS = {
    "1": "the wing produces lift at a high angle of attack",
    "2": "turbulent boundary layer over a flat plate",
    "3": "shock waves in a supersonic nozzle flow",
    "4": "propeller slipstream effects on wing lift",
}


def _body(threshold: int | None = None) -> dict[str, Any]:
    parameters: dict[str, Any] = {"n_postings": 10}
    if threshold is not None:
        parameters["approximate_threshold"] = threshold
    return {
        "settings": {"index.sparse": True, "number_of_shards": 1},
        "mappings": {"properties": {
            "text": {"type": "text"},
            "emb": {"type": "sparse_vector", "method": {"name": "seismic",
                                                        "parameters": parameters}},
        }},
    }  # fmt: skip


@pytest.fixture(scope="module")
def proxied(opensearch_url: str, client: Any, tmp_path_factory: Any) -> Iterator[OpenSearch]:
    root = tmp_path_factory.mktemp("proxy")
    (root / "pipelines").mkdir()
    store = model_store(Settings())
    tokenizer = store.get(TOKENIZER)

    def models(model_id: str) -> Any:
        return tokenizer if model_id == TOKENIZER else fake_models(model_id)

    settings = ProxySettings(
        upstream_url=opensearch_url, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=f".nptest-{RUN}-ml", pipeline_index=f".nptest-{RUN}-pipelines",
        cache_ttl=0.5,
    )  # fmt: skip
    app = create_app(settings, models=models)
    try:
        with serve(app) as url:
            yield OpenSearch(hosts=[url], timeout=60)
    finally:
        client.indices.delete(index=f".nptest-{RUN}-*", ignore=[404])


def _load(proxied: OpenSearch, index: str, threshold: int | None = None) -> None:
    proxied.indices.create(index=index, body=_body(threshold))
    proxied.ingest.put_pipeline(id=PIPELINE, body={"processors": [
        {"sparse_encoding": {"model_id": TOKENIZER, "field_map": {"text": "emb"}}}]})  # fmt: skip
    actions: list[Any] = []
    for doc_id, text in DOCS.items():
        actions += [{"index": {"_id": doc_id}}, {"text": text}]
    answer = proxied.bulk(index=index, body=actions, pipeline=PIPELINE, refresh=True)
    assert not answer["errors"], answer


def _ids(answer: Any) -> list[str]:
    return [hit["_id"] for hit in answer["hits"]["hits"]]


def test_mapping_ingest_and_exact_search(proxied: OpenSearch, client: Any, index_name: str) -> None:
    _load(proxied, index_name)
    shown = proxied.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert shown["properties"]["emb"] == {
        "type": "sparse_vector",
        "method": {"name": "seismic", "parameters": {"n_postings": 10}},
    }
    assert "_meta" not in shown
    node = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert node["properties"]["emb"]["type"] == "rank_features"
    stored = client.get(index=index_name, id="1")["_source"]["emb"]
    assert stored and all(key.isdigit() for key in stored)  # token ids, not words

    by_model = proxied.search(index=index_name, body={"query": {"neural_sparse": {"emb": {
        "query_text": "wing lift", "model_id": TOKENIZER,
        "method_parameters": {"k": 1, "top_n": 5, "heap_factor": 1.2}}}}})  # fmt: skip
    by_analyzer = proxied.search(index=index_name, body={"query": {"neural_sparse": {"emb": {
        "query_text": "wing lift"}}}})  # fmt: skip
    # below approximate_threshold the plugin answers exactly, every match (k does not cut)
    assert sorted(_ids(by_model)) == ["1", "4"]
    assert _ids(by_model) == _ids(by_analyzer)
    scores = [h["_score"] for h in by_model["hits"]["hits"]]
    assert scores == [h["_score"] for h in by_analyzer["hits"]["hits"]]

    with pytest.raises(TransportError) as caught:
        proxied.search(index=index_name, body={"query": {"neural_sparse": {"emb": {
            "query_tokens": {"wing": 1.0}}}}})  # fmt: skip
    assert caught.value.status_code == 400
    assert caught.value.info["error"]["reason"] == "Query tokens should be valid integer"
    with pytest.raises(TransportError) as caught:
        proxied.search(index=index_name, body={"query": {"neural_sparse": {"emb": {
            "query_text": "wing", "method_parameters": {"k": 0}}}}})  # fmt: skip
    assert caught.value.info["error"]["reason"] == "[neural_sparse] k must be a positive integer"


def test_at_the_threshold_k_bounds_the_exact_answer(proxied: OpenSearch, index_name: str) -> None:
    _load(proxied, index_name, threshold=0)
    tokens = proxied.search(index=index_name, body={"size": 0})  # warm: the index is there
    assert tokens["hits"]["total"]["value"] == 4
    query = {"query_text": "wing lift boundary layer", "model_id": TOKENIZER}
    every = proxied.search(index=index_name, body={"query": {"neural_sparse": {"emb": query}}})
    top2 = proxied.search(index=index_name, body={"query": {"neural_sparse": {"emb": {
        **query, "method_parameters": {"k": 2}}}}})  # fmt: skip
    assert len(_ids(every)) == 3  # the default k is 10
    assert _ids(top2) == _ids(every)[:2]
    assert [h["_score"] for h in top2["hits"]["hits"]] == [
        h["_score"] for h in every["hits"]["hits"]][:2]  # fmt: skip


def test_bad_mapping_is_the_plugins_error(proxied: OpenSearch, index_name: str) -> None:
    body = {"mappings": {"properties": {"emb": {"type": "sparse_vector",
                                                "method": {"name": "hnsw"}}}}}  # fmt: skip
    with pytest.raises(TransportError) as caught:
        proxied.indices.create(index=index_name, body=body)
    assert caught.value.status_code == 400
    assert caught.value.info["error"]["type"] == "mapper_parsing_exception"
    assert caught.value.info["error"]["reason"] == (
        "Failed to parse mapping [_doc]: [method.name]: hnsw is not supported"
    )
