"""Shared fixtures: the real OpenSearch node (started or reused once per session)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from processors.opensearch.node import LocalNode
from processors.settings import Settings

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """The cluster under test: NEURALPIPE_OPENSEARCH_URL, else the embedded node.

    An unreachable cluster is a failure, never a skip. A node this fixture started is stopped
    at the end of the session (set NEURALPIPE_KEEP_NODE=1 to keep it for the next run).
    """
    settings = Settings()
    if settings.opensearch_url:
        yield settings.opensearch_url.rstrip("/")
        return
    node = LocalNode(settings)
    info = node.start()
    yield info.url
    if not info.reused and not os.environ.get("NEURALPIPE_KEEP_NODE"):
        node.stop()


@pytest.fixture(scope="session")
def client(opensearch_url: str) -> Any:
    from processors.opensearch.client import make_client

    os_client = make_client(Settings(opensearch_url=opensearch_url))
    health = os_client.cluster.health(wait_for_status="yellow")
    assert health["status"] in ("green", "yellow"), health
    return os_client


@pytest.fixture
def index_name(client: Any) -> Iterator[str]:
    """A unique ``test-<uuid>`` index name; only that index is deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client.indices.delete(index=name, ignore=[400, 404])


# -- GPU tests: run only where a CUDA runtime is, and the run summary says so --------------
_GPU: dict[str, Any] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    from processors.models.device import cuda_available

    _GPU.update(count=len(gpu_items), present=cuda_available())
    if not _GPU["present"]:
        reason = "GPU test: no CUDA device or CUDA runtime on this machine"
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _GPU:
        return
    if _GPU["present"]:
        line = f"GPU tests: {_GPU['count']} selected, run on this machine's CUDA device"
    else:
        line = (
            f"GPU tests: {_GPU['count']} NOT RUN: no CUDA device/runtime on this machine "
            "(they run where one is; see tests/gpu/)"
        )
    terminalreporter.write_sep("-", line)
