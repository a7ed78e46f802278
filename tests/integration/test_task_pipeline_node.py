"""NLP task models end to end: a YAML ingest pipeline with ``inference`` and ``ml_inference``
enriches documents into the real node through the proxy, driven by opensearch-py; task models
registered, deployed and ``_predict``-ed through the proxy's ml-commons API.

The models are tiny random BERT heads built here with ``build_model`` (labels and spans are
random; their values are checked against the runtime itself, the numbers by the parity tests).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opensearchpy import OpenSearch, helpers

from processors.models.build.builder import build_model
from processors.models.loader import load_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.task_runtime import TaskRuntime
from processors.proxy.app import ProxySettings, create_app
from processors.testing.tiny_task_models import tiny_task_source
from tests.integration.proxy_server import serve

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
PIPELINE = f"test-tasks-{RUN}"
TEXTS = {
    "1": "Waldo is in Paris with Anna.",
    "2": "John Smith works for the United Nations in New York.",
}
ENRICH = {
    "description": "entities (Elastic's inference) and a label (OpenSearch's ml_inference)",
    "processors": [
        {"inference": {"model_id": "tiny-ner-onnx", "target_field": "ml.ner",
                       "field_map": {"text": "text_field"}, "inference_config": {"ner": {}}}},
        {"ml_inference": {
            "model_id": "tiny-tc-onnx", "function_name": "text_classification",
            "input_map": [{"text_docs": "text"}],
            "output_map": [{"sentiment": "$.inference_results[0].output[0].dataAsMap"
                                         ".predicted_value"}],
            "model_config": {"num_top_classes": 1}}},
        {"set": {"field": "enriched", "value": True}},
    ],
}  # fmt: skip


SEARCH = f"test-task-hits-{RUN}"
HITS = {
    "response_processors": [
        {"ml_inference": {
            "model_id": "tiny-tc-onnx", "function_name": "text_classification",
            "input_map": [{"text_docs": "text"}],
            "output_map": [{"label": "$.inference_results[*].output[0].dataAsMap"
                                    ".predicted_value"}]}},
        {"ml_inference": {
            "model_id": "tiny-ner-onnx", "function_name": "ner", "one_to_one": True,
            "input_map": [{"text_docs": "text"}],
            "output_map": [{"entities": "$.inference_results[0].output[0].dataAsMap"
                                       ".entities"}]}},
    ]
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("tasks")
    out: dict[str, Any] = {"root": root}
    for key, function in (("ner", FunctionName.NER), ("tc", FunctionName.TEXT_CLASSIFICATION)):
        source = tiny_task_source(root / "sources", "bert", function)
        (result,) = build_model(
            source, function, model_id=f"tiny-{key}", formats=[ModelFormat.ONNX],
            cache_dir=root / "models", yaml_dir=root / "pipelines" / "models",
        )  # fmt: skip
        out[key] = result
    (root / "pipelines" / "ingest").mkdir(parents=True)
    (root / "pipelines" / "ingest" / f"{PIPELINE}.yaml").write_text(yaml.safe_dump(ENRICH))
    (root / "pipelines" / "search").mkdir(parents=True)
    (root / "pipelines" / "search" / f"{SEARCH}.yaml").write_text(yaml.safe_dump(HITS))
    return out


@pytest.fixture(scope="module")
def proxy(opensearch_url: str, client: Any, built: dict[str, Any]) -> Iterator[OpenSearch]:
    root: Path = built["root"]
    prefix, store = f".nptest-{RUN}-ml", f".nptest-{RUN}-pipelines"
    settings = ProxySettings(
        upstream_url=opensearch_url, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=prefix, pipeline_index=store, cache_ttl=0.5,
    )  # fmt: skip
    try:
        with serve(create_app(settings)) as url:
            yield OpenSearch(url, timeout=120)
    finally:
        for index in (store, f"{prefix}-model-group", f"{prefix}-model", f"{prefix}-task"):
            client.indices.delete(index=index, ignore=[404])


def _runtime(result: Any, root: Path) -> TaskRuntime:
    model = load_model(result.zip_path, result.registration, cache_dir=root / "check")
    assert isinstance(model, TaskRuntime)
    return model


def test_yaml_pipeline_enriches_documents_into_the_node(
    proxy: OpenSearch, client: Any, built: dict[str, Any]
) -> None:
    index = f"test-{uuid.uuid4().hex[:12]}"
    client.indices.create(index=index)
    try:
        actions = [
            {"_index": index, "_id": i, "_source": {"text": t}, "pipeline": PIPELINE}
            for i, t in TEXTS.items()
        ]
        missing = {"_index": index, "_id": "3", "_source": {"title": "no text"},
                   "pipeline": PIPELINE}  # fmt: skip
        ok, errors = helpers.bulk(proxy, [*actions, missing], refresh=True, raise_on_error=False)
        assert ok == 2
        (failed,) = errors
        reason = failed["index"]["error"]["reason"]
        assert failed["index"]["_id"] == "3" and "Input field [text] does not exist" in reason
        ner, tc = _runtime(built["ner"], built["root"]), _runtime(built["tc"], built["root"])
        for doc_id, text in TEXTS.items():
            source = client.get(index=index, id=doc_id)["_source"]
            assert source["ml"]["ner"] == {**ner.infer([text])[0], "model_id": "tiny-ner-onnx"}
            assert source["sentiment"] == tc.infer([text])[0]["predicted_value"]
            assert source["enriched"] is True
        assert client.count(index=index)["count"] == 2
    finally:
        client.indices.delete(index=index, ignore=[404])


def test_register_deploy_and_predict_a_task_model(proxy: OpenSearch, built: dict[str, Any]) -> None:
    body = yaml.safe_load(built["ner"].yaml_path.read_text())
    body["name"] = f"tiny-ner-{RUN}"
    proxy.cluster.put_settings(body={"persistent": {  # as ml-commons, registering a local file
        "plugins.ml_commons.allow_registering_model_via_url": True,  # is off by default
        "plugins.ml_commons.allow_registering_model_via_local_file": True,
    }})  # fmt: skip
    task = proxy.transport.perform_request(
        "POST", "/_plugins/_ml/models/_register", params={"deploy": "true"}, body=body
    )
    model_id = None
    for _ in range(200):
        state = proxy.transport.perform_request("GET", f"/_plugins/_ml/tasks/{task['task_id']}")
        if state["state"] == "COMPLETED" and state.get("model_id"):
            model_id = state["model_id"]
            break
        assert state["state"] not in ("FAILED", "COMPLETED_WITH_ERROR"), state
        time.sleep(0.1)
    assert model_id is not None
    for _ in range(200):
        doc = proxy.transport.perform_request("GET", f"/_plugins/_ml/models/{model_id}")
        if doc["model_state"] == "DEPLOYED":
            break
        time.sleep(0.1)
    answer = proxy.transport.perform_request(
        "POST", f"/_plugins/_ml/models/{model_id}/_predict", body={"text_docs": [TEXTS["1"]]}
    )
    expected = _runtime(built["ner"], built["root"]).infer([TEXTS["1"]])[0]
    output = answer["inference_results"][0]["output"][0]
    assert output == {"name": "response", "dataAsMap": expected}


def test_search_pipeline_ml_inference_enriches_hits(
    proxy: OpenSearch, client: Any, built: dict[str, Any]
) -> None:
    index = f"test-{uuid.uuid4().hex[:12]}"
    client.indices.create(index=index)
    try:
        for doc_id, text in TEXTS.items():
            client.index(index=index, id=doc_id, body={"text": text}, refresh=True)
        answer = proxy.search(
            index=index, body={"query": {"match_all": {}}, "sort": ["_doc"]},
            params={"search_pipeline": SEARCH},
        )  # fmt: skip
        hits = answer["hits"]["hits"]
        assert [h["_id"] for h in hits] == list(TEXTS)
        ner, tc = _runtime(built["ner"], built["root"]), _runtime(built["tc"], built["root"])
        labels = [r["predicted_value"] for r in tc.infer(list(TEXTS.values()))]
        for hit, label in zip(hits, labels, strict=True):
            text = hit["_source"]["text"]
            assert hit["_source"]["label"] == label  # many-to-one: one call, one value per hit
            assert hit["_source"]["entities"] == ner.infer([text])[0]["entities"]
        stored = client.get(index=index, id="1")["_source"]
        assert stored == {"text": TEXTS["1"]}  # the hits are enriched, not the documents
    finally:
        client.indices.delete(index=index, ignore=[404])
