"""Evaluation through the full path on the real node, with the real all-MiniLM-L6-v2 (ONNX).

Acceptance (issue 6, §6): on Cranfield, the pipeline path (BEIR conversion → minilm-dense.yaml
→ bulk indexer → lucene HNSW → ``neural`` k=100 → pytrec_eval) reproduces the nDCG@10 of
all-MiniLM-L6-v2 computed directly by brute force (same texts, same model runtime, exact
cosine top-100, same qrels) within 0.002.

Both sides embed each document's ``text``: the ``.W`` abstract, which in Cranfield already
begins with the title. Documents 471 and 995 have no abstract, so the pipeline gives them no
vector and the brute force leaves them out too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.config.ingest_body import load_ingest_pipeline
from processors.evaluation.beir import BeirDataset, load_beir, write_beir
from processors.evaluation.cranfield import convert_cranfield
from processors.evaluation.metrics import evaluate
from processors.evaluation.runner import QueryFields, index_corpus, run_way
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.runner import IndexReport
from processors.models.binding import model_store
from processors.models.store import ModelStore
from processors.opensearch.indices import load_mapping
from processors.pipeline.ingest import IngestPipeline
from processors.pipeline.search import SearchPipeline
from processors.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CRANFIELD = REPO / "scripts" / "data" / "cranfield"
MODEL = "all-minilm-l6-v2-onnx"
PIPELINE = REPO / "pipelines" / "ingest" / "minilm-dense.yaml"
DEPTH = 100


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return model_store(Settings(pipelines_dir=REPO / "pipelines"), truncation="silent")


@pytest.fixture(scope="module")
def cranfield(tmp_path_factory: pytest.TempPathFactory) -> BeirDataset:
    return convert_cranfield(CRANFIELD, tmp_path_factory.mktemp("cranfield-beir"))


@pytest.fixture(scope="module")
def cranfield_index(
    client: Any, store: ModelStore, cranfield: BeirDataset
) -> Iterator[tuple[str, IndexReport]]:
    """All 1400 documents indexed once through minilm-dense.yaml (about 40 s of embedding)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    spec = load_ingest_pipeline(PIPELINE)
    report = index_corpus(
        client, name, cranfield.corpus_path,
        pipeline=IngestPipeline(spec, encoders=store.get, client=client),
        fingerprint=pipeline_fingerprint(spec, describe=store.registration, truncation="silent"),
        mapping=load_mapping(REPO / "mappings" / "dense.json"), reindex=False, embedded=True,
    )  # fmt: skip
    yield name, report
    client.indices.delete(index=name, ignore=[400, 404])


def brute_force_run(store: ModelStore, data: BeirDataset) -> dict[str, list[str]]:
    """Exact cosine top-``DEPTH`` over every document that has a text, same model runtime."""
    docs = [d for d in data.iter_corpus() if d["text"].strip()]
    model: Any = store.get(MODEL)
    doc_vectors = model.embed([d["text"] for d in docs])
    query_ids = list(data.queries)
    query_vectors = model.embed([data.queries[q] for q in query_ids], "query")
    doc_vectors /= np.linalg.norm(doc_vectors, axis=1, keepdims=True)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    similarity = query_vectors @ doc_vectors.T
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :DEPTH]
    return {q: [docs[j]["_id"] for j in row] for q, row in zip(query_ids, order, strict=True)}


