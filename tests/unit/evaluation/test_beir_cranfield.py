"""BEIR loader and writer; Cranfield -> BEIR conversion (ids, gains) on small and real files."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from processors.errors import ConfigError
from processors.evaluation.beir import load_beir, read_qrels, write_beir
from processors.evaluation.cranfield import (
    convert_cranfield,
    cranfield_gain,
    is_cranfield_dir,
    read_cranqrel,
)

CRANFIELD = Path(__file__).resolve().parents[3] / "scripts" / "data" / "cranfield"


def _beir(root: Path) -> Path:
    corpus: list[dict[str, Any]] = [
        {"_id": "d1", "title": "Wing", "text": "lift"},
        {"_id": 2, "text": "drag"},
    ]
    queries = {"q1": "why lift", "q2": "drag?", "q3": "unjudged"}
    return write_beir(root, corpus, queries, {"q1": {"d1": 2, "2": 0}, "q2": {"2": 1}})


def test_write_then_load_round_trips_and_keeps_only_judged_queries(tmp_path: Path) -> None:
    data = load_beir(_beir(tmp_path))
    assert data.queries == {"q1": "why lift", "q2": "drag?"}
    assert data.qrels == {"q1": {"d1": 2, "2": 0}, "q2": {"2": 1}}
    assert data.relevant_count == 2
    assert (tmp_path / "qrels" / "test.tsv").read_text().splitlines()[0] == (
        "query-id\tcorpus-id\tscore"
    )
    assert list(data.iter_corpus()) == [
        {"_id": "d1", "title": "Wing", "text": "lift"},
        {"_id": "2", "title": "", "text": "drag"},
    ]


def test_gzipped_files_and_a_qrels_file_without_header(tmp_path: Path) -> None:
    _beir(tmp_path)
    for name in ("corpus.jsonl", "queries.jsonl"):
        raw = (tmp_path / name).read_bytes()
        (tmp_path / name).unlink()
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "qrels" / "dev.tsv").write_text("q2\td1\t3\r\n")
    data = load_beir(tmp_path, "dev")
    assert data.corpus_path.name == "corpus.jsonl.gz"
    assert data.qrels == {"q2": {"d1": 3}} and data.queries == {"q2": "drag?"}
    assert [d["_id"] for d in data.iter_corpus()] == ["d1", "2"]


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        (
            "query-id\tcorpus-id\tscore\nq1\td1\thigh\n",
            "test.tsv:2: score 'high' is not an integer",
        ),
        ("q1 d1 1\n", "test.tsv:1: expected query-id<TAB>corpus-id<TAB>score"),
    ],
)
def test_malformed_qrels_name_file_and_line(tmp_path: Path, qrels: str, message: str) -> None:
    (tmp_path / "test.tsv").write_text(qrels)
    with pytest.raises(ConfigError, match=message):
        read_qrels(tmp_path / "test.tsv")


def test_missing_pieces_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no corpus\.jsonl"):
        load_beir(tmp_path)
    _beir(tmp_path)
    with pytest.raises(ConfigError, match=r"no qrels/dev.tsv \(splits here: \['test'\]\)"):
        load_beir(tmp_path, "dev")
    (tmp_path / "qrels" / "test.tsv").write_text("q9\td1\t1\n")
    with pytest.raises(ConfigError, match=r"1 judged queries are not in queries.jsonl .*'q9'"):
        load_beir(tmp_path)
    (tmp_path / "corpus.jsonl").write_text('{"title": "no id"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(ConfigError, match=r"corpus.jsonl:1: a corpus document needs an _id"):
        list(load_beir(tmp_path).iter_corpus())


@pytest.mark.parametrize(("code", "gain"), [(1, 4), (2, 3), (3, 2), (4, 1), (-1, 0)])
def test_cranfield_codes_become_gains_that_grow_with_relevance(code: int, gain: int) -> None:
    assert cranfield_gain(code) == gain


def test_unknown_cranfield_code_is_refused() -> None:
    with pytest.raises(ConfigError, match="relevance code 5"):
        cranfield_gain(5)


def _tiny_cranfield(root: Path, qrels: str) -> Path:
    (root / "cran.all.1400").write_text(
        ".I 1\n.T\nwing flow .\n.A\nx\n.B\ny\n.W\nwing flow .\n  lift  of wings .\n"
        ".I 2\n.T\nnothing .\n.A\n.B\n.W\n"
        ".I 3\n.T\nshock .\n.W\nshock waves .\n"
    )
    (root / "cran.qry").write_text(".I 001\n.W\nwhat about wings .\n.I 004\n.W\nshock ?\n")
    (root / "cranqrel").write_text(qrels)
    return root


def test_convert_uses_query_positions_and_maps_gains(tmp_path: Path) -> None:
    source = _tiny_cranfield(tmp_path, "1 1 2 \n1 3 -1\r\n2 3 1\n2 3 4\n")
    assert is_cranfield_dir(source) and not is_cranfield_dir(tmp_path / "nope")
    data = convert_cranfield(source, tmp_path / "beir")
    assert data.queries == {"1": "what about wings .", "2": "shock ?"}
    assert data.qrels == {"1": {"1": 3, "3": 0}, "2": {"3": 4}}  # a pair judged twice: best gain
    docs = [json.loads(x) for x in (tmp_path / "beir" / "corpus.jsonl").read_text().splitlines()]
    assert docs == [
        {"_id": "1", "title": "wing flow .", "text": "wing flow . lift of wings ."},
        {"_id": "2", "title": "nothing .", "text": ""},
        {"_id": "3", "title": "shock .", "text": "shock waves ."},
    ]


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("3 1 1\n", r"unknown query positions \['3'\]"),
        ("1 7 1\n", r"unknown documents \['7'\]"),
        ("1 1\n", "cranqrel:1: expected 'query document code'"),
        ("1 x 1\n", "cranqrel:1: non-numeric field"),
    ],
)
def test_convert_refuses_bad_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        convert_cranfield(_tiny_cranfield(tmp_path, qrels), tmp_path / "beir")


def test_the_real_collection_converts_whole(tmp_path: Path) -> None:
    data = convert_cranfield(CRANFIELD, tmp_path)
    assert len(data.queries) == 225 and sum(1 for _ in data.iter_corpus()) == 1400
    gains = Counter(g for judged in data.qrels.values() for g in judged.values())
    codes = Counter(read_cranqrel(CRANFIELD / "cranqrel").get("1", {}).values())
    assert gains == {4: 128, 3: 387, 2: 734, 1: 363, 0: 225}
    assert codes == {3: 7, 2: 14, 1: 7, 0: 1}  # query 1: codes 2 x7, 3 x14, 4 x7, -1 x1
    assert all(any(g > 0 for g in judged.values()) for judged in data.qrels.values())
