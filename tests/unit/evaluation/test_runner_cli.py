"""Query bodies per way, fields from ingest pipelines, run_way with a stub, chart, CLI wiring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.eval_cmds import format_table
from processors.cli.main import cli
from processors.config.ingest_body import load_ingest_pipeline
from processors.config.search_body import parse_search_pipeline
from processors.errors import ConfigError
from processors.evaluation.beir import load_beir, write_beir
from processors.evaluation.chart import write_chart
from processors.evaluation.runner import (
    QueryFields,
    WayRun,
    joined_corpus,
    query_body,
    reranks,
    run_way,
)

REPO = Path(__file__).resolve().parents[3]
INGEST = REPO / "pipelines" / "ingest"


def test_fields_and_models_come_from_the_ingest_pipeline() -> None:
    both = QueryFields.from_pipeline(load_ingest_pipeline(INGEST / "demo-embed.yaml"))
    assert (both.text, both.dense, both.sparse) == ("text", "text_embedding", "text_sparse")
    assert (both.dense_model, both.sparse_model) == (
        "all-minilm-l6-v2-onnx",
        "bert-uncased-tokenizer",
    )
    assert both.available_ways() == ("bm25", "neural", "neural_sparse", "hybrid")
    dense = QueryFields.from_pipeline(load_ingest_pipeline(INGEST / "minilm-dense.yaml"))
    assert dense.available_ways() == ("bm25", "neural", "hybrid")
    with pytest.raises(ConfigError, match=r"way\(s\) \['neural_sparse'\] need a field"):
        dense.check(("bm25", "neural_sparse"))
    assert QueryFields.from_pipeline(None).available_ways() == ("bm25",)


def test_query_bodies_per_way() -> None:
    fields = QueryFields(dense_model="dense-m", sparse_model="sparse-m")
    match = {"match": {"text": "lift"}}
    neural = {"neural": {"text_embedding": {"query_text": "lift", "k": 50, "model_id": "dense-m"}}}
    expected = {
        "bm25": match,
        "neural": neural,
        "neural_sparse": {
            "neural_sparse": {"text_sparse": {"query_text": "lift", "model_id": "sparse-m"}}
        },
        "hybrid": {"hybrid": {"queries": [match, neural]}},
    }
    for way, query in expected.items():
        assert query_body(way, "lift", fields, depth=50) == {
            "size": 50,
            "query": query,
            "_source": False,
        }
    no_model = query_body("neural", "lift", QueryFields(), depth=10)["query"]
    assert no_model == {"neural": {"text_embedding": {"query_text": "lift", "k": 10}}}
    with pytest.raises(ConfigError, match="unknown way 'rerank'"):
        query_body("rerank", "lift", fields)


def test_an_ml_opensearch_rerank_gets_the_query_text_and_the_source() -> None:
    rerank = parse_search_pipeline(
        "r",
        {"response_processors": [{"rerank": {"ml_opensearch": {"model_id": "ce"},
                                             "context": {"document_fields": ["text"]}}}]},
    )  # fmt: skip
    by_field = parse_search_pipeline(
        "f", {"response_processors": [{"rerank": {"by_field": {"target_field": "stars"}}}]}
    )
    assert reranks(rerank) and not reranks(by_field) and not reranks(None)
    body = query_body("bm25", "lift", QueryFields(), rerank=True)
    assert body["ext"] == {"rerank": {"query_context": {"query_text": "lift"}}}
    assert "_source" not in body


class StubPipeline:
    spec = None

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, dict[str, Any]]] = []

    def search(self, index: str | None, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((index, body))
        text = body["query"]["match"]["text"]
        return {"hits": {"hits": [{"_id": f"{text}-{i}"} for i in (2, 1)]}}


def test_run_way_returns_ids_in_hit_order_per_query() -> None:
    stub = StubPipeline()
    ticks: list[int] = []
    run = run_way(stub, "docs", {"q1": "a", "q2": "b"}, "bm25", QueryFields(),  # type: ignore[arg-type]
                  depth=10, on_query=lambda: ticks.append(1))  # fmt: skip
    assert run.way == "bm25" and run.ranking == {"q1": ["a-2", "a-1"], "q2": ["b-2", "b-1"]}
    assert [c[0] for c in stub.calls] == ["docs", "docs"] and len(ticks) == 2
    assert run.ms_per_query >= 0


def test_joined_corpus_prefixes_the_title(tmp_path: Path) -> None:
    docs = [{"_id": "1", "title": "Wing", "text": "lift"}, {"_id": "2", "text": "drag"}]
    data = load_beir(write_beir(tmp_path, docs, {"q": "x"}, {"q": {"1": 1}}))
    out = joined_corpus(data, tmp_path / "joined.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["Wing lift", "drag"]
    assert rows[0]["title"] == "Wing"


def test_chart_is_a_png(tmp_path: Path) -> None:
    scores = {"bm25": {"nDCG@10": 0.4, "MRR@10": 0.5}, "neural": {"nDCG@10": 0.45, "MRR@10": 0.6}}
    path = write_chart(scores, tmp_path / "sub" / "chart.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_has_one_row_per_way() -> None:
    runs = [WayRun("bm25", {"q": []}, 0.002), WayRun("hybrid", {"q": []}, 0.004)]
    scores = {w: {"nDCG@10": 0.5, "recall@100": 0.75, "MRR@10": 1.0} for w in ("bm25", "hybrid")}
    lines = format_table(scores, runs).splitlines()
    assert lines[0].split() == ["way", "nDCG@10", "recall@100", "MRR@10", "ms/query"]
    assert lines[2].split() == ["hybrid", "0.5000", "0.7500", "1.0000", "4.0"]


def test_eval_help() -> None:
    result = CliRunner().invoke(cli, ["eval", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--dataset", "--ingest-pipeline", "--way", "--chart", "--reindex"):
        assert option in result.output


def test_eval_module_imports_nothing_heavy() -> None:
    code = (
        "import sys; import processors.cli.eval_cmds;"
        "heavy = {'torch', 'onnxruntime', 'matplotlib', 'pytrec_eval'} & set(sys.modules);"
        "print(sorted(heavy)); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--way", "neural_sparse"], "need a field the ingest pipeline does not fill"),
        (["--way", "hybrid", "--hybrid-pipeline", "neural-defaults"], "needs a normalization"),
        (["--ingest-pipeline", "nope"], "ingest pipeline 'nope': no such file"),
    ],
)
def test_configuration_errors_exit_2_before_touching_the_node(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    args = ["--url", "http://127.0.0.1:9", "eval", "--dataset", str(tmp_path), "--index", "x"]
    if "--ingest-pipeline" not in extra:
        args += ["--ingest-pipeline", "minilm-dense"]
    result = CliRunner().invoke(
        cli, [*args, *extra], env={"NEURALPIPE_PIPELINES_DIR": str(REPO / "pipelines")}
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
