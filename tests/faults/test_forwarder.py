"""A forwarder between the indexer and the real node injects back-pressure, 5xx, resets and an
outage: nothing lost, nothing duplicated, nothing dead-lettered, with an all-neuralpipe
pipeline and with one that has a core processor (run by the node's ``_simulate``)."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.indexing.runner import IndexReport
from processors.opensearch.client import make_client
from processors.settings import Settings
from tests.faults.common import (
    MAPPING,
    MIXED,
    good_docs,
    ledger,
    make_indexer,
    stored_ids,
    write_jsonl,
)
from tests.faults.conftest import FaultTable
from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration
CLEAN = {"lost": 0, "duplicated": 0, "dead": 0}


def outage_at(proxy: FaultProxy, batch: int, seconds: float) -> Any:
    seen: list[int] = []

    def on_batch(report: IndexReport) -> None:
        seen.append(report.settled)
        if len(seen) == batch:
            proxy.stop()
            threading.Timer(seconds, proxy.start).start()

    return on_batch


def test_all_neuralpipe_pipeline_through_every_fault(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path, fault_table: FaultTable
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    docs = good_docs(2000)
    corpus, dead = write_jsonl(tmp_path / "c.jsonl", docs), tmp_path / "dead.jsonl"
    proxy = FaultProxy(opensearch_url)
    proxy.item_429, proxy.reset_bulk, proxy.fail_bulk = 6, 2, [429, 503, 429, 502]
    proxy.start()
    proxied = make_client(Settings(opensearch_url=proxy.url))
    report = make_indexer(proxied, index_name, dead_letter=dead,
                          on_batch=outage_at(proxy, 8, 20.0)).index_files([corpus])  # fmt: skip
    proxy.stop()
    assert proxy.items_refused >= 150 and proxy.resets == 2 and proxy.injected == 4
    assert (report.ok, report.failed) == (2000, 0)
    found = fault_table.record(
        f"all-neuralpipe pipeline: {proxy.items_refused} item 429s, 2 resets, whole-request "
        "429/503/429/502, 20 s outage",
        ledger(client, index_name, docs, dead),
    )
    assert found == {"sent": 2000, "indexed": 2000, **CLEAN}, found


def test_mixed_pipeline_waits_out_an_outage_that_hits_simulate(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path, fault_table: FaultTable
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    docs = good_docs(1200)
    corpus, dead = write_jsonl(tmp_path / "c.jsonl", docs), tmp_path / "dead.jsonl"
    proxy = FaultProxy(opensearch_url)
    proxy.fail_simulate, proxy.item_429 = [503, 429], 3
    proxy.start()
    proxied = make_client(Settings(opensearch_url=proxy.url))

    def arm_outage(report: IndexReport) -> None:
        if report.settled >= 300 and not proxy.simulate_outages:
            proxy.outage_on_simulate = 20.0  # the next _simulate call finds the node gone

    report = make_indexer(proxied, index_name, body=MIXED, dead_letter=dead,
                          on_batch=arm_outage).index_files([corpus])  # fmt: skip
    proxy.stop()
    assert proxy.injected == 2 and proxy.items_refused > 0 and proxy.simulate_outages == 1
    assert (report.ok, report.failed) == (1200, 0)
    found = fault_table.record(
        f"mixed pipeline (set + text_embedding): {proxy.items_refused} item 429s, _simulate "
        "503/429, 20 s outage on _simulate",
        ledger(client, index_name, docs, dead),
    )
    assert found == {"sent": 1200, "indexed": 1200, **CLEAN}, found
    hit = client.search(index=index_name, body={"query": {"term": {"stamped": "yes"}}})
    assert hit["hits"]["total"]["value"] == 1200


def test_the_same_documents_are_the_same_documents_from_stdin_or_gzip(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path, fault_table: FaultTable
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    docs = [{"text": f"no id here {i}"} for i in range(500)]
    text = "".join(json.dumps(d) + "\n" for d in docs)
    packed = tmp_path / "docs.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    base = ["--url", opensearch_url, "index", "bulk", index_name, "--no-progress"]
    first = CliRunner().invoke(cli, [*base, "-"], input=text)
    assert first.exit_code == 0, first.output
    assert len(stored_ids(client, index_name)) == 500
    again = CliRunner().invoke(cli, [*base, str(packed)])
    assert again.exit_code == 0, again.output
    found = fault_table.record(
        "500 documents without _id sent twice (stdin, then .jsonl.gz)",
        ledger(client, index_name, docs),
    )
    assert found == {"sent": 500, "indexed": 500, **CLEAN}, found
