"""Poison input lines become bad records with a reason; ids follow one documented rule."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from processors.errors import CheckpointError
from processors.indexing.checkpoint import Checkpoint, input_state
from processors.indexing.prepare import prepare_batch
from processors.indexing.records import content_id, read_records
from processors.indexing.sources import BadLine, read_documents


def lines(path: Path, *rows: str | bytes) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else r.encode()) + b"\n" for r in rows))
    return path


def reasons(path: Path, **kwargs: str) -> list[str | None]:
    return [str(r.doc) if r.is_bad else None for r in read_records([path], **kwargs)]  # type: ignore[arg-type]


def test_each_poison_line_is_a_bad_record_and_its_neighbours_are_documents(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    corpus = lines(
        tmp_path / "c.jsonl",
        '{"_id": "ok1", "text": "a"}',
        json.dumps({"_id": "x" * 513, "text": "long id"}),
        '{"_id": "s1", "text": "bad \\ud800 text"}',
        '{"_id": "\\udc00", "text": "bad id"}',
        '{"_id": "d1", "deep": ' + deep + "}",
        '{"_id": "d2", "deep": ' + "[" * 150 + "]" * 150 + "}",
        '{"_id": true, "text": "bool id"}',
        '{"_id": {"o": 1}, "text": "object id"}',
        '{"_id": "", "text": "empty id"}',
        '{"_id": 42, "text": "integer id"}',
        '{"_id": "ok2", "text": "b"}',
    )
    found = reasons(corpus)
    assert found[0] is None and found[-1] is None and found[-2] is None
    assert "513 bytes long" in str(found[1])
    assert "field text holds a lone surrogate (U+D800)" in str(found[2])
    assert "lone surrogate (U+DC00)" in str(found[3])
    assert "nested deeper than 100 levels" in str(found[4])
    assert "nested deeper than 100 levels" in str(found[5])
    assert "not bool" in str(found[6]) and "not dict" in str(found[7])
    assert "must not be empty" in str(found[8])
    assert [r.doc_id for r in read_records([corpus])][-2:] == ["42", "ok2"]


def test_a_byte_order_mark_is_not_part_of_the_first_document(tmp_path: Path) -> None:
    corpus = lines(tmp_path / "c.jsonl", b'\xef\xbb\xbf{"_id": "a", "text": "x"}', b'{"_id": "b"}')
    assert [doc for _, doc in read_documents([corpus])] == [{"_id": "a", "text": "x"}, {"_id": "b"}]
    csv = lines(tmp_path / "c.csv", b"\xef\xbb\xbftext,title", b"hello,t")
    assert [doc for _, doc in read_documents([csv])] == [{"text": "hello", "title": "t"}]


def test_same_document_same_id_whatever_the_file_line_or_compression(tmp_path: Path) -> None:
    docs = [{"text": f"doc {i}", "n": i} for i in range(5)]
    plain = lines(tmp_path / "a.jsonl", *(json.dumps(d) for d in docs))
    packed = tmp_path / "b.jsonl.gz"
    rows = ["", *(json.dumps(dict(reversed(list(d.items())))) for d in reversed(docs))]
    packed.write_bytes(gzip.compress("\n".join(rows).encode() + b"\n"))
    first = {r.doc_id for r in read_records([plain])}
    assert first == {r.doc_id for r in read_records([packed])} == {content_id(d) for d in docs}
    by_field = [r.doc_id for r in read_records([plain], id_field="n")]
    assert by_field == ["0", "1", "2", "3", "4"]
    missing = lines(tmp_path / "m.jsonl", '{"text": "no n"}')
    assert "no 'n' field" in str(reasons(missing, id_field="n")[0])


def test_repeated_ids_are_flagged_and_reported_by_prepare(tmp_path: Path) -> None:
    corpus = lines(tmp_path / "c.jsonl", '{"_id": "a", "t": 1}', '{"t": 2}', '{"_id": "a", "t": 3}',
                   '{"t": 2}')  # fmt: skip
    records = list(read_records([corpus]))
    assert [r.duplicate for r in records] == [False, False, True, True]
    batch = prepare_batch(records, None, "idx")
    assert len(batch.actions) == 4 and len(batch.duplicates) == 2
    assert batch.duplicates[0].endswith("c.jsonl:3: _id 'a'")
    resumed = list(read_records([corpus], skip=2))  # skipped lines still count as seen
    assert [r.duplicate for r in resumed] == [True, True]


def test_bad_ids_keep_the_original_document_for_the_dead_letter_file(tmp_path: Path) -> None:
    corpus = lines(tmp_path / "c.jsonl", '{"_id": false, "text": "x"}')
    (record,) = read_records([corpus])
    assert isinstance(record.doc, BadLine) and record.doc.raw == {"_id": False, "text": "x"}
    (failure,) = prepare_batch([record], None, "idx").failures
    assert failure.doc == {"_id": False, "text": "x"} and "_id must be" in failure.reason


def test_resume_after_an_edit_is_refused_even_same_size_with_the_mtime_put_back(
    tmp_path: Path,
) -> None:
    corpus = lines(tmp_path / "c.jsonl", '{"text": "alpha"}', '{"text": "omega"}')
    cp_path = tmp_path / "cp.json"
    Checkpoint(key="k", inputs=input_state([corpus]), settled=1).save(cp_path)
    assert Checkpoint.load(cp_path, "k", input_state([corpus])) is not None
    stat = corpus.stat()
    lines(corpus, '{"text": "alphA"}', '{"text": "omega"}')
    os.utime(corpus, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert corpus.stat().st_size == stat.st_size
    with pytest.raises(CheckpointError, match=r"c\.jsonl changed since the interrupted run"):
        Checkpoint.load(cp_path, "k", input_state([corpus]))
