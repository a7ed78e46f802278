"""TREC run files, paired significance, the eval table, shipped mappings, batch search input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.cli.eval_cmds import format_table
from processors.cli.main import cli
from processors.cli.search_cmds import read_queries_file
from processors.errors import ConfigError
from processors.evaluation.metrics import per_query
from processors.evaluation.runner import WayRun
from processors.evaluation.significance import p_value, paired
from processors.evaluation.trec import read_run, write_run, write_run_lines
from processors.opensearch.indices import load_mapping, resolve_mapping, with_bm25
from processors.settings import Settings

REPO = Path(__file__).resolve().parents[3]


def test_a_run_file_keeps_the_engine_order_and_reads_back(tmp_path: Path) -> None:
    run = {"q1": ["d3", "d1", "d3", "d2"], "q2": ["d9"]}
    path = write_run(tmp_path / "runs" / "bm25.run", run, tag="neuralpipe-bm25")
    assert path.read_text().splitlines() == [
        "q1 Q0 d3 1 3 neuralpipe-bm25",
        "q1 Q0 d1 2 2 neuralpipe-bm25",
        "q1 Q0 d2 3 1 neuralpipe-bm25",
        "q2 Q0 d9 1 1 neuralpipe-bm25",
    ]
    assert read_run(path) == {"q1": ["d3", "d1", "d2"], "q2": ["d9"]}
    # scored by trec_eval from the file: the same numbers as from the ranking itself
    qrels = {"q1": {"d1": 1, "d2": 0}, "q2": {"d8": 1}}
    assert per_query(qrels, read_run(path)) == per_query(qrels, run)


def test_a_run_file_refuses_ids_with_spaces() -> None:
    with pytest.raises(ConfigError, match="document id 'a b' cannot be written"):
        write_run_lines(io.StringIO(), {"q": ["a b"]}, tag="t")


def test_a_malformed_run_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.run"
    path.write_text("q1 Q0 d1 1 1 t\nq1 Q0 d2 2\n")
    with pytest.raises(ConfigError, match=r"x\.run:2: expected 6 columns"):
        read_run(path)


def test_equal_ways_have_p_one_and_a_clear_gain_is_significant() -> None:
    base = [0.1, 0.2, 0.3, 0.4, 0.5] * 6
    assert p_value(base, base) == 1.0
    better = [v + 0.3 for v in base]
    assert p_value(base, better) < 0.001
    assert p_value(base, better, "ttest") < 0.001
    noisy = [v + (0.05 if i % 2 else -0.05) for i, v in enumerate(base)]
    assert p_value(base, noisy) > 0.5
    assert p_value(base, noisy) == p_value(base, noisy)  # fixed seed: the same every run
    with pytest.raises(ConfigError, match="unknown significance test"):
        p_value(base, better, "wilcoxon")


def test_paired_reports_delta_and_p_per_measure() -> None:
    base = {f"q{i}": {"nDCG@10": 0.2, "MRR@10": 0.5} for i in range(20)}
    other = {f"q{i}": {"nDCG@10": 0.6, "MRR@10": 0.5} for i in range(20)}
    result = paired(base, other, ["nDCG@10", "MRR@10"])
    assert result["nDCG@10"]["delta"] == pytest.approx(0.4)
    assert result["nDCG@10"]["p"] < 0.001
    assert result["MRR@10"] == {"delta": 0.0, "p": 1.0}


def test_the_table_shows_p_values_against_the_baseline() -> None:
    scores = {"bm25": {"nDCG@10": 0.3, "recall@100": 0.6, "MRR@10": 0.4},
              "neural": {"nDCG@10": 0.5, "recall@100": 0.7, "MRR@10": 0.6}}  # fmt: skip
    runs = [WayRun("bm25", {"q": []}, 0.1), WayRun("neural", {"q": []}, 0.2)]
    tests = {"neural": {"nDCG@10": {"delta": 0.2, "p": 0.001},
                        "recall@100": {"delta": 0.1, "p": 0.2},
                        "MRR@10": {"delta": 0.2, "p": 0.04}}}  # fmt: skip
    lines = format_table(scores, runs, tests, "bm25").splitlines()
    assert lines[0].split() == ["way", "nDCG@10", "p", "recall@100", "p", "MRR@10", "p", "ms/query"]
    assert lines[1].split()[:4] == ["bm25", "0.3000", "-", "0.6000"]
    assert lines[2].split()[:7] == [
        "neural",
        "0.5000†",
        "0.0010",
        "0.7000",
        "0.2000",
        "0.6000†",
        "0.0400",
    ]
    assert "vs bm25" in lines[3] and "randomization" in lines[3]


def test_shipped_mappings_are_found_by_name_from_anywhere(tmp_path: Path) -> None:
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert resolve_mapping("combined") == REPO / "mappings" / "combined.json"
        assert (
            resolve_mapping("mappings/dense-english.json")
            == REPO / "mappings" / "dense-english.json"
        )
        with pytest.raises(ConfigError, match="shipped: combined, combined-english"):
            resolve_mapping("nope")
    finally:
        os.chdir(here)


@pytest.mark.parametrize("name", ["combined", "dense", "sparse"])
def test_english_mappings_match_the_standard_ones_but_for_the_analyzer(name: str) -> None:
    plain = load_mapping(REPO / "mappings" / f"{name}.json")
    english = load_mapping(REPO / "mappings" / f"{name}-english.json")
    similarity = english["settings"]["index"].pop("similarity")
    assert similarity == {"default": {"type": "BM25", "k1": 1.2, "b": 0.75}}
    for field in english["mappings"]["properties"].values():
        if field["type"] == "text":
            assert field.pop("analyzer") == "english"
    assert english == plain


def test_bm25_parameters_are_set_on_the_default_similarity() -> None:
    body = with_bm25(load_mapping(REPO / "mappings" / "combined-english.json"), k1=0.9, b=0.4)
    assert body["settings"]["index"]["similarity"]["default"] == {
        "type": "BM25",
        "k1": 0.9,
        "b": 0.4,
    }
    plain = load_mapping(REPO / "mappings" / "combined.json")
    assert with_bm25(plain) is plain
    assert with_bm25(plain, b=0.3)["settings"]["index"]["similarity"] == {
        "default": {"type": "BM25", "b": 0.3}
    }
    with pytest.raises(ConfigError, match="not BM25"):
        with_bm25({"settings": {"index": {"similarity": {"default": {"type": "boolean"}}}}}, k1=1)


def test_pipelines_are_those_of_the_current_directory(tmp_path: Path) -> None:
    assert Settings(_env_file=None, pipelines_dir=tmp_path).pipelines_dir == tmp_path
    script = "from processors.settings import Settings; print(Settings().pipelines_dir)"
    env = {k: v for k, v in os.environ.items() if k != "NEURALPIPE_PIPELINES_DIR"}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert Path(out) == tmp_path / "pipelines"  # not the checkout's: no dev-only paths


def test_the_global_pipelines_dir_option_reaches_the_commands(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--pipelines-dir", str(tmp_path), "--url", "http://127.0.0.1:9", "eval",
              "--dataset", str(tmp_path), "--index", "x", "--ingest-pipeline", "demo-embed"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"no demo-embed.yaml in {tmp_path / 'ingest'}" in result.output.replace("\n", "")


def test_queries_files_jsonl_and_tsv(tmp_path: Path) -> None:
    jsonl = tmp_path / "queries.jsonl"
    jsonl.write_text(json.dumps({"_id": "1", "text": "wing lift"}) + "\n")
    assert read_queries_file(jsonl) == {"1": "wing lift"}
    tsv = tmp_path / "queries.tsv"
    tsv.write_text("a\tboundary layer\nb\tshock waves\n")
    assert read_queries_file(tsv) == {"a": "boundary layer", "b": "shock waves"}
    tsv.write_text("a\tboundary layer\nonly-an-id\n")
    with pytest.raises(ConfigError, match=r"queries\.tsv:2: expected query-id<TAB>text"):
        read_queries_file(tsv)


def test_search_run_needs_queries() -> None:
    result = CliRunner().invoke(cli, ["search", "--index", "x", "--query-text", "a", "--run", "r"])
    assert result.exit_code == 2
    assert "--run needs --queries" in result.output


def test_eval_help_documents_join_title_runs_and_significance() -> None:
    result = CliRunner().invoke(cli, ["eval", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for words in ("on for BEIR", "--runs", "--baseline", "--significance", "combined-english",
                  "--bm25-k1"):  # fmt: skip
        assert words in result.output
