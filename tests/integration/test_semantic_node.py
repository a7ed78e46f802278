"""``semantic`` fields through the proxy, with an unmodified opensearch-py client, on the node.

The models are ``processors.testing.fakes`` (no weights load); their register bodies (what a
semantic field reads: function, name, dimension, space type) are YAML files of a temporary
pipelines directory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from opensearchpy import OpenSearch, TransportError, helpers

from processors.proxy.app import ProxySettings, create_app
from tests.integration.proxy_server import fake_models, serve

pytestmark = pytest.mark.integration
DENSE = {"name": "fake-dense", "function_name": "TEXT_EMBEDDING",
         "model_config": {"model_type": "bert", "embedding_dimension": 384,
                          "framework_type": "SENTENCE_TRANSFORMERS",
                          "additional_config": {"space_type": "cosinesimil"}}}  # fmt: skip
SPARSE = {"name": "fake-sparse", "function_name": "SPARSE_ENCODING"}
LUCENE = {"method": {"engine": "lucene"}}
TEXTS = {
    "1": "the wing produces lift. A second sentence about wing lift.",
    "2": "turbulent boundary layer over a flat plate",
}


@pytest.fixture(scope="module")
def proxied(opensearch_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("semantic")
    models = root / "pipelines" / "models"
    models.mkdir(parents=True)
    (models / "dense.yaml").write_text(yaml.safe_dump(DENSE))
    (models / "sparse.yaml").write_text(yaml.safe_dump(SPARSE))
    run = uuid.uuid4().hex[:8]
    settings = ProxySettings(
        upstream_url=opensearch_url, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=f".nptest-{run}-ml", pipeline_index=f".nptest-{run}-pipelines",
        cache_ttl=0.2, warm_models=False,
    )  # fmt: skip
    with serve(create_app(settings, models=fake_models)) as url:
        yield OpenSearch(hosts=[url], timeout=60)


@pytest.fixture()
def index(proxied: Any, client: Any) -> Iterator[str]:
    name = f"test-semantic-{uuid.uuid4().hex[:10]}"
    yield name
    client.indices.delete(index=name, ignore=[404])


def _create(proxied: Any, index: str) -> None:
    proxied.indices.create(index=index, body={
        "settings": {"index.knn": True, "index.neural_search.semantic_ingest_batch_size": 4},
        "mappings": {"properties": {
            "dense": {"type": "semantic", "model_id": "dense", "chunking": True,
                      "dense_embedding_config": LUCENE},
            "sparse": {"type": "semantic", "model_id": "sparse",
                       "semantic_info_field_name": "sparse_info"},
        }}})  # fmt: skip


def test_mapping_ingest_and_searches(proxied: Any, client: Any, index: str) -> None:
    _create(proxied, index)
    node = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert node["dense"] == {"type": "text"}
    assert node["sparse_info"]["properties"]["embedding"] == {"type": "rank_features"}
    shown = proxied.indices.get_mapping(index=index)[index]["mappings"]
    assert shown["properties"]["dense"]["type"] == "semantic"
    assert shown["properties"]["sparse"]["semantic_info_field_name"] == "sparse_info"
    assert "_meta" not in shown
    settings = proxied.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["neural_search"]["semantic_ingest_batch_size"] == "4"

    actions = [{"_index": index, "_id": i, "_source": {"dense": t, "sparse": t}}
               for i, t in TEXTS.items()]  # fmt: skip
    assert helpers.bulk(proxied, actions, refresh=True) == (2, [])
    stored = client.get(index=index, id="1")["_source"]
    chunks = stored["dense_semantic_info"]["chunks"]
    assert chunks[0]["text"] == TEXTS["1"] and len(chunks[0]["embedding"]) == 384
    assert stored["dense_semantic_info"]["model"] == {
        "id": "dense", "name": "fake-dense", "type": "TEXT_EMBEDDING"}  # fmt: skip
    assert stored["sparse_info"]["model"]["type"] == "SPARSE_ENCODING"
    assert stored["sparse_info"]["embedding"]["wing"] > 0

    neural = proxied.search(
        index=index,
        body={"query": {"neural": {"dense": {"query_text": "boundary layer plate", "k": 2}}}},
    )
    assert neural["hits"]["hits"][0]["_id"] == "2"
    sparse = proxied.search(index=index, body={
        "query": {"neural": {"sparse": {"query_text": "wing lift"}}}})  # fmt: skip
    assert [h["_id"] for h in sparse["hits"]["hits"]] == ["1"]

    proxied.update(index=index, id="2", body={"doc": {"sparse": "a wing now"}}, refresh=True)
    updated = client.get(index=index, id="2")["_source"]
    assert "wing" in updated["sparse_info"]["embedding"]
    assert "plate" not in updated["sparse_info"]["embedding"]


def test_errors_are_the_plugins(proxied: Any, index: str) -> None:
    with pytest.raises(TransportError) as unknown:
        proxied.indices.create(
            index=index,
            body={"mappings": {"properties": {"t": {"type": "semantic", "model_id": "nope"}}}},
        )
    assert unknown.value.status_code == 500
    assert unknown.value.info["error"]["reason"] == (
        "Failed to fetch model [nope]: Failed to find model with the provided model id: nope"
    )
    with pytest.raises(TransportError) as dense_tokens:
        _create(proxied, index)
        proxied.search(
            index=index, body={"query": {"neural": {"dense": {"query_tokens": {"a": 1.0}}}}}
        )
    assert dense_tokens.value.status_code == 400
    assert "semantic field using a dense model" in dense_tokens.value.info["error"]["reason"]
    with pytest.raises(TransportError) as not_string:
        proxied.index(index=index, id="x", body={"sparse": 5})
    assert not_string.value.status_code == 400
    assert "to be a string but found: class java.lang.Integer" in str(not_string.value.info)
