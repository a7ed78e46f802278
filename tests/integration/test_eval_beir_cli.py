"""``neuralpipe eval`` on a BEIR-format directory, as a new user runs it: no extra flags.

The directory is made from the shipped aero-notes corpus (150 documents with a ``title``, 20
judged queries; ``scripts/data/corpus``) with ``write_beir``; the real all-MiniLM-L6-v2 (ONNX)
embeds it through ``minilm-dense.yaml``. Checked: the title is joined by default and said so,
each way's TREC run file scores (by trec_eval) exactly as the table says, significance is
reported against the baseline, the JSON counts tokens as ``index bulk`` does, and an index filled
by ``index bulk`` without content hashes is reused as it is, not embedded again.
(All-MiniLM-L6-v2's published BEIR numbers need a real BEIR set, which cannot be downloaded here.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.evaluation.beir import load_beir, write_beir
from processors.evaluation.metrics import evaluate
from processors.evaluation.trec import read_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "scripts" / "data" / "corpus"


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = [json.loads(line) for line in (CORPUS / "aero-notes.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (CORPUS / "queries.jsonl").read_text().splitlines()]
    return write_beir(
        tmp_path_factory.mktemp("aero-beir"),
        [{"_id": d["_id"], "title": d["title"], "text": d["text"]} for d in docs],
        {q["_id"]: q["text"] for q in queries},
        {q["_id"]: dict.fromkeys(q["relevant"], 1) for q in queries},
    )


@pytest.fixture
def eval_index(client: Any) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client.indices.delete(index=name, ignore=[400, 404])


def run(args: list[str], opensearch_url: str) -> Any:
    result = CliRunner().invoke(cli, ["--url", opensearch_url, *args])
    assert result.exit_code == 0, result.output
    return result


def test_eval_on_a_beir_directory_without_extra_flags(
    beir_dir: Path, eval_index: str, opensearch_url: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    args = ["eval", "--dataset", str(beir_dir), "--index", eval_index, "--ingest-pipeline",
            "minilm-dense", "--runs", str(runs), "--no-progress"]  # fmt: skip
    table = run(args, opensearch_url)
    assert "title joined" in table.stdout
    assert "vs bm25, two-sided" in table.stdout
    result = json.loads(run([*args, "--json"], opensearch_url).stdout)
    assert result["join_title"] is True
    assert result["mapping"].endswith("mappings/combined.json")
    assert result["significance"]["baseline"] == "bm25"
    assert set(result["ways"]) == {"bm25", "neural", "hybrid"}
    assert set(result["ways"]["neural"]["vs_baseline"]) == {"nDCG@10", "recall@100", "MRR@10"}
    assert "vs_baseline" not in result["ways"]["bm25"]
    assert set(result["per_query"]["neural"]) == {f"q{i:02d}" for i in range(1, 21)}
    # the second run found every document unchanged: nothing embedded, no tokens
    assert result["indexing"]["unchanged"] == 150 and result["indexing"]["tokens"] == 0
    qrels = load_beir(beir_dir).qrels
    for way in ("bm25", "neural", "hybrid"):
        scored = evaluate(qrels, read_run(runs / f"{way}.run"))
        assert scored["nDCG@10"] == pytest.approx(result["ways"][way]["nDCG@10"], abs=1e-6)
    meta = json.loads((runs / "run.json").read_text())
    assert meta["join_title"] is True and meta["runs"]["neural"] == "neural.run"
    # title joined: the neural way beats BM25 here, as the demo shows
    assert result["ways"]["neural"]["nDCG@10"] > 0.5


def test_an_index_filled_by_index_bulk_is_reused_not_embedded_again(
    beir_dir: Path, eval_index: str, opensearch_url: str, client: Any, tmp_path: Path
) -> None:
    joined = tmp_path / "joined.jsonl"
    with joined.open("w") as handle:
        for doc in load_beir(beir_dir).iter_corpus():
            handle.write(json.dumps({**doc, "text": f"{doc['title']} {doc['text']}"}) + "\n")
    run(["index", "create", eval_index, "--mapping", "dense"], opensearch_url)
    bulk = run(["index", "bulk", eval_index, str(joined), "--pipeline", "minilm-dense",
                "--no-progress"], opensearch_url)  # fmt: skip
    counted = json.loads(bulk.stdout.splitlines()[-1])
    assert counted["ok"] == 150 and counted["tokens"] > 0
    result = json.loads(run(["eval", "--dataset", str(beir_dir), "--index", eval_index,
                             "--ingest-pipeline", "minilm-dense", "--way", "neural", "--json",
                             "--no-progress"],
                            opensearch_url).stdout)  # fmt: skip
    assert result["indexing"]["unchanged"] == 150
    assert result["indexing"]["ok"] == 0 and result["indexing"]["tokens"] == 0
    stats = client.indices.stats(index=eval_index)["indices"][eval_index]["primaries"]["docs"]
    assert (stats["count"], stats["deleted"]) == (150, 0)


def test_eval_json_counts_tokens_as_index_bulk_does(
    beir_dir: Path, eval_index: str, opensearch_url: str
) -> None:
    result = json.loads(run(["eval", "--dataset", str(beir_dir), "--index", eval_index,
                             "--ingest-pipeline", "minilm-dense", "--way", "bm25",
                             "--mapping", "dense-english", "--bm25-k1", "0.9", "--bm25-b", "0.4",
                             "--json", "--no-progress"], opensearch_url).stdout)  # fmt: skip
    assert result["indexing"]["ok"] == 150 and result["indexing"]["tokens"] > 150 * 40
    assert result["mapping"].endswith("mappings/dense-english.json")
    assert result["bm25"] == {"k1": 0.9, "b": 0.4}
