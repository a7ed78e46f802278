"""The Ray driver's batch logic without Ray: rows → records → prepared rows → bulk results."""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

import numpy as np
import pytest
from opensearchpy.serializer import JSONSerializer

from processors.errors import ConfigError
from processors.indexing.prepare import prepare_batch
from processors.indexing.ray_ingest import (
    RayIngestJob,
    WriteSummary,
    batch_rows,
    merge_summaries,
    rows_to_records,
    write_rows,
)
from processors.indexing.ray_read import planned_blocks
from processors.indexing.records import content_id
from processors.indexing.runner import DeadLetter, IndexReport
from processors.models.device import onnx_providers, parse_device


class RefusingClient:
    """Answers 201 to every document except ids starting with ``bad``."""

    def __init__(self) -> None:
        self.transport = type("T", (), {"serializer": JSONSerializer()})()
        self.sent: list[str] = []

    def bulk(self, body: str) -> Any:
        lines = body.splitlines()[::2]
        items = []
        for meta in lines:
            doc_id = json.loads(meta)["index"]["_id"]
            self.sent.append(doc_id)
            status = 400 if doc_id.startswith("bad") else 201
            info: dict[str, Any] = {"_id": doc_id, "status": status}
            if status == 400:
                info["error"] = {"type": "mapper_parsing_exception", "reason": "no"}
            items.append({"index": info})
        return {"items": items}


def test_jsonl_rows_parse_like_the_single_process_and_ids_are_the_same() -> None:
    lines = ['{"_id": "a", "text": "x"}', '{"text": "no id"}', "[1]", '{"_id": true}']
    batch = {"text": np.array(lines, dtype=object), "path": np.array(["f.jsonl"] * 4)}
    records = rows_to_records(batch, None)
    assert [r.doc_id for r in records[:2]] == ["a", content_id({"text": "no id"})]
    assert records[0].location == "f.jsonl: _id a"
    assert records[2].is_bad and "must be a JSON object" in str(records[2].doc)
    assert records[3].is_bad and "string or an integer" in str(records[3].doc)


def test_columnar_rows_drop_nulls_so_ids_match_documents_without_the_field() -> None:
    batch = {"_id": np.array([None, "k"], dtype=object), "text": np.array(["t", "u"])}
    records = rows_to_records(batch, None)
    assert records[0].doc_id == content_id({"text": "t"}) and records[1].doc_id == "k"


def test_prepared_rows_are_written_and_refusals_dead_lettered(tmp_path: Any) -> None:
    lines = ['{"_id": "ok1", "t": 1}', '{"_id": "bad1", "t": 2}', "not json"]
    batch = {"text": np.array(lines, dtype=object), "path": np.array(["f"] * 3)}
    records = rows_to_records(batch, None)
    rows = batch_rows(prepare_batch(records, None, "idx"))
    job = RayIngestJob(index="idx", settings={}, pipeline=None)
    client = RefusingClient()
    summary = write_rows(client, job, rows)
    assert client.sent == ["ok1", "bad1"]
    assert summary.counts == {"ok": 1, "failed": 2, "dropped": 0, "unchanged": 0}
    report = IndexReport()
    dead = DeadLetter(tmp_path / "dead.jsonl")
    merge_summaries(report, [summary, WriteSummary(counts={"ok": 3})], dead)
    dead.close()
    assert (report.ok, report.failed) == (4, 2)
    records_out = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert {r["_id"] for r in records_out} == {"bad1", None}
    assert any("node refused" in r["reason"] and r["doc"] == {"_id": "bad1", "t": 2}
               for r in records_out)  # fmt: skip


def test_device_names_and_the_cpu_fallback_without_a_cuda_provider(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert parse_device("CUDA") == ("cuda", 0) and parse_device("cpu") == ("cpu", 0)
    with pytest.raises(ConfigError, match="expected cpu, cuda or cuda:N"):
        parse_device("cuda:x")
    cpu_only = type(
        "Ort", (), {"get_available_providers": staticmethod(lambda: ["CPUExecutionProvider"])}
    )
    with caplog.at_level(logging.WARNING):
        assert onnx_providers(cpu_only, "cuda") == (["CPUExecutionProvider"], "cpu")
    assert "no CUDA execution provider" in caplog.text and "runs on CPU" in caplog.text
    gpu = type("Ort", (), {"get_available_providers": staticmethod(
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])})  # fmt: skip
    providers, used = onnx_providers(gpu, "cuda:1")
    assert used == "cuda:1" and providers[0] == ("CUDAExecutionProvider", {"device_id": 1})


def test_read_blocks_hold_about_one_actor_call_of_rows(tmp_path: Any) -> None:
    lines = "".join(
        json.dumps({"_id": f"d{i}", "text": "w " * (i % 40)}) + "\n" for i in range(3000)
    )
    (tmp_path / "a.jsonl").write_text(lines)
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    for name in ("a.jsonl", "a.jsonl.gz"):  # 3,000 rows / 256 = 11.7 blocks
        assert 11 <= planned_blocks([tmp_path / name], 256, floor=4) <= 13, name
    assert planned_blocks([tmp_path / "a.jsonl"] * 2, 256, floor=4) in (23, 24, 25)
    assert planned_blocks([tmp_path / "a.jsonl"], 10_000, floor=4) == 4
    assert planned_blocks([tmp_path / "missing.jsonl"], 256, floor=6) == 6
