"""Helpers for the proxy's integration tests: fake models, the app under uvicorn in a thread (with
the fake models alone, or with a model registry whose models load as fakes), and a tiny model zip
to register."""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import OpenSearch

from processors.errors import ModelNotRegisteredError
from processors.models.mlcommons.model_registry import ModelRegistry
from processors.models.registration import ModelRegistration
from processors.opensearch.node import free_port
from processors.proxy.app import ProxySettings, create_app
from processors.testing.fakes import CountSparseEncoder, HashEmbedder, OverlapCrossEncoder
from processors.testing.serving import serve

__all__ = [
    "ALLOW_MODEL_FILES",
    "drop_proxy_indices",
    "fake_models",
    "fake_proxy",
    "free_port",
    "registry_app",
    "serve",
    "tiny_model_body",
]

ALLOW_MODEL_FILES = {
    f"plugins.ml_commons.allow_registering_model_via_{k}": True for k in ("url", "local_file")
}
"""The cluster settings that let ``_register`` take a model from a file."""


def fake_models(model_id: str) -> Any:
    if model_id == "dense":
        return HashEmbedder(384)
    if model_id == "sparse":
        return CountSparseEncoder()
    if model_id == "cross":
        return OverlapCrossEncoder()
    raise ModelNotRegisteredError(f"model id [{model_id}] not found")


@contextlib.contextmanager
def fake_proxy(
    opensearch_url: str,
    client: Any,
    tmp_path_factory: pytest.TempPathFactory,
    run: str,
    *,
    timeout: float = 120,
) -> Iterator[OpenSearch]:
    """The proxy with :func:`fake_models` and no model registry, in front of the node (its home
    a new temporary folder), and an unmodified opensearch-py client pointed at it. Pipelines PUT
    through it live in ``.nptest-<run>-pipelines``, deleted at the end."""
    store = f".nptest-{run}-pipelines"
    home = tmp_path_factory.mktemp("proxy")
    settings = ProxySettings(upstream_url=opensearch_url, pipelines_dir=None, home=home,
                             ml_index_prefix=f".nptest-{run}-ml", pipeline_index=store,
                             cache_ttl=0.2, warm_models=False, embedded_node=True)  # fmt: skip
    app = create_app(settings, models=fake_models, with_registry=False)
    try:
        with serve(app) as url:
            yield OpenSearch(hosts=[url], timeout=timeout)
    finally:
        client.indices.delete(index=store, ignore=[404])


def registry_app(
    upstream: str, root: Path, prefix: str, store: str, model_files: Path, cache_ttl: float
) -> Any:
    """The proxy app with :func:`fake_models` and a model registry in ``<prefix>-*`` indices
    whose registered models all load as ``HashEmbedder(384)`` (``_register`` reads model files
    from ``model_files`` only); pipeline files under ``root / "pipelines"``, pipelines PUT
    through it in the index ``store``."""
    settings = ProxySettings(
        upstream_url=upstream, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=prefix, pipeline_index=store, cache_ttl=cache_ttl,
        model_files_dir=model_files,
    )  # fmt: skip

    def registry(sync_client: Any) -> ModelRegistry:
        def loader(path: Path, registration: ModelRegistration) -> object:
            return HashEmbedder(384)

        return ModelRegistry(
            sync_client, index_prefix=prefix, models_dir=root, cache_dir=root / "cache",
            loader=loader, allow_download=False,
        )  # fmt: skip

    return create_app(settings, models=fake_models, registry=registry)


def drop_proxy_indices(client: Any, prefix: str, store: str) -> None:
    """Delete what a :func:`registry_app` wrote to the node: its pipelines and its registry."""
    for index in (store, f"{prefix}-model-group", f"{prefix}-model", f"{prefix}-task"):
        client.indices.delete(index=index, ignore=[404])


def tiny_model_body(model_files: Path, name: str, group_id: str) -> dict[str, Any]:
    """The ``_register`` body of a TEXT_EMBEDDING ONNX model ``name`` in the model group
    ``group_id``: a zip of an empty tokenizer and 1000 zero bytes, written to ``model_files``
    (a :func:`registry_app` loads it as ``HashEmbedder(384)``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("tokenizer.json", "{}")
        zf.writestr("model.onnx", b"\x00" * 1000)
    path = model_files / "tiny.zip"
    path.write_bytes(buffer.getvalue())
    return {"name": name, "version": "1.0.0", "function_name": "TEXT_EMBEDDING",
            "model_format": "ONNX", "model_group_id": group_id,
            "model_content_hash_value": hashlib.sha256(path.read_bytes()).hexdigest(),
            "model_config": {"model_type": "bert", "embedding_dimension": 384,
                             "framework_type": "sentence_transformers"}, "url": str(path)}  # fmt: skip


def wait_answering(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait until the proxy process ``proc`` answers ``GET /`` at ``url``; fail if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the proxy for {url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the proxy at {url} did not answer in {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``proc``, SIGKILL it after 30 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
