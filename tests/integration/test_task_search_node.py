"""Search-side task models end to end through the proxy with opensearch-py, on the real node:
the ``ml_inference`` search request processor (a text classification model labels the query,
the label filters the hits) and semantic highlighting (a tiny sentence highlighting model of
the real highlighter's architecture marks sentences of each hit)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from processors.models.build.builder import build_model
from processors.models.loader import load_model
from processors.models.mlcommons.task_predict import task_response
from processors.models.registration import FunctionName, ModelFormat
from processors.models.task_runtime import TaskRuntime
from processors.proxy.app import ProxySettings, create_app
from processors.testing.tiny_highlighter import tiny_highlighter_source
from processors.testing.tiny_task_models import TC_LABELS, tiny_task_source
from tests.integration.proxy_server import serve

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
LABEL_QUERY = f"test-label-query-{RUN}"
DOCS = {
    "1": "Sound travels at about three hundred meters per second. The weather is good today.",
    "2": "Waldo is in Paris with Anna. John Smith works for the United Nations.",
    "3": "The capital of France is Paris. A quick brown fox jumps over the lazy dog.",
}
REQUEST = {
    "request_processors": [{"ml_inference": {
        "model_id": "tiny-tc-onnx", "function_name": "text_classification",
        "model_input": '{"text_docs": ["${input_map.text}"]}',
        "input_map": [{"text": "query.term.label.value"}],
        "output_map": [{"query.term.label.value": "$.inference_results[0].output[0].dataAsMap"
                                                   ".predicted_value"}]}}],
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("task-search")
    out: dict[str, Any] = {"root": root}
    sources = {
        "tc": tiny_task_source(root / "sources", "bert", FunctionName.TEXT_CLASSIFICATION),
        "hl": tiny_highlighter_source(root / "sources", relevant_bias=-0.3),
    }
    for key, source in sources.items():
        (result,) = build_model(
            source, FunctionName.TEXT_CLASSIFICATION if key == "tc" else
            FunctionName.QUESTION_ANSWERING, model_id=f"tiny-{key}", formats=[ModelFormat.ONNX],
            cache_dir=root / "models", yaml_dir=root / "pipelines" / "models",
        )  # fmt: skip
        out[key] = load_model(result.zip_path, result.registration, cache_dir=root / "check")
    (root / "pipelines" / "search").mkdir(parents=True)
    (root / "pipelines" / "search" / f"{LABEL_QUERY}.yaml").write_text(yaml.safe_dump(REQUEST))
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


@pytest.fixture(scope="module")
def index(client: Any, built: dict[str, Any]) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    tc: TaskRuntime = built["tc"]
    client.indices.create(index=name, body={"mappings": {"properties": {
        "text": {"type": "text"}, "label": {"type": "keyword"}}}})  # fmt: skip
    for doc_id, text in DOCS.items():
        label = tc.infer([text])[0]["predicted_value"]
        client.index(index=name, id=doc_id, body={"text": text, "label": label}, refresh=True)
    try:
        yield name
    finally:
        client.indices.delete(index=name, ignore=[404])


def test_request_processor_rewrites_the_query_with_the_models_label(
    proxy: OpenSearch, client: Any, built: dict[str, Any], index: str
) -> None:
    question = DOCS["2"]
    label = built["tc"].infer([question])[0]["predicted_value"]
    assert label in TC_LABELS
    answer = proxy.search(index=index, body={"query": {"term": {"label": question}}},
                          params={"search_pipeline": LABEL_QUERY})  # fmt: skip
    expected = client.search(index=index, body={"query": {"term": {"label": label}}})
    ids = sorted(h["_id"] for h in answer["hits"]["hits"])
    assert ids and ids == sorted(h["_id"] for h in expected["hits"]["hits"])
    with pytest.raises(RequestError) as failed:  # the query has no term on label
        proxy.search(index=index, body={"query": {"match_all": {}}},
                     params={"search_pipeline": LABEL_QUERY})  # fmt: skip
    assert "cannot find field: query.term.label.value in query string" in str(failed.value.info)


def test_semantic_highlighting_marks_sentences_of_each_hit(
    proxy: OpenSearch, built: dict[str, Any], index: str
) -> None:
    body = {"query": {"match": {"text": "Paris weather"}}, "sort": ["_doc"],
            "highlight": {"fields": {"text": {"type": "semantic"}},
                          "options": {"model_id": "tiny-hl-onnx"}}}  # fmt: skip
    answer = proxy.search(index=index, body=body)
    hits = answer["hits"]["hits"]
    assert hits
    marked_any = False
    for hit in hits:
        context = DOCS[hit["_id"]]
        expected = task_response(built["hl"], {"question": "paris weather", "context": context})
        chosen = [h["text"] for h in expected["inference_results"][0]["output"][0]["dataAsMap"]
                  ["highlights"]]  # fmt: skip
        (text,) = hit["highlight"]["text"]
        assert re.findall(r"<em>(.*?)</em>", text) == chosen
        assert re.sub(r"</?em>", "", text) == context
        marked_any = marked_any or bool(chosen)
    assert marked_any
    no_model = {**body, "highlight": {"fields": {"text": {"type": "semantic"}}}}
    with pytest.raises(RequestError) as failed:
        proxy.search(index=index, body=no_model)
    assert "model_id must be a non-null string, but was null" in str(failed.value.info)
