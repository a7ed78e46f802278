"""Real clients against ``neuralpipe serve``: the proxy in front of the real node, with the real
model registry (models load from zips registered through ml-commons' API) and tiny
random-weight models built at test time (:mod:`processors.testing.tiny_models`).

Each module gets its own proxy whose registry and pipeline store live in ``.nptest-*``
indices, deleted at the end, so tutorials can use the fixed names the documentation uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from processors.models.build.builder import BuildResult
from processors.proxy.app import ProxySettings, create_app
from processors.testing.serving import serve


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuildResult]:
    """The tiny embed / sparse / cross / tokenize zips (both formats), built once."""
    from processors.testing.tiny_models import build_tiny_zips

    return build_tiny_zips(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def proxy_url(
    opensearch_url: str,
    client: Any,
    tmp_path_factory: pytest.TempPathFactory,
    tiny_models: dict[str, BuildResult],
) -> Iterator[str]:
    """``neuralpipe serve`` as a user runs it (no pipeline files), model files readable from
    the tiny models' directory only."""
    run = uuid.uuid4().hex[:8]
    home = tmp_path_factory.mktemp("home")
    prefix, store = f".nptest-{run}-ml", f".nptest-{run}-pipelines"
    models_dir = tiny_models["embed-onnx"].zip_path.parent
    settings = ProxySettings(
        upstream_url=opensearch_url, pipelines_dir=None, home=home, ml_index_prefix=prefix,
        pipeline_index=store, cache_ttl=0.2, model_files_dir=models_dir,
    )  # fmt: skip
    try:
        with serve(create_app(settings)) as url:
            yield url
    finally:
        for index in (store, f"{prefix}-model-group", f"{prefix}-model", f"{prefix}-task"):
            client.indices.delete(index=index, ignore=[404])


@pytest.fixture(scope="module")
def proxied(proxy_url: str) -> OpenSearch:
    """An unmodified opensearch-py client, pointed at the proxy."""
    return OpenSearch(hosts=[proxy_url], timeout=120)
