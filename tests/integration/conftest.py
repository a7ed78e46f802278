"""Fixtures of the proxy's integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from tests.integration.proxy_server import fake_proxy


@pytest.fixture(scope="module")
def fake_proxied(
    opensearch_url: str, client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenSearch]:
    """An unmodified opensearch-py client to a proxy with the fake models and no model registry
    (:func:`~tests.integration.proxy_server.fake_proxy`), one per test module."""
    with fake_proxy(opensearch_url, client, tmp_path_factory, uuid.uuid4().hex[:8]) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one directory ``_register`` may read model files from (``model_files_dir``)."""
    return tmp_path_factory.mktemp("model-files")
