"""Records, batches, checkpoints, fingerprints and the per-batch function, without a node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import CheckpointError
from processors.indexing.checkpoint import Checkpoint, run_key
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.prepare import content_hash, prepare_batch
from processors.indexing.records import SourceRecord, content_id, read_records, token_batches
from processors.models.registration import ModelRegistration
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import HashEmbedder

BODY = {"processors": [{"text_embedding": {"model_id": "m", "field_map": {"text": "vec"}}}]}


def test_records_get_content_ids_and_skip_counts_positions(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "a", "text": "x"}\n\n{"text": "y"}\nnot json\n')
    records = list(read_records([corpus]))
    assert [r.seq for r in records] == [0, 1, 2]
    assert records[0].doc_id == "a"
    assert records[1].doc_id == content_id({"text": "y"})
    assert records[2].is_bad and records[2].location.endswith(":4")
    assert [r.seq for r in read_records([corpus], skip=2)] == [2]
    assert [r.doc_id for r in read_records([corpus])] == [r.doc_id for r in records]


def test_token_batches_respect_the_budget_and_the_doc_cap() -> None:
    recs = [SourceRecord(i, f"f:{i}", {"text": "w" * 400}, str(i)) for i in range(10)]
    sizes = [len(b) for b in token_batches(recs, token_budget=350, max_docs=100)]
    assert sizes == [3, 3, 3, 1]  # 101 estimated tokens each
    assert [len(b) for b in token_batches(recs, token_budget=10**6, max_docs=4)] == [4, 4, 2]


def test_checkpoint_round_trip_and_refuses_another_runs_file(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    Checkpoint(key="k1", settled=42, dead_letter_bytes=7, counts={"ok": 40}).save(path)
    loaded = Checkpoint.load(path, "k1")
    assert loaded is not None and (loaded.settled, loaded.counts) == (42, {"ok": 40})
    with pytest.raises(CheckpointError, match="another run"):
        Checkpoint.load(path, "k2")
    path.write_text("{broken")
    with pytest.raises(CheckpointError, match="unreadable"):
        Checkpoint.load(path, "k1")
    assert Checkpoint.load(tmp_path / "none.json", "k1") is None


def test_run_key_changes_with_inputs(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("{}\n")
    key = run_key("idx", [corpus], "fp")
    assert key == run_key("idx", [corpus], "fp")
    assert key != run_key("other", [corpus], "fp") != run_key("idx", [corpus], "fp2")
    assert key != run_key("idx", [corpus], "fp", "url")


def test_fingerprint_names_model_facts_and_ignores_cosmetic_options() -> None:
    reg = ModelRegistration.model_validate({
        "name": "m", "function_name": "TEXT_EMBEDDING", "model_format": "ONNX",
        "model_content_hash_value": "abc",
        "model_config": {"model_type": "bert", "embedding_dimension": 8,
                         "framework_type": "sentence_transformers", "pooling_mode": "mean"},
    })  # fmt: skip
    spec = parse_ingest_pipeline("p", BODY)
    fp = pipeline_fingerprint(spec, describe=lambda _: reg, truncation="fail")
    (step,) = fp["steps"]
    assert step["model"]["hash"] == "abc" and step["model"]["truncation"] == "fail"
    assert step["model"]["pooling_mode"] == "mean"
    tagged = json.loads(json.dumps(BODY))
    tagged["processors"][0]["text_embedding"].update(tag="t", batch_size=8)
    again = pipeline_fingerprint(parse_ingest_pipeline("p", tagged), describe=lambda _: reg)
    assert again["digest"] != fp["digest"]  # truncation differs
    same = pipeline_fingerprint(parse_ingest_pipeline("p", tagged), describe=lambda _: reg,
                                truncation="fail")  # fmt: skip
    assert same["digest"] == fp["digest"]


def test_prepare_batch_is_a_plain_function_of_its_inputs() -> None:
    pipeline = IngestPipeline(parse_ingest_pipeline("p", BODY), encoders=lambda _: HashEmbedder(4))
    recs = [
        SourceRecord(5, "f:1", {"_id": "a", "text": "hello"}, "a"),
        SourceRecord(6, "f:2", {"text": 3}, "b"),
        SourceRecord(7, "f:3", {"text": "same"}, "c"),
    ]
    known = {"c": content_hash({"text": "same"}, "fp")}
    batch = prepare_batch(recs, pipeline, "idx", hash_field="h", known_hashes=known,
                          fingerprint="fp")  # fmt: skip
    assert (batch.first_seq, batch.end_seq, batch.unchanged) == (5, 8, 1)
    (action,) = batch.actions
    assert action["_id"] == "a" and len(action["_source"]["vec"]) == 4
    assert action["_source"]["h"] == content_hash({"text": "hello"}, "fp")
    (failure,) = batch.failures
    assert failure.doc_id == "b" and "neither string nor nested" in failure.reason
    assert recs[0].doc == {"_id": "a", "text": "hello"}  # inputs are not mutated
    again: Any = prepare_batch(recs, pipeline, "idx", hash_field="h", known_hashes=known,
                               fingerprint="fp")  # fmt: skip
    assert again.actions == batch.actions
