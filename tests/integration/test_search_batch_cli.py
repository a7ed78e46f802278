"""``neuralpipe search --queries FILE --run OUT``: many queries in one process, a TREC run out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.evaluation.trec import read_run
from processors.opensearch.indices import load_mapping, resolve_mapping

pytestmark = pytest.mark.integration
DOCS = {
    "1": "the wing produces lift at a high angle of attack",
    "2": "turbulent boundary layer over a flat plate",
    "3": "shock waves in a supersonic nozzle flow",
    "4": "propeller slipstream effects on wing lift",
}


def test_many_queries_in_one_process_give_the_hits_of_single_searches(
    client: Any, opensearch_url: str, index_name: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=load_mapping(resolve_mapping("sparse-english")))
    for doc_id, text in DOCS.items():
        client.index(index=index_name, id=doc_id, body={"text": text})
    client.indices.refresh(index=index_name)
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\twings lifting\nq2\tboundary layers\nq3\tnothing matches this\n")
    run_file = tmp_path / "out.run"
    base = ["--url", opensearch_url, "search", "--index", index_name, "--size", "3"]
    result = CliRunner().invoke(cli, [*base, "--queries", str(queries), "--run", str(run_file)])
    assert result.exit_code == 0, result.output
    ranking = read_run(run_file)
    for query_id, text in (("q1", "wings lifting"), ("q2", "boundary layers")):
        single = CliRunner().invoke(cli, [*base, "--query-text", text])
        assert single.exit_code == 0, single.output
        hits = json.loads(single.stdout)["hits"]["hits"]
        assert ranking[query_id] == [h["_id"] for h in hits]
    # the English analyzer stems "wings lifting" to match "wing lift"
    assert set(ranking["q1"]) == {"1", "4"} and "q3" not in ranking
    lines = CliRunner().invoke(cli, [*base, "--queries", str(queries)])
    assert [json.loads(line)["query_id"] for line in lines.stdout.splitlines()] == [
        "q1",
        "q2",
        "q3",
    ]
