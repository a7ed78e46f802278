"""``neuralpipe opensearch start --nodes 3``: a real three-node cluster on 127.0.0.1.

Marked ``multinode`` (deselected by default like ``differential``: three JVMs of 768m each are
more than a shared two-core CI machine holds next to the suite's own node); run with
``pytest -m multinode tests/integration/test_multinode_cluster.py``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from processors.indexing.bulk import BulkIndexer
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.runner import IndexingOptions
from processors.opensearch.client import make_client
from processors.opensearch.cluster import LocalCluster
from processors.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.multinode]
DOCS = 20_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    settings = Settings(node_name=f"mn{uuid.uuid4().hex[:6]}")
    local = LocalCluster(settings, nodes=3, heap="768m")
    try:
        local.start(timeout=600)
        yield local
    finally:
        local.stop()


def test_three_nodes_elect_one_manager_and_report_shards(cluster: LocalCluster) -> None:
    client = make_client(Settings(opensearch_url=cluster.urls[0]))
    nodes = client.cat.nodes(format="json", h="name")
    assert sorted(n["name"] for n in nodes) == sorted(n.settings.node_name for n in cluster.nodes)
    managers = client.cat.cluster_manager(format="json")
    assert len(managers) == 1 and managers[0]["node"] in {n["name"] for n in nodes}


def test_ingest_while_a_data_node_restarts_loses_and_duplicates_nothing(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    client = make_client(Settings(opensearch_url=cluster.urls[0]))
    index = f"mn-{uuid.uuid4().hex[:8]}"
    client.indices.create(index=index, body={"settings": {"index": {
        "number_of_shards": 3, "number_of_replicas": 1}}})  # fmt: skip
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"t {i}"}) + "\n"
                              for i in range(DOCS)))  # fmt: skip
    indexer = BulkIndexer(client, index, None, fingerprint=pipeline_fingerprint(None, describe=None),
                          options=IndexingOptions(chunk_docs=500, retry_for=300))  # fmt: skip
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(report=indexer.index_files([corpus])))
    worker.start()
    while worker.is_alive() and client.count(index=index)["count"] < 2000:
        worker.join(timeout=0.5)
    assert cluster.stop_node(2), "the third node was not running"
    cluster.start_node(2, timeout=600)
    worker.join(timeout=900)
    assert result["report"].ok == DOCS
    cluster.wait_nodes(3, timeout=600, status="green")
    client.indices.refresh(index=index)
    indexed = client.count(index=index)["count"]
    ids = {f"d{i}" for i in range(DOCS)}
    found = sum(1 for d in client.mget(index=index, body={"ids": sorted(ids)},
                                       params={"_source": "false"})["docs"] if d.get("found"))  # fmt: skip
    print(
        f"\nmulti-node fault test: sent {DOCS}, indexed {indexed}, lost {DOCS - found}, "
        f"duplicated {indexed - found}"
    )
    assert (indexed, found) == (DOCS, DOCS)
