"""``neuralpipe opensearch start --nodes 3``: a real three-node cluster on 127.0.0.1.

One cluster (512m heap per node) serves the whole module, and one stop/restart of a data node
serves both fault checks: 20k documents are ingested while the node is down and back, and
``neural``, ``neural_sparse`` and ``hybrid`` are asked through the proxy while it is down. The
proxy and the CLI's ``--url`` point at a node that is not the elected cluster manager.
Marked ``multinode``: a bare ``pytest`` leaves it out (three more JVMs), ``scripts/test.sh``
runs it (``-m ""``). The proxy's models are ``processors.testing.fakes`` (no weights load).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opensearchpy import OpenSearch

from processors.cli.main import cli
from processors.indexing.bulk import BulkIndexer
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.runner import IndexingOptions
from processors.opensearch.client import make_client
from processors.opensearch.cluster import LocalCluster
from processors.opensearch.indices import load_mapping
from processors.proxy.app import ProxySettings, create_app
from processors.settings import Settings
from tests.integration.proxy_server import fake_models, serve

pytestmark = [pytest.mark.integration, pytest.mark.multinode]
REPO = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:8]
DOCS = 20_000
NAME = "mntest"
WORDS = "wing lift flow plate shock nozzle heat layer wave air drag rotor".split()
TEXTS = {f"t{i}": " ".join([WORDS[i % 12], WORDS[i // 12 % 12], WORDS[(5 * i + 3) % 12], f"n{i}"])
         for i in range(48)}  # fmt: skip
EMBED = {"processors": [
    {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}},
    {"sparse_encoding": {"model_id": "sparse", "field_map": {"text": "text_sparse"}}}]}  # fmt: skip
FUSION = {"phase_results_processors": [{"normalization-processor": {
    "normalization": {"technique": "min_max"}, "combination": {"technique": "arithmetic_mean"}}}]}  # fmt: skip
NEURAL = {"neural": {"text_embedding": {"query_text": "wing lift", "model_id": "dense",
                                        "k": len(TEXTS)}}}  # fmt: skip
SPARSE = {"neural_sparse": {"text_sparse": {"query_text": "shock nozzle", "model_id": "sparse"}}}
HYBRID = {"hybrid": {"queries": [NEURAL, SPARSE]}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    local = LocalCluster(Settings(node_name=NAME), nodes=3, heap="512m")
    info = local.start(timeout=900)
    try:
        yield local
    finally:
        if not info.reused or not os.environ.get("NEURALPIPE_KEEP_NODE"):
            local.stop()


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Any:
    return make_client(Settings(opensearch_url=cluster.urls[0]), timeout=120)


@pytest.fixture(scope="module")
def follower(cluster: LocalCluster, client: Any) -> str:
    """The URL of a node that is not the elected cluster manager (nor the one the fault test
    stops): the CLI and the proxy are pointed at it, as at any node of a remote cluster."""
    manager = client.transport.perform_request(
        "GET", "/_cat/cluster_manager", params={"format": "json"}
    )[0]["node"]
    names = [n.settings.node_name for n in cluster.nodes]
    return next(url for name, url in zip(names[:2], cluster.urls, strict=False) if name != manager)


@pytest.fixture(scope="module")
def proxied(follower: str, client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("proxy")
    (root / "pipelines").mkdir()
    settings = ProxySettings(
        upstream_url=follower, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=f".nptest-{RUN}-ml", pipeline_index=f".nptest-{RUN}-pipelines",
    )  # fmt: skip
    try:
        with serve(create_app(settings, models=fake_models)) as url:
            yield OpenSearch(hosts=[url], timeout=120)
    finally:
        client.indices.delete(index=f".nptest-{RUN}-*", ignore=[404])


@pytest.fixture(scope="module")
def corpus(proxied: Any, client: Any) -> Iterator[tuple[str, str]]:
    """The same embedded documents in a 3-shard, 1-replica index and in a one-shard copy."""
    sharded, single = f"mn-{RUN}-sharded", f"mn-{RUN}-single"
    try:
        yield _fill(proxied, client, sharded, single)
    finally:
        client.indices.delete(index=f"mn-{RUN}-*", ignore=[404])


def _fill(proxied: Any, client: Any, sharded: str, single: str) -> tuple[str, str]:
    proxied.ingest.put_pipeline(id=f"embed-{RUN}", body=EMBED)
    proxied.search_pipeline.put(id=f"fuse-{RUN}", body=FUSION)
    for name, shards, replicas in ((sharded, 3, 1), (single, 1, 1)):
        body = load_mapping(REPO / "mappings" / "combined.json")
        body["settings"]["index"].update(number_of_shards=shards, number_of_replicas=replicas)
        proxied.indices.create(index=name, body=body)
    lines: list[dict[str, Any]] = []
    for doc_id, text in TEXTS.items():
        lines += [{"index": {"_index": sharded, "_id": doc_id}}, {"text": text}]
    answer = proxied.bulk(body=lines, params={"pipeline": f"embed-{RUN}", "refresh": "true"})
    assert not answer["errors"]
    client.reindex(body={"source": {"index": sharded}, "dest": {"index": single}}, refresh=True)
    _wait_health(client, status="green", index=sharded)
    return sharded, single


def _wait_health(
    client: Any,
    *,
    status: str | None = "yellow",
    nodes: int | None = None,
    index: str | None = None,
    timeout: float = 300,
) -> None:
    """Poll ``_cluster/health`` (its own ``timeout`` would clash with the client's)."""
    wanted = {"green": ("green",), "yellow": ("green", "yellow")}.get(
        status or "", ("green", "yellow", "red")
    )
    deadline = time.monotonic() + timeout
    while True:
        health = client.cluster.health(index=index)
        if health["status"] in wanted and nodes in (None, health["number_of_nodes"]):
            return
        assert time.monotonic() < deadline, health
        time.sleep(0.5)


def _hits(proxied: Any, index: str, query: dict[str, Any]) -> list[tuple[str, float]]:
    params = {"search_pipeline": f"fuse-{RUN}"} if "hybrid" in query else {}
    body = {"query": query, "size": len(TEXTS), "_source": False}
    return [(h["_id"], h["_score"]) for h in proxied.search(index=index, body=body,
                                                            params=params)["hits"]["hits"]]  # fmt: skip


def test_three_nodes_elect_one_manager_and_status_reports_them(cluster: LocalCluster) -> None:
    ports = [(n["http_port"], n["transport_port"]) for n in cluster.layout["nodes"]]
    assert len({p for pair in ports for p in pair}) == 6
    result = CliRunner().invoke(cli, ["--url", cluster.urls[0], "opensearch", "status"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["number_of_nodes"] == 3 and report["health"] in ("green", "yellow")
    names = sorted(n.settings.node_name for n in cluster.nodes)
    assert [n["name"] for n in report["nodes"]] == names
    assert sum(n["cluster_manager"] for n in report["nodes"]) == 1


def test_hybrid_normalizes_over_all_shards_hits(corpus: tuple[str, str], proxied: Any) -> None:
    """min_max over the hits of every shard: the 3-shard index fuses as its one-shard copy."""
    sharded, single = corpus
    many, one = _hits(proxied, sharded, HYBRID), _hits(proxied, single, HYBRID)
    assert len(many) > 10 and {d for d, _ in many} == {d for d, _ in one}
    fused_one = dict(one)
    assert [s for _, s in many] == pytest.approx([fused_one[d] for d, _ in many], abs=1e-6)
    assert [s for _, s in many] == sorted((s for _, s in many), reverse=True)


def test_the_cli_and_the_proxy_against_a_node_that_is_not_the_cluster_manager(
    follower: str, client: Any, proxied: Any, corpus: tuple[str, str], tmp_path: Path
) -> None:
    """``--url`` names one node of a multi-node cluster, not its manager: index create, bulk
    through a real model and neural_sparse search from the CLI; neural through the proxy."""
    index = f"mn-{RUN}-url"
    mapping = load_mapping(REPO / "mappings" / "sparse.json")
    mapping["settings"]["index"].update(number_of_shards=3, number_of_replicas=1)
    (tmp_path / "mapping.json").write_text(json.dumps(mapping))
    (tmp_path / "sparse.yaml").write_text(
        "processors:\n  - sparse_encoding:\n      model_id: bert-uncased-tokenizer\n"
        "      field_map:\n        text: text_sparse\n"
    )
    (tmp_path / "docs.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in TEXTS.items())
    )

    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, ["--url", follower, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])

    run("index", "create", index, "--mapping", str(tmp_path / "mapping.json"))
    report = run("index", "bulk", index, str(tmp_path / "docs.jsonl"), "--pipeline",
                 str(tmp_path / "sparse.yaml"), "--no-progress")  # fmt: skip
    assert (report["ok"], report["failed"]) == (len(TEXTS), 0)
    assert client.count(index=index)["count"] == len(TEXTS)
    assert client.indices.get_settings(index=index)[index]["settings"]["index"][
        "number_of_shards"] == "3"  # fmt: skip
    answer = run("search", "--index", index, "--query-type", "neural_sparse", "--query-text",
                 "shock nozzle", "--model-id", "bert-uncased-tokenizer")  # fmt: skip
    top = answer["hits"]["hits"][0]["_id"]
    assert {"shock", "nozzle"} <= set(TEXTS[top].split()), (top, TEXTS[top])
    sharded, _ = corpus  # the proxy's upstream is the same node
    assert _hits(proxied, sharded, NEURAL)
    client.indices.delete(index=index)


def test_ingest_and_search_while_a_data_node_restarts(
    cluster: LocalCluster, client: Any, proxied: Any, corpus: tuple[str, str], tmp_path: Path
) -> None:
    sharded, _ = corpus
    before = {name: _hits(proxied, sharded, q) for name, q in
              (("neural", NEURAL), ("neural_sparse", SPARSE), ("hybrid", HYBRID))}  # fmt: skip
    index = f"mn-{RUN}-ingest"
    client.indices.create(index=index, body={"settings": {"index": {
        "number_of_shards": 3, "number_of_replicas": 1}}})  # fmt: skip
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"t {i}"}) + "\n"
                            for i in range(DOCS)))  # fmt: skip
    indexer = BulkIndexer(client, index, None, fingerprint=pipeline_fingerprint(None, describe=None),
                          options=IndexingOptions(chunk_docs=500, retry_for=600))  # fmt: skip
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(report=indexer.index_files([path])))
    worker.start()
    while worker.is_alive() and client.count(index=index)["count"] < 2000:
        worker.join(timeout=0.5)
    assert cluster.stop_node(2), "the third node was not running"
    _wait_health(client, status=None, nodes=2)
    during = {name: _hits(proxied, sharded, q) for name, q in
              (("neural", NEURAL), ("neural_sparse", SPARSE), ("hybrid", HYBRID))}  # fmt: skip
    cluster.start_node(2, timeout=900)
    worker.join(timeout=900)
    assert not worker.is_alive() and result["report"].ok == DOCS
    cluster.wait_nodes(3, timeout=600, status="green")
    client.indices.refresh(index=index)
    indexed = client.count(index=index)["count"]
    found = sum(1 for d in client.mget(index=index, body={"ids": [f"d{i}" for i in range(DOCS)]},
                                       params={"_source": "false"})["docs"] if d.get("found"))  # fmt: skip
    print(
        f"\nmulti-node fault test: sent {DOCS}, indexed {indexed}, lost {DOCS - found}, "
        f"duplicated {indexed - found}"
    )
    assert (indexed, found) == (DOCS, DOCS)
    for name, hits in during.items():  # a node down: replicas answer, the same hits
        assert len(hits) > 0 and {d for d, _ in hits} == {d for d, _ in before[name]}, name
        scores = dict(before[name])
        assert [s for _, s in hits] == pytest.approx([scores[d] for d, _ in hits], abs=1e-6)
