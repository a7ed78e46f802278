"""Fault tests of the bulk indexer against the real node: kills, outages, 429s, bad documents."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import helpers

from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import ClusterUnavailableError, FingerprintMismatchError
from processors.indexing.bulk import BulkIndexer, RunControl
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.records import content_id
from processors.indexing.runner import IndexingOptions, IndexReport
from processors.opensearch.client import make_client
from processors.pipeline.ingest import IngestPipeline
from processors.settings import Settings
from processors.testing.fakes import HashEmbedder
from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BODY = {"processors": [
    {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}},
]}  # fmt: skip
MAPPING = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {"properties": {
        "text": {"type": "text"}, "title": {"type": "keyword"},
        "text_embedding": {"type": "knn_vector", "dimension": 8, "method": {
            "name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}},
    }},
}  # fmt: skip


def make_indexer(client: Any, index: str, **kwargs: Any) -> BulkIndexer:
    spec = parse_ingest_pipeline("faults", kwargs.pop("body", BODY))
    pipeline = IngestPipeline(spec, encoders=lambda _: HashEmbedder(8), client=client)
    kwargs.setdefault("options", IndexingOptions(chunk_docs=100, max_batch_docs=100))
    return BulkIndexer(client, index, pipeline,
                       fingerprint=pipeline_fingerprint(spec, describe=None), **kwargs)  # fmt: skip


def write_corpus(path: Path, count: int, *, bad_every: int = 0) -> tuple[set[str], int]:
    """``count`` docs, every other one without ``_id``; returns expected ids and bad lines."""
    ids: set[str] = set()
    bad = line = 0
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            if bad_every and i and i % bad_every == 0:
                handle.write('{"text": \n')
                bad += 1
                line += 1
            line += 1
            doc: dict[str, Any] = {"text": f"document {i} on supersonic flow number {i % 97}"}
            if i % 2:
                doc["_id"] = f"d{i}"
                ids.add(f"d{i}")
            else:
                ids.add(content_id(doc))
            handle.write(json.dumps(doc) + "\n")
    return ids, bad


def all_ids(client: Any, index: str) -> list[str]:
    client.indices.refresh(index=index)
    query = {"query": {"match_all": {}}, "_source": False}
    return [hit["_id"] for hit in helpers.scan(client, index=index, query=query)]


def test_sigkill_at_random_points_then_resume_loses_and_duplicates_nothing(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    corpus, checkpoint, dead = tmp_path / "c.jsonl", tmp_path / "cp.json", tmp_path / "dead.jsonl"
    expected, bad = write_corpus(corpus, 20_000, bad_every=1000)
    command = [sys.executable, "-m", "tests.integration.bulk_child", opensearch_url, index_name,
               str(corpus), str(checkpoint), str(dead)]  # fmt: skip
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 2.5))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
    final = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    settled, _ok, failed = map(int, final.stdout.split())
    assert kills >= 2, "the run finished before it could be killed twice"
    assert (settled, failed) == (20_000 + bad, bad)
    ids = all_ids(client, index_name)
    assert len(ids) == len(set(ids)) == 20_000
    assert set(ids) == expected
    dead_lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert len(dead_lines) == bad == len({d["location"] for d in dead_lines})


def test_node_outage_mid_run_is_waited_out(client: Any, index_name: str, opensearch_url: str,
                                           tmp_path: Path) -> None:  # fmt: skip
    client.indices.create(index=index_name, body=MAPPING)
    corpus = tmp_path / "c.jsonl"
    expected, _ = write_corpus(corpus, 3000)
    proxy = FaultProxy(opensearch_url)
    proxy.start()
    batches = []

    def outage(report: IndexReport) -> None:
        batches.append(report.settled)
        if len(batches) == 3:
            proxy.stop()
            threading.Timer(3.0, proxy.start).start()

    proxied = make_client(Settings(opensearch_url=proxy.url))
    report = make_indexer(proxied, index_name, on_batch=outage).index_files([corpus])
    assert (report.ok, report.failed) == (3000, 0)
    assert set(all_ids(client, index_name)) == expected
    proxy.stop()


def test_outage_longer_than_retry_window_stops_then_resume_completes(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    corpus, checkpoint = tmp_path / "c.jsonl", tmp_path / "cp.json"
    expected, _ = write_corpus(corpus, 2000)
    proxy = FaultProxy(opensearch_url)
    proxy.start()
    proxied = make_client(Settings(opensearch_url=proxy.url))

    def down_after_two(report: IndexReport) -> None:
        if report.settled >= 200:
            proxy.stop()

    options = IndexingOptions(chunk_docs=100, max_batch_docs=100, retry_for=3)
    control = RunControl(checkpoint=checkpoint, resume=True)
    with pytest.raises(ClusterUnavailableError, match="--resume"):
        make_indexer(proxied, index_name, options=options, control=control,
                     on_batch=down_after_two).index_files([corpus])  # fmt: skip
    stored = json.loads(checkpoint.read_text())
    assert 200 <= stored["settled"] < 2000 and not stored["complete"]
    proxy.start()
    report = make_indexer(proxied, index_name, control=control).index_files([corpus])
    assert report.resumed_from == stored["settled"]
    assert report.ok == 2000 and report.failed == 0
    ids = all_ids(client, index_name)
    assert len(ids) == 2000 and set(ids) == expected
    proxy.stop()


def test_injected_429_and_503_answers_are_retried(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    corpus = tmp_path / "c.jsonl"
    expected, _ = write_corpus(corpus, 1000)
    proxy = FaultProxy(opensearch_url)
    proxy.fail_bulk = [429, 503, 429, 429, 503]
    proxy.start()
    proxied = make_client(Settings(opensearch_url=proxy.url))
    report = make_indexer(proxied, index_name).index_files([corpus])
    assert proxy.injected == 5
    assert (report.ok, report.failed) == (1000, 0)
    assert set(all_ids(client, index_name)) == expected
    proxy.stop()


MALFORMED = [
    ('{"text": 42}', "neither string nor nested type"),
    ('{"text": true}', "neither string nor nested type"),
    ('{"text": ["a", null]}', "has null"),
    ('{"text": ["a", 3]}', "has non string value"),
    ('{"text": [["a"]]}', "is nested list type"),
    ('{"text": "truncated', "not valid JSON"),
    ('["not", "an", "object"]', "must be a JSON object"),
    ('"just a string"', "must be a JSON object"),
]


def test_1000_malformed_documents_are_dead_lettered_and_valid_ones_indexed(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    corpus, dead = tmp_path / "c.jsonl", tmp_path / "dead.jsonl"
    expected_reason: dict[int, str] = {}
    with corpus.open("wb") as handle:
        line = 0
        for i in range(3000):
            line += 1
            if i % 3:
                handle.write(json.dumps({"_id": f"ok{i}", "text": f"valid {i}"}).encode() + b"\n")
                continue
            kind = (i // 3) % (len(MALFORMED) + 2)
            if kind < len(MALFORMED):
                raw, reason = MALFORMED[kind]
                handle.write(raw.encode() + b"\n")
            elif kind == len(MALFORMED):
                handle.write(b'{"text": "caf\xe9 latin-1"}\n')
                reason = "not valid UTF-8"
            else:  # 1 MB in a keyword field: the node refuses the immense term
                big = {"_id": f"big{i}", "title": "x" * 1_000_000, "text": "ok"}
                handle.write(json.dumps(big).encode() + b"\n")
                reason = "node refused"
            expected_reason[line] = reason
    report = make_indexer(client, index_name, dead_letter=dead).index_files([corpus])
    assert (report.ok, report.failed) == (2000, 1000)
    assert client.count(index=index_name)["count"] == 2000
    records = [json.loads(x) for x in dead.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1000
    for record in records:
        line = int(record["location"].rsplit(":", 1)[1])
        assert expected_reason.pop(line) in record["reason"], record["reason"][:200]
    assert not expected_reason


def test_skip_unchanged_reindexes_only_changed_documents(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    corpus = tmp_path / "c.jsonl"
    docs = [{"_id": f"d{i}", "text": f"text {i}"} for i in range(100)]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    control = RunControl(skip_unchanged=True)
    first = make_indexer(client, index_name, control=control).index_files([corpus])
    assert (first.ok, first.unchanged) == (100, 0)
    again = make_indexer(client, index_name, control=control).index_files([corpus])
    assert (again.ok, again.unchanged) == (0, 100)
    for i in (3, 50, 99):
        docs[i]["text"] = f"changed {i}"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    changed = make_indexer(client, index_name, control=control).index_files([corpus])
    assert (changed.ok, changed.unchanged) == (3, 97)
    assert client.get(index=index_name, id="d50")["_source"]["text"] == "changed 50"


def test_a_different_fingerprint_is_refused_unless_forced(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "1", "text": "a b"}) + "\n")
    make_indexer(client, index_name).index_files([corpus])
    meta = client.indices.get_mapping(index=index_name)[index_name]["mappings"]["_meta"]
    assert meta["neuralpipe"]["fingerprint"]["steps"][0]["model_id"] == "dense"
    other = {
        "processors": [
            {"text_embedding": {"model_id": "other-model", "field_map": {"text": "text_embedding"}}}
        ]
    }
    with pytest.raises(FingerprintMismatchError, match="model_id: index has 'dense'"):
        make_indexer(client, index_name, body=other).index_files([corpus])
    forced = make_indexer(client, index_name, body=other, control=RunControl(force=True))
    assert forced.index_files([corpus]).ok == 1
    meta = client.indices.get_mapping(index=index_name)[index_name]["mappings"]["_meta"]
    assert meta["neuralpipe"]["fingerprint"]["steps"][0]["model_id"] == "other-model"
