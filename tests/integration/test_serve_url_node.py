"""``neuralpipe serve`` with ``NEURALPIPE_OPENSEARCH_URL`` naming neuralpipe's own node.

The README's way to use a node on another port (``opensearch start --port N``, then
``NEURALPIPE_OPENSEARCH_URL=http://127.0.0.1:N``) used to turn the embedded node's k-NN guard
off (a URL was taken for "an existing cluster"): a ``knn_vector`` without an engine then got the
k-NN default, faiss, whose native library the node lacks, and the node died at the first write
and again at every start (the translog replays the write). The guard now asks the node what it
is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from processors.opensearch.client import targets_embedded_node
from processors.opensearch.node import free_port, is_neuralpipe_node
from processors.settings import Settings
from tests.integration.proxy_server import stop_process, wait_answering

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_the_node_under_test_is_known_as_neuralpipes_whatever_names_it(
    opensearch_url: str,
) -> None:
    assert is_neuralpipe_node(opensearch_url) is True
    assert targets_embedded_node(Settings(opensearch_url=opensearch_url)) is True
    nothing = f"http://127.0.0.1:{free_port()}"
    assert is_neuralpipe_node(nothing) is None
    assert targets_embedded_node(Settings(opensearch_url=nothing)) is False


@pytest.fixture(scope="module")
def served(opensearch_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``neuralpipe serve`` as the README runs it against a node on another port."""
    port = free_port()
    env = {**os.environ, "NEURALPIPE_OPENSEARCH_URL": opensearch_url}
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "neuralpipe"), "serve", "--no-warm", "--port",
         str(port), "--log-level", "warning"], cwd=REPO, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_answering(url, proc)
        yield url
    finally:
        stop_process(proc)
        log.close()


def test_a_vector_without_an_engine_gets_lucene_and_the_node_lives(
    served: str, client: Any
) -> None:
    name = f"test-url-engine-{uuid.uuid4().hex[:8]}"
    vector = {"type": "knn_vector", "dimension": 3, "space_type": "l2"}
    body = {"settings": {"index.knn": True}, "mappings": {"properties": {"v": vector}}}
    try:
        created = httpx.put(f"{served}/{name}", json=body, timeout=60)
        assert created.status_code == 200, created.text
        field = client.indices.get_mapping(index=name)[name]["mappings"]["properties"]["v"]
        assert field["method"]["engine"] == "lucene"
        written = httpx.put(f"{served}/{name}/_doc/1?refresh=true", json={"v": [1, 2, 3]})
        assert written.status_code == 201, written.text
        assert client.cluster.health()["status"] in ("green", "yellow")  # the node is alive
        faiss = {**vector, "method": {"name": "hnsw", "engine": "faiss"}}
        refused = httpx.put(
            f"{served}/{name}-faiss", json={"mappings": {"properties": {"v": faiss}}}, timeout=60
        )
        assert refused.status_code == 400
        assert "needs native libraries" in refused.json()["error"]["reason"]
        assert not client.indices.exists(index=f"{name}-faiss")
    finally:
        client.indices.delete(index=name, ignore=[404])
