"""``neuralpipe index bulk`` against the real node: default pipeline, report, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.main import cli

pytestmark = pytest.mark.integration


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    write(tmp_path / "pipes/ingest/stamp.yaml",
          "processors:\n  - set:\n      field: stamped\n      value: yes-{{_id}}\n")  # fmt: skip
    return tmp_path / "pipes"


def run(url: str, pipes: Path, *args: str) -> Any:
    env = {"NEURALPIPE_PIPELINES_DIR": str(pipes)}
    return CliRunner().invoke(cli, ["--url", url, "index", *args], env=env)


def test_index_default_pipeline_from_the_mapping_is_used_and_reported(
    opensearch_url: str, client: Any, index_name: str, pipelines: Path, tmp_path: Path
) -> None:
    mapping = write(tmp_path / "m.json", json.dumps({
        "settings": {"index": {"number_of_replicas": 0, "default_pipeline": "stamp"}},
        "mappings": {"properties": {"text": {"type": "text"}}},
    }))  # fmt: skip
    assert (
        run(opensearch_url, pipelines, "create", index_name, "--mapping", str(mapping)).exit_code
        == 0
    )
    corpus = write(tmp_path / "c.jsonl", "".join(
        json.dumps({"_id": f"d{i}", "text": f"t {i}"}) + "\n" for i in range(30)))  # fmt: skip
    result = run(opensearch_url, pipelines, "bulk", index_name, str(corpus), "--no-progress")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert (report["pipeline"], report["ok"], report["failed"]) == ("stamp", 30, 0)
    assert set(report["seconds"]) >= {"prepare", "bulk", "refresh", "total"}
    assert client.get(index=index_name, id="d7")["_source"]["stamped"] == "yes-d7"


def test_failures_exit_1_with_dead_letter_and_resume_of_a_finished_run_is_a_no_op(
    opensearch_url: str, client: Any, index_name: str, pipelines: Path, tmp_path: Path
) -> None:
    client.indices.create(index=index_name)
    corpus = write(tmp_path / "c.jsonl", '{"_id": "a", "text": "x"}\nnot json\n')
    dead, checkpoint = tmp_path / "dead.jsonl", tmp_path / "cp.json"
    common = ["--pipeline", "stamp", "--no-progress", "--dead-letter", str(dead),
              "--checkpoint", str(checkpoint)]  # fmt: skip
    first = run(opensearch_url, pipelines, "bulk", index_name, str(corpus), *common)
    assert first.exit_code == 1 and "1 document(s) failed" in first.output
    assert json.loads(dead.read_text())["location"].endswith("c.jsonl:2")
    again = run(opensearch_url, pipelines, "bulk", index_name, str(corpus), *common, "--resume")
    report = json.loads(again.output.strip().splitlines()[0])
    assert (report["resumed_from"], report["ok"], report["failed"]) == (2, 1, 1)
    assert len(dead.read_text().splitlines()) == 1


def test_unknown_pipeline_id_is_a_usage_error(
    opensearch_url: str, index_name: str, pipelines: Path, tmp_path: Path
) -> None:
    corpus = write(tmp_path / "c.jsonl", "{}\n")
    result = run(opensearch_url, pipelines, "bulk", index_name, str(corpus), "--pipeline", "stmap")
    assert result.exit_code == 2 and "stmap" in result.output
