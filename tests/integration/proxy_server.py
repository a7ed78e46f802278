"""Helpers for the proxy's integration tests: fake models, and the app under uvicorn in a thread."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from processors.errors import ModelNotRegisteredError
from processors.opensearch.node import free_port
from processors.proxy.app import ProxySettings, create_app
from processors.testing.fakes import CountSparseEncoder, HashEmbedder, OverlapCrossEncoder
from processors.testing.serving import serve

__all__ = ["fake_models", "fake_proxy", "free_port", "serve"]


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