def test_pipeline_ndcg_reproduces_brute_force_minilm_on_cranfield(
    client: Any,
    store: ModelStore,
    cranfield: BeirDataset,
    cranfield_index: tuple[str, IndexReport],
) -> None:
    index, report = cranfield_index
    assert (report.ok, report.failed) == (1400, 0), report.as_dict()
    assert client.count(index=index, body={"query": {"exists": {"field": "text_embedding"}}})[
        "count"
    ] == 1398  # fmt: skip
    fields = QueryFields.from_pipeline(load_ingest_pipeline(PIPELINE))
    plain = SearchPipeline(None, models=store.get, client=client)
    run = run_way(plain, index, cranfield.queries, "neural", fields, depth=DEPTH)
    assert len(run.ranking) == 225 and all(len(ids) == DEPTH for ids in run.ranking.values())

    through_pipeline = evaluate(cranfield.qrels, run.ranking)
    brute_force = evaluate(cranfield.qrels, brute_force_run(store, cranfield))
    print(f"\npipeline {through_pipeline}\nbrute force {brute_force}")
    assert abs(through_pipeline["nDCG@10"] - brute_force["nDCG@10"]) <= 0.002
    assert 0.3 < brute_force["nDCG@10"] < 0.6  # a sane MiniLM-on-Cranfield value


def _demo_beir(root: Path) -> Path:
    """The shipped demo corpus (150 notes, 20 judged queries) as a BEIR directory."""
    corpus_dir = REPO / "scripts" / "data" / "corpus"
    docs = [json.loads(x) for x in (corpus_dir / "aero-notes.jsonl").read_text().splitlines()]
    queries = [json.loads(x) for x in (corpus_dir / "queries.jsonl").read_text().splitlines()]
    return write_beir(
        root,
        docs,
        {q["_id"]: q["text"] for q in queries},
        {q["_id"]: dict.fromkeys(q["relevant"], 1) for q in queries},
    )


def test_eval_cli_indexes_once_scores_each_way_and_draws_the_chart(
    opensearch_url: str, index_name: str, tmp_path: Path
) -> None:
    dataset = _demo_beir(tmp_path / "demo")
    chart = tmp_path / "eval.png"
    args = [
        "--url", opensearch_url, "eval", "--dataset", str(dataset), "--index", index_name,
        "--ingest-pipeline", "minilm-dense", "--mapping", str(REPO / "mappings" / "dense.json"),
        "--way", "bm25", "--way", "neural", "--way", "hybrid", "--chart", str(chart),
        "--json", "--no-progress", "--truncation", "silent",
    ]  # fmt: skip
    env = {"NEURALPIPE_PIPELINES_DIR": str(REPO / "pipelines")}
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["queries"] == len(load_beir(dataset).queries) == 20
    assert result["indexing"]["ok"] == 150 and result["indexing"]["failed"] == 0
    assert list(result["ways"]) == ["bm25", "neural", "hybrid"]
    for scores in result["ways"].values():
        assert 0.3 < scores["nDCG@10"] <= 1 and 0 < scores["MRR@10"] <= 1
        assert 0.5 < scores["recall@100"] <= 1
    assert chart.read_bytes()[:4] == b"\x89PNG"

    table_args = [a for a in args if a not in ("--json", "--no-progress")]  # progress bars on
    again = CliRunner().invoke(cli, table_args, env=env)
    assert again.exit_code == 0, again.output
    assert f"index {index_name}: 0 indexed, 150 unchanged" in again.stderr
    header = again.stdout.splitlines()[1].split()
    assert header[:7] == ["way", "nDCG@10", "p", "recall@100", "p", "MRR@10", "p"]
    rows = again.stdout.splitlines()[2:-1]  # the last line explains the p-values
    table = {line.split()[0]: [v.rstrip("†") for v in line.split()[1:7:2]] for line in rows}
    assert table["neural"] == [f"{result['ways']['neural'][m]:.4f}"
                               for m in ("nDCG@10", "recall@100", "MRR@10")]  # fmt: skip
    assert again.stdout.splitlines()[-1].startswith("p: paired randomization test")

    other = ["--ingest-pipeline", "demo-embed", *args[args.index("--mapping") :]]
    mismatch = CliRunner().invoke(cli, [*args[: args.index("--ingest-pipeline")], *other], env=env)
    assert mismatch.exit_code == 2, mismatch.output
    assert "holds vectors made another way" in mismatch.output
    assert "Give --reindex to rebuild it" in mismatch.output
