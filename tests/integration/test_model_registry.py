"""The ml-commons-shaped model registry against the real OpenSearch node.

Every test module uses its own index prefix; only those indices are deleted afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import shutil
import struct
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processors.models.bundled import tokenizer_zip
from processors.models.encoders import ContentType
from processors.models.mlcommons import catalog
from processors.models.mlcommons.errors import (
    CONTENT_CHANGED,
    DELETE_DEPLOYED,
    HASH_REQUIRED,
    NOT_DEPLOYED,
    MLCommonsError,
    MLNotFoundError,
)
from processors.models.mlcommons.model_registry import ModelRegistry
from processors.models.registration import ModelRegistration
from processors.opensearch.client import make_client
from processors.settings import Settings

pytestmark = pytest.mark.integration

BERT_ZIP = tokenizer_zip("bert-uncased")
CHUNK = 100_000
EMBED_CONFIG = {
    "model_type": "bert",
    "embedding_dimension": 4,
    "framework_type": "sentence_transformers",
}


# -- stub runtimes: the registry must work with any loader ------------------------------------


class StubEmbedder:
    dimension = 4

    def embed(self, texts: Sequence[str], content_type: ContentType = "passage") -> Any:
        return np.array([[len(t), 0.5, -1.25, 1 / 3] for t in texts], dtype=np.float32)


class StubCross:
    def score(self, query: str, texts: Sequence[str]) -> Any:
        return np.array([-6.077798, 10.223609][: len(texts)], dtype=np.float32)


class StubLoader:
    """Records each zip it is given (its bytes) and returns a stub runtime."""

    def __init__(self) -> None:
        self.loaded: list[bytes] = []

    def __call__(self, zip_path: Path, registration: ModelRegistration) -> object:
        self.loaded.append(zip_path.read_bytes())
        return (
            StubCross() if registration.function_name.value == "TEXT_SIMILARITY" else StubEmbedder()
        )


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prefix(client: Any) -> Iterator[str]:
    name = f".nptest-{uuid.uuid4().hex[:10]}-ml"
    yield name
    for suffix in ("model-group", "model", "task"):
        client.indices.delete(index=f"{name}-{suffix}", ignore=[404])


@pytest.fixture
def loader() -> StubLoader:
    return StubLoader()


@pytest.fixture
def registry(client: Any, prefix: str, tmp_path: Path, loader: StubLoader) -> ModelRegistry:
    return ModelRegistry(
        client, index_prefix=prefix, models_dir=tmp_path, cache_dir=tmp_path / "cache",
        loader=loader, chunk_size=CHUNK, allow_download=False,
    )  # fmt: skip


@pytest.fixture
def real_registry(client: Any, prefix: str, tmp_path: Path) -> ModelRegistry:
    """Uses the project's real loader (processors.models.loader.load_model)."""
    return ModelRegistry(
        client, index_prefix=prefix, models_dir=tmp_path, cache_dir=tmp_path / "real-cache",
        chunk_size=CHUNK, allow_download=False,
    )  # fmt: skip


