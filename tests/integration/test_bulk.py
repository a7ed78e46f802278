"""The bulk indexer against the real node: nothing lost, every failure in the dead-letter file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from processors.config.ingest_body import parse_ingest_pipeline
from processors.indexing.bulk import BulkIndexer
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.runner import IndexingOptions
from processors.opensearch.indices import create_index, load_mapping
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

PIPELINE = {"processors": [
    {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}},
    {"sparse_encoding": {"model_id": "sparse", "field_map": {"text": "text_sparse"}}},
]}  # fmt: skip


FP = pipeline_fingerprint(None, describe=None)


def encoders(model_id: str) -> Any:
    return HashEmbedder(384) if model_id == "dense" else CountSparseEncoder()


def test_valid_documents_indexed_and_malformed_ones_dead_lettered(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    create_index(client, index_name, load_mapping(REPO / "mappings/combined.json"), embedded=True)
    good = [{"_id": f"g{i}", "text": f"document number {i} about wings"} for i in range(300)]
    lines = [json.dumps(d) for d in good]
    lines += ['{"_id": "bad-json", "text": ', "[1, 2]", json.dumps({"_id": "bad-type", "text": 42})]
    lines += [json.dumps({"_id": "bad-list", "text": ["a", None]})]
    corpus = tmp_path / "docs.jsonl.gz"
    with gzip.open(corpus, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.write('{"_id": "not-utf8", "text": "caf\xe9"}\n'.encode("latin-1").decode("latin-1"))
    raw = gzip.decompress(corpus.read_bytes()).replace(b"caf\xc3\xa9", b"caf\xe9")
    corpus.write_bytes(gzip.compress(raw))
    dead = tmp_path / "dead.jsonl"
    pipeline = IngestPipeline(
        parse_ingest_pipeline("p", PIPELINE), encoders=encoders, client=client
    )
    indexer = BulkIndexer(client, index_name, pipeline, fingerprint=FP, dead_letter=dead,
                          options=IndexingOptions(chunk_docs=50, max_batch_docs=64))  # fmt: skip
    report = indexer.index_files([corpus])
    assert report.ok == 300
    assert report.failed == 5
    assert client.count(index=index_name)["count"] == 300
    records = [json.loads(line) for line in dead.read_text().splitlines()]
    reasons = {r["_id"] or r["location"].rsplit(":", 1)[1]: r["reason"] for r in records}
    assert "not valid JSON" in reasons["301"]
    assert "must be a JSON object" in reasons["302"]
    assert "neither string nor nested type" in reasons["bad-type"]
    assert "has null" in reasons["bad-list"]
    assert "not valid UTF-8" in reasons["305"]
    assert {r["doc"]["_id"] for r in records if isinstance(r["doc"], dict)} == {
        "bad-type",
        "bad-list",
    }
    stored = client.get(index=index_name, id="g7")["_source"]
    assert len(stored["text_embedding"]) == 384 and stored["text_sparse"]["wings"] == 1.0


def test_documents_the_node_refuses_are_dead_lettered_with_their_source(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    create_index(client, index_name, load_mapping(REPO / "mappings/dense.json"), embedded=True)
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text(
        json.dumps({"_id": "ok", "text_embedding": [0.1] * 384}) + "\n"
        + json.dumps({"_id": "short", "text_embedding": [0.1] * 3}) + "\n"
    )  # fmt: skip
    dead = tmp_path / "dead.jsonl"
    indexer = BulkIndexer(client, index_name, None, fingerprint=FP, dead_letter=dead)
    report = indexer.index_files([corpus])
    assert (report.ok, report.failed) == (1, 1)
    (record,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert record["_id"] == "short" and "dimension" in record["reason"]
    assert record["doc"]["text_embedding"] == [0.1] * 3
