"""opensearch-py-ml's ``MLCommonClient``, unmodified, against the proxy.

The client uploads a model zip in 10 MB chunks through ml-commons' old routes
(``models/meta``, ``models/<id>/chunk/<n>``), deploys it through ``_deploy`` (``load_model`` /
``upload_model`` too), predicts through ``.../_predict/`` (trailing slash) and
``_predict/text_embedding/<id>``, reads ``profile``, searches and deletes. The model config is
the file ``SentenceTransformerModel.make_model_config_json`` writes (``"version": 1`` as a
number, ``all_config`` as a string); the zip is our own build of the tiny sentence-transformers
model: opensearch-py-ml's tracing imports ``transformers.convert_graph_to_onnx``, which the
pinned transformers no longer has (see the README's proxy section).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from processors.models.build.builder import BuildResult

pytestmark = [
    pytest.mark.integration,
    # the client's own doing, not the proxy's: it never closes the config file it reads, and
    # upload_model / load_model / unload_model are deprecated there
    pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:Call to deprecated method:DeprecationWarning"),
]
ML = "/_plugins/_ml"
ALLOW = {"persistent": {"plugins.ml_commons.only_run_on_ml_node": "false",
                        "plugins.ml_commons.allow_registering_model_via_local_file": "true",
                        "plugins.ml_commons.native_memory_threshold": "99"}}  # fmt: skip


def config_file(tmp_path: Path, model: BuildResult, name: str) -> Path:
    """The model config as ``make_model_config_json`` writes it."""
    registration = model.registration.to_body()
    config = registration["model_config"]
    body = {
        "name": name, "version": 1, "description": "a tiny test model",
        "model_format": registration["model_format"], "function_name": "TEXT_EMBEDDING",
        "model_config": {
            "model_type": config.get("model_type", "bert"),
            "embedding_dimension": config["embedding_dimension"],
            "framework_type": "sentence_transformers", "pooling_mode": "MEAN",
            "normalize_result": True, "all_config": json.dumps({"architectures": ["BertModel"]}),
        },
    }  # fmt: skip
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


@pytest.fixture(scope="module")
def ml_client(proxied: OpenSearch) -> Any:
    from opensearch_py_ml.ml_commons import MLCommonClient

    return MLCommonClient(proxied)


def test_refused_until_the_settings_allow_local_files(
    ml_client: Any, proxied: OpenSearch, tiny_models: dict[str, BuildResult], tmp_path: Path
) -> None:
    from opensearchpy import TransportError

    proxied.cluster.put_settings(body={"persistent": {
        "plugins.ml_commons.allow_registering_model_via_local_file": None}})  # fmt: skip
    model = tiny_models["embed-torchscript"]
    with pytest.raises(TransportError) as refused:
        ml_client.register_model(str(model.zip_path), str(config_file(tmp_path, model, "m0")),
                                 deploy_model=False)  # fmt: skip
    assert refused.value.status_code == 400
    assert "allow_registering_model_via_local_file" in refused.value.info["error"]["reason"]


def test_register_deploy_predict_profile_search_undeploy_delete(
    ml_client: Any, proxied: OpenSearch, tiny_models: dict[str, BuildResult], tmp_path: Path
) -> None:
    assert proxied.cluster.put_settings(body=ALLOW)["acknowledged"]
    model = tiny_models["embed-torchscript"]
    group = ml_client._client.transport.perform_request(
        "POST", f"{ML}/model_groups/_register", body={"name": "py-ml-group"})  # fmt: skip
    renamed = ml_client._client.transport.perform_request(
        "PUT", f"{ML}/model_groups/{group['model_group_id']}", body={"name": "py-ml-group-2"}
    )
    assert renamed == {"status": "Updated"}
    model_id = ml_client.register_model(
        str(model.zip_path), str(config_file(tmp_path, model, "tiny-minilm")),
        model_group_id=group["model_group_id"], deploy_model=True, wait_until_deployed=True,
    )  # fmt: skip
    info = ml_client.get_model_info(model_id)
    assert info["model_state"] == "DEPLOYED" and info["model_config"]["embedding_dimension"] == 32
    assert info["model_content_hash_value"] == model.registration.model_content_hash_value
    embedded = ml_client.generate_embedding(model_id, ["hello world", "a quick fox"])
    vectors = [r["output"][0] for r in embedded["inference_results"]]
    assert [v["shape"] for v in vectors] == [[32], [32]]
    assert vectors[0]["data"] != vectors[1]["data"]
    predicted = ml_client.predict(model_id, {"text_docs": ["hello world"]})  # every output
    outputs = {out["name"]: out for out in predicted["inference_results"][0]["output"]}
    assert outputs["sentence_embedding"]["data"] == vectors[0]["data"]
    profile = ml_client.get_profile()
    (node,) = profile["nodes"].values()
    assert node["models"][model_id]["model_state"] == "DEPLOYED"
    assert model_id in ml_client.get_profile(profile_type="model", ids=[model_id])["nodes"][
        next(iter(profile["nodes"]))]["models"]  # fmt: skip
    found = ml_client.search_model({"query": {"term": {"name.keyword": {"value": "tiny-minilm"}}}})
    assert model_id in [hit["_id"] for hit in found["hits"]["hits"]]
    stats = ml_client._client.transport.perform_request("GET", f"{ML}/stats")
    assert stats["ml_model_count"] >= 1
    undeployed = ml_client.undeploy_model(model_id)
    assert undeployed[next(iter(undeployed))]["stats"] == {model_id: "undeployed"}
    assert ml_client.get_model_info(model_id)["model_state"] == "UNDEPLOYED"
    assert ml_client.delete_model(model_id)["result"] == "deleted"


def test_upload_model_and_load_model(
    ml_client: Any, proxied: OpenSearch, tiny_models: dict[str, BuildResult], tmp_path: Path
) -> None:
    """The deprecated ``upload_model`` (no group: one named after the model) and
    ``load_model``; an ONNX zip this time."""
    assert proxied.cluster.put_settings(body=ALLOW)["acknowledged"]
    model = tiny_models["embed-onnx"]
    model_id = ml_client.upload_model(
        str(model.zip_path), str(config_file(tmp_path, model, "tiny-onnx")), load_model=False
    )
    assert ml_client.get_model_info(model_id)["model_state"] == "REGISTERED"
    ml_client.load_model(model_id, wait_until_loaded=True)
    assert ml_client.get_model_info(model_id)["model_state"] == "DEPLOYED"
    perform = ml_client._client.transport.perform_request
    updated = perform("PUT", f"{ML}/models/{model_id}", body={"description": "renamed",
                                                               "is_hidden": False})  # fmt: skip
    assert updated["result"] == "updated"
    assert ml_client.get_model_info(model_id)["description"] == "renamed"
    unloaded = perform("POST", f"{ML}/models/{model_id}/_unload")  # old name of _undeploy
    assert list(unloaded.values()) == [{"stats": {model_id: "undeployed"}}]
    assert ml_client.get_profile() == {}  # nothing deployed
    task = perform("POST", f"{ML}/models/{model_id}/_load")  # ml-commons' old name of _deploy
    assert (
        ml_client.get_task_info(task["task_id"], wait_until_task_done=True)["state"] == "COMPLETED"
    )
    embedded = ml_client.generate_embedding(model_id, ["hello world"])
    assert embedded["inference_results"][0]["output"][0]["shape"] == [32]
    ml_client.unload_model(model_id)
    assert ml_client.delete_model(model_id)["result"] == "deleted"


def test_multi_chunk_upload(
    ml_client: Any, proxied: OpenSearch, tiny_models: dict[str, BuildResult], tmp_path: Path
) -> None:
    """A zip over 10 MB goes in several chunks: the same zip padded with an extra file."""
    import zipfile

    assert proxied.cluster.put_settings(body=ALLOW)["acknowledged"]
    model = tiny_models["embed-onnx"]
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(model.zip_path) as src, zipfile.ZipFile(big, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(zipfile.ZipInfo("padding.bin"), os.urandom(21 * 1024 * 1024))
    model_id = ml_client.register_model(str(big), str(config_file(tmp_path, model, "tiny-big")),
                                        deploy_model=True)  # fmt: skip
    info = ml_client.get_model_info(model_id)
    assert info["total_chunks"] == 3 and info["model_state"] == "DEPLOYED"
    embedded = ml_client.generate_embedding(model_id, ["hello world"])
    assert embedded["inference_results"][0]["output"][0]["shape"] == [32]
    ml_client.undeploy_model(model_id)
    ml_client.delete_model(model_id)