def _small_zip(tmp_path: Path, name: str = "tiny.zip") -> Path:
    """A small zip of the OpenSearch layout (tokenizer.json + a model file), ~250 KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("tokenizer.json", '{"version": "1.0"}')
        zf.writestr("model.onnx", np.random.default_rng(7).bytes(250_000))
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _embedding_body(path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"tiny-embed-{uuid.uuid4().hex[:6]}", "version": "1.0.0",
        "function_name": "TEXT_EMBEDDING", "model_format": "ONNX",
        "model_content_hash_value": _sha(path), "model_config": EMBED_CONFIG,
        "url": f"file:{path.name}", **extra,
    }  # fmt: skip


def _sparse_body(path: Path) -> dict[str, Any]:
    return {
        "name": f"bert-tokenize-{uuid.uuid4().hex[:6]}", "version": "1.0.0",
        "function_name": "SPARSE_TOKENIZE", "model_format": "TORCH_SCRIPT",
        "model_content_hash_value": _sha(path), "url": str(path),
    }  # fmt: skip


def _registered(registry: ModelRegistry, body: dict[str, Any]) -> str:
    task = registry.get_task(registry.register_model(body)["task_id"])
    assert task["state"] == "COMPLETED", task
    return str(task["model_id"])


# -- model groups -----------------------------------------------------------------------------


def test_model_group_lifecycle_and_duplicate_name(registry: ModelRegistry) -> None:
    name = f"group-{uuid.uuid4().hex[:8]}"
    resp = registry.register_model_group(
        {"name": name, "description": "d", "access_mode": "public"}
    )
    group_id = resp["model_group_id"]
    assert resp["status"] == "CREATED"
    assert len(group_id) == 20 and "=" not in group_id
    doc = registry.get_model_group(group_id)
    assert (doc["name"], doc["latest_version"], doc["description"]) == (name, 0, "d")
    with pytest.raises(MLCommonsError) as err:
        registry.register_model_group({"name": name})
    assert str(err.value) == (
        f"The name you provided is already being used by a model group with ID: {group_id}."
    )
    hits = registry.search_model_groups({"query": {"term": {"name.keyword": name}}})["hits"]
    assert [h["_id"] for h in hits["hits"]] == [group_id]
    assert registry.delete_model_group(group_id)["result"] == "deleted"
    with pytest.raises(MLNotFoundError) as missing:
        registry.get_model_group(group_id)
    assert str(missing.value) == (
        f"Failed to find model group with the provided model group id: {group_id}"
    )
    assert missing.value.status == 404


# -- register ---------------------------------------------------------------------------------


def test_register_task_lifecycle_and_chunk_documents(
    registry: ModelRegistry, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zip_path = tmp_path / "bert.zip"
    shutil.copy(BERT_ZIP, zip_path)
    states: list[str] = []
    original = registry.tasks.set_state
    monkeypatch.setattr(
        registry.tasks,
        "set_state",
        lambda tid, state, **kw: (states.append(state), original(tid, state, **kw)),
    )
    body = _sparse_body(zip_path)
    body["url"] = "file:bert.zip"  # resolved against models_dir
    resp = registry.register_model(body)
    assert set(resp) == {"task_id", "status"} and resp["status"] == "CREATED"
    task = registry.get_task(resp["task_id"])
    assert states == ["RUNNING", "COMPLETED"]
    assert task["state"] == "COMPLETED" and task["task_type"] == "REGISTER_MODEL"
    assert task["function_name"] == "SPARSE_TOKENIZE"
    assert task["create_time"] <= task["last_update_time"] and task["worker_node"]
    model_id = task["model_id"]

    doc = registry.get_model(model_id)
    size = zip_path.stat().st_size
    total = math.ceil(size / CHUNK)
    assert total >= 5
    assert doc["model_state"] == "REGISTERED" and doc["algorithm"] == "SPARSE_TOKENIZE"
    assert doc["model_version"] == "1" and doc["total_chunks"] == total
    assert doc["model_content_size_in_bytes"] == size
    assert doc["model_content_hash_value"] == _sha(zip_path)
    assert "model_content" not in doc and doc["last_registered_time"] >= doc["created_time"]

    parts = []
    for n in range(total):
        chunk = client.get(index=registry.names.model, id=f"{model_id}_{n}")["_source"]
        assert (chunk["model_id"], chunk["chunk_number"], chunk["total_chunks"]) == (
            model_id,
            n,
            total,
        )
        parts.append(base64.b64decode(chunk["model_content"]))
    assert b"".join(parts) == zip_path.read_bytes()
    assert not client.exists(index=registry.names.model, id=f"{model_id}_{total}")

    group = registry.get_model_group(doc["model_group_id"])
    assert group["name"] == body["name"] and group["latest_version"] == 1
    second = _registered(registry, {**body, "model_group_id": doc["model_group_id"]})
    assert registry.get_model(second)["model_version"] == "2"
    with pytest.raises(MLCommonsError, match="associated model versions"):
        registry.delete_model_group(doc["model_group_id"])


def test_hash_mismatch_fails_the_task(registry: ModelRegistry, tmp_path: Path) -> None:
    path = _small_zip(tmp_path)
    before = len(registry.list_models())
    body = _embedding_body(path, model_content_hash_value="0" * 64)
    task = registry.get_task(registry.register_model(body)["task_id"])
    assert task["state"] == "FAILED" and task["error"] == CONTENT_CHANGED
    assert "model_id" not in task
    assert len(registry.list_models()) == before


def test_register_refusals(registry: ModelRegistry, tmp_path: Path) -> None:
    path = _small_zip(tmp_path)
    body = _embedding_body(path)
    del body["model_content_hash_value"]
    with pytest.raises(MLCommonsError) as err:
        registry.register_model(body)
    assert str(err.value) == HASH_REQUIRED
    with pytest.raises(MLNotFoundError, match="provided model group id: nope"):
        registry.register_model(_embedding_body(path, model_group_id="nope"))
    unknown = registry.register_model({"name": "huggingface/x/none", "version": "1.0.0",
                                       "model_format": "ONNX"})  # fmt: skip
    task = registry.get_task(unknown["task_id"])
    assert task["state"] == "FAILED" and task["error"] == catalog.NOT_IN_LIST
    missing = registry.register_model(_embedding_body(path, url="file:absent.zip"))
    assert "cannot read model zip" in registry.get_task(missing["task_id"])["error"]


def test_chunked_upload_round_trip(
    registry: ModelRegistry, loader: StubLoader, tmp_path: Path
) -> None:
    data = _small_zip(tmp_path).read_bytes()
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    body = {
        "name": f"chunked-{uuid.uuid4().hex[:6]}", "version": "1.0.0",
        "function_name": "TEXT_EMBEDDING", "model_format": "ONNX", "model_config": EMBED_CONFIG,
        "model_content_hash_value": hashlib.sha256(data).hexdigest(),
        "model_content_size_in_bytes": len(data), "total_chunks": len(pieces),
    }  # fmt: skip
    resp = registry.register_model_meta(body)
    model_id = resp["model_id"]
    assert resp["status"] == "CREATED"
    assert registry.get_model(model_id)["model_state"] == "REGISTERING"
    with pytest.raises(MLCommonsError, match="Chunk number exceeds total chunks"):
        registry.upload_chunk(model_id, len(pieces), b"x")
    with pytest.raises(MLCommonsError, match="Chunk size either 0 or null"):
        registry.upload_chunk(model_id, 0, b"")
    for number, piece in enumerate(pieces[:-1]):
        assert registry.upload_chunk(model_id, number, piece) == {"status": "Uploaded"}
    assert registry.get_model(model_id)["model_state"] == "REGISTERING"
    registry.upload_chunk(model_id, len(pieces) - 1, pieces[-1])
    assert registry.get_model(model_id)["model_state"] == "REGISTERED"
    task = registry.get_task(registry.deploy_model(model_id)["task_id"])
    assert task["state"] == "COMPLETED", task
    assert loader.loaded == [data]


# -- deploy / predict / undeploy / delete -----------------------------------------------------


def test_deploy_predict_undeploy_delete(
    registry: ModelRegistry, client: Any, tmp_path: Path
) -> None:
    model_id = _registered(registry, _embedding_body(_small_zip(tmp_path)))
    with pytest.raises(MLCommonsError) as err:
        registry.predict(model_id, {"text_docs": ["today is sunny"]})
    assert str(err.value) == NOT_DEPLOYED

    resp = registry.deploy_model(model_id)
    assert resp["task_type"] == "DEPLOY_MODEL" and resp["status"] == "CREATED"
    task = registry.get_task(resp["task_id"])
    assert (task["state"], task["task_type"], task["model_id"]) == (
        "COMPLETED", "DEPLOY_MODEL", model_id)  # fmt: skip
    doc = registry.get_model(model_id)
    assert doc["model_state"] == "DEPLOYED" and doc["last_deployed_time"] >= doc["created_time"]
    assert doc["planning_worker_nodes"] == task["worker_node"]
    assert doc["model_config"]["framework_type"] == "SENTENCE_TRANSFORMERS"

    out = registry.predict(model_id, {"text_docs": ["today is sunny", "hi"],
                                      "target_response": ["sentence_embedding"]})  # fmt: skip
    first = out["inference_results"][0]["output"][0]
    assert first == {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [4],
                     "data": [14.0, 0.5, -1.25, 0.33333334]}  # fmt: skip
    assert out["inference_results"][1]["output"][0]["data"][0] == 2.0
    with pytest.raises(MLCommonsError, match="Empty text docs"):
        registry.predict(model_id, {"text_docs": []})

    with pytest.raises(MLCommonsError) as refused:
        registry.delete_model(model_id)
    assert str(refused.value) == DELETE_DEPLOYED and refused.value.status == 400
    node = task["worker_node"][0]
    assert registry.undeploy_model(model_id) == {node: {"stats": {model_id: "undeployed"}}}
    assert registry.get_model(model_id)["model_state"] == "UNDEPLOYED"
    assert registry.undeploy_model(model_id) == {}
    with pytest.raises(MLCommonsError, match="Model not ready yet"):
        registry.predict(model_id, {"text_docs": ["x"]})

    deleted = registry.delete_model(model_id)
    assert deleted["result"] == "deleted" and deleted["_id"] == model_id
    chunks = client.count(
        index=registry.names.model, body={"query": {"term": {"model_id": model_id}}}
    )
    assert chunks["count"] == 0
    with pytest.raises(MLNotFoundError, match=r"^Failed to find model$"):
        registry.get_model(model_id)


def test_deploy_detects_tampered_chunks(
    registry: ModelRegistry, client: Any, tmp_path: Path
) -> None:
    model_id = _registered(registry, _embedding_body(_small_zip(tmp_path)))
    chunk_id = f"{model_id}_1"
    client.update(index=registry.names.model, id=chunk_id, refresh=True,
                  body={"doc": {"model_content": base64.b64encode(b"tampered").decode()}})  # fmt: skip
    task = registry.get_task(registry.deploy_model(model_id)["task_id"])
    assert task["state"] == "FAILED" and task["error"] == CONTENT_CHANGED
    assert registry.get_model(model_id)["model_state"] == "DEPLOY_FAILED"
    registry.delete_model(model_id)


def test_text_similarity_response_shape(registry: ModelRegistry, tmp_path: Path) -> None:
    path = _small_zip(tmp_path)
    body = _embedding_body(path, function_name="TEXT_SIMILARITY", model_config=None)
    model_id = _registered(registry, {k: v for k, v in body.items() if v is not None})
    registry.deploy_model(model_id)
    out = registry.predict(model_id, {"query_text": "today is sunny",
                                      "text_docs": ["how are you", "today is sunny"]})  # fmt: skip
    results = out["inference_results"]
    assert len(results) == 2
    first = results[0]["output"][0]
    assert first["name"] == "similarity" and first["shape"] == [1]
    assert first["data"] == [-6.077798]
    assert first["byte_buffer"] == {"array": "Un3CwA==", "order": "LITTLE_ENDIAN"}
    assert base64.b64decode(results[1]["output"][0]["byte_buffer"]["array"]) == struct.pack(
        "<f", 10.223609
    )
    with pytest.raises(MLCommonsError, match="No query text was provided"):
        registry.predict(model_id, {"text_docs": ["a"]})
    registry.undeploy_model(model_id)


def test_unknown_ids(registry: ModelRegistry) -> None:
    for call in (registry.get_model, registry.deploy_model, registry.undeploy_model,
                 registry.delete_model, lambda i: registry.predict(i, {"text_docs": ["x"]})):  # fmt: skip
        with pytest.raises(MLNotFoundError) as err:
            call("AAAAAAAAAAAAAAAAAAAA")
        assert str(err.value) == "Failed to find model" and err.value.status == 404
    with pytest.raises(MLNotFoundError, match=r"^Failed to find task$"):
        registry.get_task("AAAAAAAAAAAAAAAAAAAA")


def test_search_models_matches_chunks_as_ml_commons(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    body = _embedding_body(_small_zip(tmp_path))
    model_id = _registered(registry, body)
    total = registry.get_model(model_id)["total_chunks"]
    query = {"query": {"term": {"name.keyword": body["name"]}}, "size": 100}
    hits = registry.search_models(query)["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted(
        [model_id, *(f"{model_id}_{n}" for n in range(total))])  # fmt: skip
    assert all("model_content" not in h["_source"] for h in hits)
    assert model_id in [m["model_id"] for m in registry.list_models()]
    # the body's _source is kept (a _source_excludes URL parameter used to drop its includes)
    picked = registry.search_models({**query, "_source": ["name", "model_content"]})
    assert {tuple(h["_source"]) for h in picked["hits"]["hits"]} == {("name",)}
    kept = registry.search_models({**query, "_source": {"excludes": ["name"]}})["hits"]["hits"]
    assert all(not {"name", "model_content"} & set(h["_source"]) for h in kept)
    assert all("_source" not in h for h in registry.search_models({**query, "_source": False})[
        "hits"]["hits"])  # fmt: skip


# -- pretrained catalog + real loader + restart -----------------------------------------------


def test_pretrained_tokenizer_from_artifact_dir_with_real_loader(
    real_registry: ModelRegistry, tmp_path: Path
) -> None:
    entry = catalog.get_model("amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    shutil.copy(BERT_ZIP, artifacts / entry.artifact_file_name(entry.default_format()))
    real_registry.artifact_dir = artifacts
    resp = real_registry.register_model(
        {"name": entry.name, "version": entry.version, "model_format": "TORCH_SCRIPT"}, deploy=True
    )
    model_id = real_registry.get_task(resp["task_id"])["model_id"]
    doc = real_registry.get_model(model_id)
    assert doc["algorithm"] == "SPARSE_TOKENIZE" and doc["model_state"] == "DEPLOYED"
    out = real_registry.predict(model_id, {"text_docs": ["hello world"]})
    weights = out["inference_results"][0]["output"][0]["dataAsMap"]["response"][0]
    assert set(weights) == {"hello", "world"}
    assert all(w > 0 for w in weights.values())
    real_registry.undeploy_model(model_id)
    real_registry.delete_model(model_id)


def test_restart_round_trip(
    real_registry: ModelRegistry, opensearch_url: str, prefix: str, tmp_path: Path
) -> None:
    model_id = _registered(real_registry, _sparse_body(BERT_ZIP))
    real_registry.deploy_model(model_id)
    body = {"text_docs": ["The quick brown fox"]}
    before = real_registry.predict(model_id, body)

    fresh_client = make_client(Settings(opensearch_url=opensearch_url))
    fresh = ModelRegistry(fresh_client, index_prefix=prefix, cache_dir=tmp_path / "fresh-cache",
                          chunk_size=CHUNK, allow_download=False)  # fmt: skip
    assert model_id in [m["model_id"] for m in fresh.list_models()]
    assert fresh.get_model(model_id)["model_state"] == "DEPLOYED"
    assert fresh.predict(model_id, body) == before
    assert (tmp_path / "fresh-cache" / model_id).is_dir()
    fresh.undeploy_model(model_id)
    with pytest.raises(MLCommonsError, match="Model not ready yet"):
        real_registry.predict(model_id, body)
    redeploy = fresh.get_task(fresh.deploy_model(model_id)["task_id"])
    assert redeploy["state"] == "COMPLETED"
    assert real_registry.predict(model_id, body) == before
    fresh.undeploy_model(model_id)
    fresh.delete_model(model_id)


# -- CLI --------------------------------------------------------------------------------------


def test_cli_register_deploy_list_undeploy(
    opensearch_url: str, prefix: str, tmp_path: Path, client: Any
) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from processors.cli.main import cli

    models_dir = tmp_path / "models"
    models_dir.mkdir()
    shutil.copy(BERT_ZIP, models_dir / "bert.zip")
    model_id = f"cli-sparse-{uuid.uuid4().hex[:6]}"
    body_file = tmp_path / f"{model_id}.yaml"
    body = {**_sparse_body(BERT_ZIP), "url": "file:bert.zip"}
    body_file.write_text(yaml.safe_dump(body))
    base = ["--url", opensearch_url, "--home", str(tmp_path / "home"), "model"]
    opts = ["--index-prefix", prefix]
    run = CliRunner().invoke

    registered = run(
        cli, [*base, "register", str(body_file), "--models-dir", str(models_dir), *opts]
    )
    assert registered.exit_code == 0, registered.output
    out = json.loads(registered.stdout)
    assert out["model_id"] == model_id and out["task"]["state"] == "COMPLETED"
    assert f"as model {model_id}" in registered.stderr

    deployed = run(cli, [*base, "deploy", model_id, *opts])
    assert deployed.exit_code == 0, deployed.output
    assert json.loads(deployed.stdout)["task"]["task_type"] == "DEPLOY_MODEL"

    listed = run(cli, [*base, "list", "--json", *opts])
    mine = [m for m in json.loads(listed.stdout) if m["model_id"] == model_id]
    assert [m["model_state"] for m in mine] == ["DEPLOYED"]
    table = run(cli, [*base, "list", *opts])
    assert model_id in table.stdout and "DEPLOYED" in table.stdout

    undeployed = run(cli, [*base, "undeploy", model_id, *opts])
    assert undeployed.exit_code == 0, undeployed.output
    assert list(json.loads(undeployed.stdout).values()) == [{"stats": {model_id: "undeployed"}}]
    again = run(cli, [*base, "register", str(body_file), "--models-dir", str(models_dir), *opts])
    assert again.exit_code == 1 and "already in use" in again.stderr
    missing = run(cli, [*base, "deploy", "AAAAAAAAAAAAAAAAAAAA", *opts])
    assert missing.exit_code == 1 and "Failed to find model" in missing.stderr
    ModelRegistry(client, index_prefix=prefix, cache_dir=tmp_path / "c").delete_model(model_id)
