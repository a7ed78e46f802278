"""Poison lines mixed into good ones: every good document indexed, each poison dead-lettered
with its reason, the documented exit code, and a stopped run that ``--resume`` completes."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.errors import CheckpointError, ClusterUnavailableError
from processors.indexing.bulk import RunControl
from processors.indexing.runner import IndexingOptions, IndexReport
from processors.indexing.sender import send_actions
from processors.opensearch.client import make_client
from processors.settings import Settings
from tests.faults.common import MAPPING, good_docs, ledger, make_indexer, stored_ids
from tests.faults.conftest import FaultTable
from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration
POISON = [
    (json.dumps({"_id": "x" * 513, "text": "long id"}), "513 bytes long"),
    ('{"_id": "s1", "text": "one \\ud800 lone surrogate"}', "lone surrogate (U+D800)"),
    ('{"_id": "\\udfff", "text": "surrogate id"}', "lone surrogate (U+DFFF)"),
    ('{"_id": "deep", "v": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper than 100"),
    ('{"_id": true, "text": "bool id"}', "not bool"),
    ('{"_id": {"o": 1}, "text": "object id"}', "not dict"),
    ('{"_id": 1.5, "text": "float id"}', "not float"),
    ('{"_id": "", "text": "empty id"}', "must not be empty"),
]


def poisoned_corpus(path: Path, good: list[dict[str, Any]]) -> dict[int, str]:
    """A BOM, the good documents with every poison line among them; line -> expected reason."""
    rows = [json.dumps(d) for d in good]
    rng = random.Random(16)
    spots = sorted(rng.sample(range(1, len(rows)), len(POISON)), reverse=True)
    for spot, (raw, _) in zip(spots, POISON, strict=True):
        rows.insert(spot, raw)
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode() + b"\n")
    reasons = {}
    for number, row in enumerate(rows, start=1):
        for raw, reason in POISON:
            if row is raw:
                reasons[number] = reason
    return reasons


def check_dead_letters(dead: Path, reasons: dict[int, str]) -> None:
    records = [json.loads(x) for x in dead.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(POISON)
    for record in records:
        line = int(record["location"].rsplit(":", 1)[1])
        assert reasons[line] in record["reason"], record["reason"][:200]


def test_poison_lines_stop_nothing_and_a_stopped_run_resumes_to_the_end(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path, fault_table: FaultTable
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    good = good_docs(600)
    corpus, dead, cp = tmp_path / "c.jsonl", tmp_path / "dead.jsonl", tmp_path / "cp.json"
    reasons = poisoned_corpus(corpus, good)
    proxy = FaultProxy(opensearch_url)
    proxy.start()
    proxied = make_client(Settings(opensearch_url=proxy.url))

    def down_after_two(report: IndexReport) -> None:
        if report.settled >= 200:
            proxy.stop()

    control = RunControl(checkpoint=cp, resume=True)
    short = IndexingOptions(chunk_docs=100, max_batch_docs=100, retry_for=2)
    with pytest.raises(ClusterUnavailableError, match="--resume"):
        make_indexer(proxied, index_name, options=short, control=control, dead_letter=dead,
                     on_batch=down_after_two).index_files([corpus])  # fmt: skip
    proxy.start()
    # an edit that keeps the size and the mtime is still seen: resuming is refused
    stat, original = corpus.stat(), corpus.read_bytes()
    corpus.write_bytes(original.replace(b"document 7 ", b"document 8 ", 1))
    os.utime(corpus, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(CheckpointError, match="changed since the interrupted run"):
        make_indexer(proxied, index_name, control=control, dead_letter=dead).index_files([corpus])
    corpus.write_bytes(original)
    report = make_indexer(proxied, index_name, control=control,
                          dead_letter=dead).index_files([corpus])  # fmt: skip
    proxy.stop()
    assert report.resumed_from >= 200 and (report.ok, report.failed) == (600, len(POISON))
    found = fault_table.record(
        f"{len(POISON)} poison lines + BOM among 600 valid (sent = valid), outage, --resume",
        ledger(client, index_name, good, dead),
    )
    assert found == {
        "sent": 600, "indexed": 600, "dead": len(POISON), "lost": 0, "duplicated": 0}  # fmt: skip
    check_dead_letters(dead, reasons)


def test_the_cli_exits_1_with_failures_and_2_for_a_missing_index(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path
) -> None:
    pipes = tmp_path / "pipes" / "ingest"
    pipes.mkdir(parents=True)
    (pipes / "stamp.yaml").write_text(
        "processors:\n  - set:\n      field: stamped\n      value: y\n"
    )
    corpus, dead = tmp_path / "c.jsonl", tmp_path / "dead.jsonl"
    good = good_docs(300)
    good.append({"_id": "d1", "text": "the same id again"})  # a repeated id: reported
    reasons = poisoned_corpus(corpus, good)
    env = {"NEURALPIPE_PIPELINES_DIR": str(tmp_path / "pipes")}
    args = ["--url", opensearch_url, "index", "bulk", index_name, str(corpus), "--pipeline",
            "stamp", "--no-progress", "--dead-letter", str(dead)]  # fmt: skip
    missing = CliRunner().invoke(cli, args, env=env)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    client.indices.create(index=index_name, body=MAPPING)
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1, result.output
    assert f"{len(POISON)} document(s) failed" in result.output
    report = json.loads(next(x for x in result.output.splitlines() if x.startswith("{")))
    assert (report["ok"], report["failed"], report["duplicates"]) == (301, len(POISON), 1)
    assert "repeat an earlier id" in result.output
    assert client.get(index=index_name, id="d1")["_source"]["text"] == "the same id again"
    check_dead_letters(dead, reasons)
    assert len(set(stored_ids(client, index_name))) == 300


def test_a_request_the_node_refuses_whole_is_narrowed_to_the_one_document(
    client: Any, index_name: str
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    actions = [{"_index": index_name, "_id": f"a{i}", "_source": {"text": f"t {i}"}}
               for i in range(50)]  # fmt: skip
    actions[31]["_id"] = "y" * 600  # the node answers 400 to the whole request for this one
    results = send_actions(client, actions, chunk_docs=50)
    failed = [item["index"] for ok, item in results if not ok]
    assert len(failed) == 1 and failed[0]["_id"] == "y" * 600 and failed[0]["status"] == 400
    assert len(stored_ids(client, index_name)) == 49
