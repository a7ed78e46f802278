"""The documentation's tutorials, replayed through the proxy with opensearch-py.

Each test is one page's request sequence, in the page's order and with the page's request
bodies (settings first; model names, dimensions and texts are ours: the tiny models built at
test time stand in for the pretrained ones, which are registered from a local file since no
model hub is reachable). Every step asserts the shape the page shows for its answer.

Pages: semantic search / neural search tutorial (dense, then hybrid with a normalization
search pipeline, then the index's default search pipeline), neural sparse search with a
bi-encoder and doc-only with a tokenizer, reranking with a cross-encoder and ``by_field``, text
chunking with a nested vector field.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from processors.models.build.builder import BuildResult

pytestmark = pytest.mark.integration
ML = "/_plugins/_ml"
SETTINGS = {
    "persistent": {
        "plugins": {
            "ml_commons": {
                "only_run_on_ml_node": "false",
                "model_access_control_enabled": "true",
                "native_memory_threshold": "99",
                "allow_registering_model_via_url": "true",
                "allow_registering_model_via_local_file": "true",
            }
        }
    }
}
LUCENE = {"engine": "lucene", "space_type": "l2", "name": "hnsw"}
"""The page's nested field has no method (the k-NN default engine, faiss, whose native
libraries the local node lacks: the node would exit at the first flush)."""
TEXTS = [
    "a quick brown fox jumps over the lazy dog",
    "the air flow over the wing at high speed",
    "a shock wave in the boundary layer",
    "paris is the capital city of france",
    "rain on the river at night",
]


def perform(client: OpenSearch, method: str, path: str, body: Any = None, **params: str) -> Any:
    return client.transport.perform_request(method, path, body=body, params=params or None)


def wait_task(client: OpenSearch, task_id: str) -> dict[str, Any]:
    """``GET tasks/<id>`` until it is done, as the pages say to do."""
    deadline = time.monotonic() + 120
    while True:
        task = perform(client, "GET", f"{ML}/tasks/{task_id}")
        if task["state"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            assert task["state"] == "COMPLETED", task
            return dict(task)
        time.sleep(0.2)


def register_and_deploy(client: OpenSearch, model: BuildResult, group_id: str) -> str:
    """Model group given; ``_register`` → task → model id; ``_deploy`` → task; model DEPLOYED."""
    body = {**model.registration.to_body(), "model_group_id": group_id}
    answer = perform(client, "POST", f"{ML}/models/_register", body)
    assert set(answer) == {"task_id", "status"} and answer["status"] == "CREATED"
    task = wait_task(client, answer["task_id"])
    assert task["task_type"] == "REGISTER_MODEL" and task["model_id"]
    model_id = str(task["model_id"])
    deployed = perform(client, "POST", f"{ML}/models/{model_id}/_deploy")
    assert deployed["task_type"] == "DEPLOY_MODEL" and deployed["status"] == "CREATED"
    wait_task(client, deployed["task_id"])
    info = perform(client, "GET", f"{ML}/models/{model_id}")
    assert info["model_state"] == "DEPLOYED" and info["algorithm"] == body["function_name"]
    return model_id


@pytest.fixture(scope="module")
def group_id(proxied: OpenSearch) -> str:
    """Step 0 of every page: the cluster settings, then a model group."""
    answer = perform(proxied, "PUT", "/_cluster/settings", SETTINGS)
    assert answer["acknowledged"] is True
    assert answer["persistent"]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"
    got = perform(proxied, "GET", "/_cluster/settings")
    assert got["persistent"]["plugins"]["ml_commons"]["native_memory_threshold"] == "99"
    group = perform(
        proxied,
        "POST",
        f"{ML}/model_groups/_register",
        {"name": "NLP_model_group", "description": "A model group for NLP models"},
    )
    assert group["status"] == "CREATED"
    return str(group["model_group_id"])


@pytest.fixture
def fresh(client: OpenSearch) -> Iterator[Callable[[str], str]]:
    """``fresh(name)``: an index name the page uses, deleted before and after the test."""
    names: list[str] = []

    def claim(name: str) -> str:
        client.indices.delete(index=name, ignore=[404])
        names.append(name)
        return name

    yield claim
    for name in names:
        client.indices.delete(index=name, ignore=[404])


def _hits(answer: dict[str, Any]) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = answer["hits"]["hits"]
    return hits


def test_semantic_and_hybrid_search(
    proxied: OpenSearch,
    group_id: str,
    tiny_models: dict[str, BuildResult],
    fresh: Callable[[str], str],
) -> None:
    model_id = register_and_deploy(proxied, tiny_models["embed-onnx"], group_id)
    pipeline = {
        "description": "An NLP ingest pipeline",
        "processors": [
            {"text_embedding": {"model_id": model_id, "field_map": {"text": "passage_embedding"}}}
        ],
    }
    assert proxied.ingest.put_pipeline(id="nlp-ingest-pipeline", body=pipeline) == {
        "acknowledged": True
    }
    got = proxied.ingest.get_pipeline(id="nlp-ingest-pipeline")
    assert got["nlp-ingest-pipeline"]["processors"] == pipeline["processors"]
    index = fresh("my-nlp-index")
    body = {
        "settings": {"index.knn": True, "default_pipeline": "nlp-ingest-pipeline"},
        "mappings": {"properties": {
            "id": {"type": "text"},
            "passage_embedding": {"type": "knn_vector", "dimension": 32, "method": {
                "engine": "lucene", "space_type": "l2", "name": "hnsw", "parameters": {}}},
            "text": {"type": "text"}}},
    }  # fmt: skip
    created = proxied.indices.create(index=index, body=body)
    assert created == {"acknowledged": True, "shards_acknowledged": True, "index": index}
    shown = proxied.indices.get_settings(index=index)[index]["settings"]["index"]
    assert shown["default_pipeline"] == "nlp-ingest-pipeline" and shown["knn"] == "true"
    for number, text in enumerate(TEXTS, 1):
        answer = proxied.index(
            index=index, id=str(number), body={"text": text, "id": f"{number}.jpg"}
        )
        assert answer["result"] == "created" and answer["_id"] == str(number)
    stored = proxied.get(index=index, id="1")["_source"]
    assert stored["text"] == TEXTS[0] and len(stored["passage_embedding"]) == 32
    proxied.indices.refresh(index=index)
    neural = {"neural": {"passage_embedding": {"query_text": "wild west", "model_id": model_id,
                                               "k": 5}}}  # fmt: skip
    answer = proxied.search(index=index, body={"_source": {"excludes": ["passage_embedding"]},
                                              "query": neural})  # fmt: skip
    assert answer["hits"]["total"]["value"] == 5
    assert all(set(hit["_source"]) == {"text", "id"} for hit in _hits(answer))
    search_pipeline = {
        "description": "Post processor for hybrid search",
        "phase_results_processors": [{"normalization-processor": {
            "normalization": {"technique": "min_max"},
            "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}},
        }}],
    }  # fmt: skip
    assert perform(proxied, "PUT", "/_search/pipeline/nlp-search-pipeline", search_pipeline) == {
        "acknowledged": True
    }
    hybrid = {"_source": {"exclude": ["passage_embedding"]},
              "query": {"hybrid": {"queries": [{"match": {"text": {"query": "wing air flow"}}},
                                               neural]}}}  # fmt: skip
    answer = proxied.search(
        index=index, body=hybrid, params={"search_pipeline": "nlp-search-pipeline"}
    )
    hits = _hits(answer)
    assert hits and hits[0]["_score"] == pytest.approx(0.7, abs=0.3 + 1e-6)
    assert [h["_score"] for h in hits] == sorted((h["_score"] for h in hits), reverse=True)
    settings = {"index.search.default_pipeline": "nlp-search-pipeline"}
    assert proxied.indices.put_settings(index=index, body=settings) == {"acknowledged": True}
    shown = proxied.indices.get_settings(index=index)[index]["settings"]["index"]
    assert shown["search"]["default_pipeline"] == "nlp-search-pipeline"
    assert _hits(proxied.search(index=index, body=hybrid)) == hits


def test_neural_sparse_bi_encoder_and_doc_only(
    proxied: OpenSearch,
    group_id: str,
    tiny_models: dict[str, BuildResult],
    fresh: Callable[[str], str],
) -> None:
    sparse_id = register_and_deploy(proxied, tiny_models["sparse-onnx"], group_id)
    predicted = perform(proxied, "POST", f"{ML}/_predict/sparse_encoding/{sparse_id}",
                        {"text_docs": ["hello world", "a quick fox"]})  # fmt: skip
    outputs = predicted["inference_results"]
    assert len(outputs) == 2
    weights = outputs[0]["output"][0]["dataAsMap"]["response"][0]
    assert weights and all(isinstance(v, float) for v in weights.values())
    pipeline = {"description": "An sparse encoding ingest pipeline", "processors": [
        {"sparse_encoding": {"model_id": sparse_id,
                             "field_map": {"passage_text": "passage_embedding"}}}]}  # fmt: skip
    assert proxied.ingest.put_pipeline(id="nlp-ingest-pipeline-sparse", body=pipeline)[
        "acknowledged"
    ]
    index = fresh("my-nlp-index-sparse")
    proxied.indices.create(index=index, body={
        "settings": {"default_pipeline": "nlp-ingest-pipeline-sparse"},
        "mappings": {"properties": {"id": {"type": "text"},
                                    "passage_embedding": {"type": "rank_features"},
                                    "passage_text": {"type": "text"}}},
    })  # fmt: skip
    for number, text in enumerate(TEXTS, 1):
        proxied.index(index=index, id=str(number), body={"passage_text": text, "id": str(number)})
    proxied.indices.refresh(index=index)
    stored = proxied.get(index=index, id="2")["_source"]["passage_embedding"]
    assert stored and all(isinstance(v, float) for v in stored.values())
    query = {"query": {"neural_sparse": {"passage_embedding": {
        "query_text": "wing air flow", "model_id": sparse_id}}}}  # fmt: skip
    hits = _hits(proxied.search(index=index, body=query))
    assert hits and hits[0]["_source"]["passage_text"] in TEXTS
    # doc-only: the documents by the sparse encoder, the query by a tokenizer model
    tokenizer_id = register_and_deploy(proxied, tiny_models["tokenize"], group_id)
    doc_only = {"query": {"neural_sparse": {"passage_embedding": {
        "query_text": "wing air flow", "model_id": tokenizer_id}}}}  # fmt: skip
    hits = _hits(proxied.search(index=index, body=doc_only))
    assert hits and all(hit["_score"] > 0 for hit in hits)
    counted = proxied.count(index=index, body=doc_only)
    assert counted["count"] == len(hits)


def test_pretrained_models_registered_by_name_offline(
    proxied: OpenSearch, tiny_models: dict[str, BuildResult]
) -> None:
    """The pages register pretrained models by name (``name``, ``version``, ``model_format``)
    and ml-commons downloads them. Offline, the doc-only tokenizer's data ships in the package,
    and any other catalog zip is read from ``<model files dir>/pretrained/`` (where ``neuralpipe
    model fetch`` puts it; here the tiny cross-encoder stands in for ms-marco-MiniLM)."""
    tokenizer = {"name": "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1",
                 "version": "1.0.1", "model_format": "TORCH_SCRIPT"}  # fmt: skip
    answer = perform(proxied, "POST", f"{ML}/models/_register", tokenizer, deploy="true")
    assert answer["status"] == "CREATED"
    tokenizer_id = str(wait_task(proxied, answer["task_id"])["model_id"])
    info = perform(proxied, "GET", f"{ML}/models/{tokenizer_id}")
    assert info["model_state"] == "DEPLOYED" and info["algorithm"] == "SPARSE_TOKENIZE"
    predicted = perform(proxied, "POST", f"{ML}/models/{tokenizer_id}/_predict",
                        {"text_docs": ["hello world"]})  # fmt: skip
    weights = predicted["inference_results"][0]["output"][0]["dataAsMap"]["response"][0]
    assert set(weights) == {"hello", "world"} and weights["hello"] > weights["world"] > 0

    pretrained = tiny_models["embed-onnx"].zip_path.parent / "pretrained"
    pretrained.mkdir(exist_ok=True)
    name = "cross-encoders_ms-marco-MiniLM-L-6-v2-1.0.2-torch_script.zip"
    (pretrained / name).write_bytes(tiny_models["cross-torchscript"].zip_path.read_bytes())
    cross = {"name": "huggingface/cross-encoders/ms-marco-MiniLM-L-6-v2", "version": "1.0.2",
             "model_format": "TORCH_SCRIPT"}  # fmt: skip
    answer = perform(proxied, "POST", f"{ML}/models/_register", cross, deploy="true")
    model_id = str(wait_task(proxied, answer["task_id"])["model_id"])
    info = perform(proxied, "GET", f"{ML}/models/{model_id}")
    assert info["name"] == cross["name"] and info["model_state"] == "DEPLOYED"
    assert info["algorithm"] == "TEXT_SIMILARITY"
    scored = perform(proxied, "POST", f"{ML}/models/{model_id}/_predict",
                     {"query_text": "today is sunny", "text_docs": ["how are you", "it is day"]})  # fmt: skip
    assert [r["output"][0]["name"] for r in scored["inference_results"]] == ["similarity"] * 2


def test_reranking_cross_encoder_and_by_field(
    proxied: OpenSearch,
    group_id: str,
    tiny_models: dict[str, BuildResult],
    fresh: Callable[[str], str],
) -> None:
    cross_id = register_and_deploy(proxied, tiny_models["cross-onnx"], group_id)
    predicted = perform(proxied, "POST", f"{ML}/models/{cross_id}/_predict", {
        "query_text": "today is sunny", "text_docs": ["how are you", "today is sunny",
                                                      "today is july fifth"]})  # fmt: skip
    results = predicted["inference_results"]
    assert len(results) == 3
    assert all(r["output"][0]["name"] == "similarity" and len(r["output"][0]["data"]) == 1
               for r in results)  # fmt: skip
    index = fresh("my-index")
    docs = [{"passage_text": text, "reviews": {"stars": stars}}
            for text, stars in zip(TEXTS, (3.0, 5.0, 1.0, 4.5, 2.0), strict=True)]  # fmt: skip
    actions = "".join(f'{{"index": {{"_index": "{index}", "_id": "{n}"}}}}\n' + _json(doc) + "\n"
                      for n, doc in enumerate(docs, 1))  # fmt: skip
    bulk = proxied.bulk(body=actions, refresh=True)
    assert bulk["errors"] is False and len(bulk["items"]) == 5
    rerank = {"description": "Pipeline for reranking with a cross-encoder",
              "response_processors": [{"rerank": {"ml_opensearch": {"model_id": cross_id},
                                                  "context": {"document_fields": ["passage_text"]}}}]}  # fmt: skip
    assert perform(proxied, "PUT", "/_search/pipeline/my_pipeline", rerank)["acknowledged"]
    query = {"query": {"match": {"passage_text": "the wing"}},
             "ext": {"rerank": {"query_context": {"query_text": "the wing"}}}}  # fmt: skip
    hits = _hits(proxied.search(index=index, body=query, params={"search_pipeline": "my_pipeline"}))
    assert hits and [h["_score"] for h in hits] == sorted((h["_score"] for h in hits), reverse=True)
    by_field = {"response_processors": [{"rerank": {"by_field": {
        "target_field": "reviews.stars", "keep_previous_score": True}}}]}  # fmt: skip
    assert perform(proxied, "PUT", "/_search/pipeline/rerank_byfield_pipeline", by_field)[
        "acknowledged"
    ]
    answer = proxied.search(index=index, body={"query": {"match_all": {}}},
                            params={"search_pipeline": "rerank_byfield_pipeline"})  # fmt: skip
    stars = [hit["_score"] for hit in _hits(answer)]
    assert stars == [5.0, 4.5, 3.0, 2.0, 1.0]
    assert all("previous_score" in hit["_source"] for hit in _hits(answer))


def test_text_chunking(
    proxied: OpenSearch,
    group_id: str,
    tiny_models: dict[str, BuildResult],
    fresh: Callable[[str], str],
) -> None:
    model_id = register_and_deploy(proxied, tiny_models["embed-torchscript"], group_id)
    pipeline = {"processors": [
        {"text_chunking": {"algorithm": {"fixed_token_length": {
            "token_limit": 10, "overlap_rate": 0.2, "tokenizer": "standard"}},
            "field_map": {"passage_text": "passage_chunk"}}},
        {"text_embedding": {"model_id": model_id,
                            "field_map": {"passage_chunk": "passage_chunk_embedding"}}},
    ]}  # fmt: skip
    pipeline_id = "text-chunking-embedding-ingest-pipeline"
    assert proxied.ingest.put_pipeline(id=pipeline_id, body=pipeline)["acknowledged"]
    index = fresh("testindex")
    proxied.indices.create(index=index, body={
        "settings": {"index": {"knn": True}},
        "mappings": {"properties": {"text": {"type": "text"}, "passage_chunk_embedding": {
            "type": "nested", "properties": {"knn": {"type": "knn_vector", "dimension": 32,
                                                     "method": LUCENE}}}}},
    })  # fmt: skip
    text = " ".join(TEXTS)
    answer = proxied.index(index=index, body={"passage_text": text}, params={
        "pipeline": pipeline_id, "refresh": "true"})  # fmt: skip
    assert answer["result"] == "created"
    source = proxied.get(index=index, id=answer["_id"])["_source"]
    assert len(source["passage_chunk"]) > 1
    assert len(source["passage_chunk_embedding"]) == len(source["passage_chunk"])
    assert all(len(item["knn"]) == 32 for item in source["passage_chunk_embedding"])
    query = {"query": {"nested": {"score_mode": "max", "path": "passage_chunk_embedding",
                                  "query": {"neural": {"passage_chunk_embedding.knn": {
                                      "query_text": "the wing", "model_id": model_id}}}}}}  # fmt: skip
    hits = _hits(proxied.search(index=index, body=query))
    assert [hit["_id"] for hit in hits] == [answer["_id"]]


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
