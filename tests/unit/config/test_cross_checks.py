"""Pipelines against index bodies and model registrations: targets, types, dimensions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from processors.cli.main import cli
from processors.config.cross_checks import (
    MappingProblem,
    check_against_mapping,
    registrations_in,
    validate_against_mapping,
)
from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import ConfigError, CrossReferenceError, ModelNotRegisteredError
from processors.models.registration import ModelRegistration

REPO = Path(__file__).resolve().parents[3]
LUCENE = {"name": "hnsw", "engine": "lucene", "space_type": "l2"}


def reg(function: str = "TEXT_EMBEDDING", dimension: int | None = 8) -> ModelRegistration:
    config = {"model_type": "bert", "embedding_dimension": dimension} if dimension else None
    return ModelRegistration.model_validate(
        {"name": "m", "function_name": function, "model_config": config}
    )


REGS = {"dense": reg(), "sparse": reg("SPARSE_ENCODING", None), "tok": reg("SPARSE_TOKENIZE", None)}


def knn(dimension: int = 8) -> dict[str, Any]:
    return {"type": "knn_vector", "dimension": dimension, "method": LUCENE}


def mapping(**properties: Any) -> dict[str, Any]:
    return {"settings": {"index": {"knn": True}}, "mappings": {"properties": properties}}


def check(processors: list[dict[str, Any]], body: dict[str, Any], regs: Any = None) -> list[str]:
    spec = parse_ingest_pipeline("p", {"processors": processors})
    return [str(p) for p in validate_against_mapping(spec, body, REGS if regs is None else regs)]


def embed(field_map: dict[str, Any], model_id: str = "dense") -> dict[str, Any]:
    return {"text_embedding": {"model_id": model_id, "field_map": field_map}}


def sparse(field_map: dict[str, Any], model_id: str = "sparse") -> dict[str, Any]:
    return {"sparse_encoding": {"model_id": model_id, "field_map": field_map}}


def chunk(field_map: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"field_map": field_map, "algorithm": {"delimiter": {"delimiter": "."}}, **extra}
    return {"text_chunking": body}


def test_matching_pipeline_has_no_problems() -> None:
    body = mapping(
        text={"type": "text"},
        vec=knn(),
        tokens={"type": "rank_features"},
        chunks={"type": "text"},
        chunk_vecs={"type": "nested", "properties": {"knn": knn()}},
    )
    steps = [
        embed({"text": "vec"}),
        sparse({"text": "tokens"}, "tok"),
        chunk({"text": "chunks"}),
        embed({"chunks": "chunk_vecs"}),
    ]
    assert check(steps, body) == []


def test_dimension_mismatch_names_both_sides() -> None:
    problems = check([embed({"text": "vec"})], mapping(vec=knn(384)))
    assert problems == [
        "p.processors[0].text_embedding.field_map.text -> mappings.properties.vec.dimension: "
        "dimension 384 != 8, the embedding_dimension of model [dense]"
    ]


@pytest.mark.parametrize(
    ("processor", "field", "fragment"),
    [
        (
            embed({"text": "vec"}),
            {"type": "float"},
            "is of type [float]; text_embedding writes a knn_vector",
        ),
        (embed({"text": "vec"}), {"type": "rank_features"}, "is of type [rank_features]"),
        (
            sparse({"text": "vec"}),
            knn(),
            "is of type [knn_vector]; sparse_encoding writes a rank_features",
        ),
        (sparse({"text": "vec"}), {"type": "rank_feature"}, "is of type [rank_feature]"),
    ],
)
def test_wrong_target_type(processor: dict[str, Any], field: Any, fragment: str) -> None:
    (problem,) = check([processor], mapping(vec=field))
    assert "-> mappings.properties.vec: " in problem and fragment in problem


def test_absent_target_cannot_be_made_by_dynamic_mapping() -> None:
    (dense, tokens) = check([embed({"a": "v"}), sparse({"a": "s"})], mapping())
    assert "mappings.properties.v: not in the mapping" in dense and "knn_vector" in dense
    assert "mappings.properties.s: not in the mapping" in tokens and "rank_features" in tokens


def test_list_source_needs_nested_knn_subfield() -> None:
    steps = [chunk({"body": "chunks"}), embed({"chunks": "vecs"}), sparse({"chunks": "toks"})]
    flat = check(steps, mapping(vecs=knn(), toks={"type": "rank_features"}))
    assert len(flat) == 2
    assert "mappings.properties.vecs: is a knn_vector, but the source is a list" in flat[0]
    assert "nested with a knn_vector subfield 'knn'" in flat[0]
    assert "nested with a rank_features subfield 'sparse_encoding'" in flat[1]
    good = mapping(
        vecs={"type": "nested", "properties": {"knn": knn()}},
        toks={"type": "nested", "properties": {"sparse_encoding": {"type": "rank_features"}}},
    )
    assert check(steps, good) == []


def test_nested_list_form_is_checked_inside() -> None:
    body = mapping(
        a={"type": "nested", "properties": {"knn": knn(4)}},
        b={"type": "nested", "properties": {"vector": knn()}},
        c={"type": "nested", "properties": {"sparse_encoding": {"type": "float"}}},
    )
    problems = check([embed({"x": "a", "y": "b"}), sparse({"z": "c"})], body)
    assert problems == [
        "p.processors[0].text_embedding.field_map.x -> mappings.properties.a.properties.knn.dimension: "
        "dimension 4 != 8, the embedding_dimension of model [dense]",
        "p.processors[0].text_embedding.field_map.y -> mappings.properties.b.properties.knn: "
        "list items are written as {\"knn\": ...}: needs a knn_vector subfield 'knn'",
        "p.processors[1].sparse_encoding.field_map.z -> mappings.properties.c.properties.sparse_encoding: "
        'list items are written as {"sparse_encoding": ...}: needs a rank_features subfield '
        "'sparse_encoding', found type [float]",
    ]


def test_plain_object_cannot_hold_several_list_items() -> None:
    body = mapping(vecs={"properties": {"knn": knn()}})
    (problem,) = check([chunk({"body": "chunks"}), embed({"chunks": "vecs"})], body)
    assert "mappings.properties.vecs: is an object" in problem and "use type nested" in problem


def test_nested_field_map_and_dotted_targets_resolve_mapping_paths() -> None:
    body = mapping(
        passages={
            "type": "nested",
            "properties": {"text": {"type": "text"}, "emb": knn(), "meta": {"properties": {}}},
        },
        **{"doc.title_vec": knn(3)},
    )
    steps = [
        chunk({"body": "passages"}, chunk_object_key="text"),
        embed({"passages": {"text": "emb"}, "doc.title": "title_vec"}),  # -> doc.title_vec
    ]
    (problem,) = check(steps, body)
    assert problem.startswith("p.processors[1].text_embedding.field_map.doc.title -> ")
    assert "mappings.properties.doc.title_vec.dimension: dimension 3 != 8" in problem


def test_chunk_objects_need_a_nested_field_map() -> None:
    steps = [chunk({"body": "passages"}, chunk_object_key="text"), embed({"passages": "vecs"})]
    (problem,) = check(steps, mapping(vecs=knn()))
    assert problem.startswith("p.processors[1].text_embedding.field_map.passages: ")
    assert "nothing would be embedded" in problem and "{passages: {text: <target>}}" in problem


def test_chunking_targets_text_like_or_dynamic() -> None:
    assert check([chunk({"a": "x", "b": "y", "c": "z"})], mapping(x={"type": "keyword"})) == []
    (wrong,) = check([chunk({"a": "x"})], mapping(x={"type": "integer"}))
    assert "mappings.properties.x: is of type [integer]; text_chunking writes a list" in wrong
    strict: dict[str, Any] = {
        "mappings": {"dynamic": "strict", "properties": {"o": {"properties": {}}}}
    }
    (missing,) = check([chunk({"a": "o.x"})], strict)
    assert "mappings.properties.o.properties.x: not in the mapping and dynamic is strict" in missing
    loose = copy.deepcopy(strict)
    loose["mappings"]["properties"]["o"]["dynamic"] = True
    assert check([chunk({"a": "o.x"})], loose) == []


def test_chunk_object_key_target_is_nested_or_object() -> None:
    steps = [chunk({"a": "p"}, chunk_object_key="text")]
    assert (
        check(steps, mapping(p={"type": "nested", "properties": {"text": {"type": "text"}}})) == []
    )
    assert check(steps, mapping()) == []
    (wrong,) = check(steps, mapping(p={"type": "text"}))
    assert "is of type [text]; chunk_object_key writes objects" in wrong


def test_models_unknown_or_of_the_wrong_function() -> None:
    def resolver(model_id: str) -> ModelRegistration:
        if model_id == "dense":
            return reg()
        raise ModelNotRegisteredError(f"model id [{model_id}] not found")

    body = mapping(v=knn(), s={"type": "rank_features"})
    problems = check([embed({"a": "v"}, "nope"), sparse({"a": "s"}, "dense")], body, resolver)
    assert problems == [
        "p.processors[0].text_embedding.model_id: model id [nope] not found",
        "p.processors[1].sparse_encoding.model_id: model [dense] is a TEXT_EMBEDDING model; "
        "sparse_encoding needs SPARSE_ENCODING or SPARSE_TOKENIZE",
    ]
    (missing,) = check([embed({"a": "v"}, "gone")], body, {})
    assert missing == "p.processors[0].text_embedding.model_id: model id [gone] is not registered"


def test_byte_vectors_are_refused() -> None:
    (problem,) = check([embed({"a": "v"})], mapping(v={**knn(), "data_type": "byte"}))
    assert "data_type [byte]: model [dense] writes float vectors" in problem


def test_every_problem_at_once_with_file_paths(tmp_path: Path) -> None:
    pipeline = tmp_path / "ingest" / "multi.yaml"
    pipeline.parent.mkdir()
    pipeline.write_text(
        yaml.safe_dump(
            {
                "processors": [
                    {"set": {"field": "x", "value": 1}},
                    embed({"title": "title_vec", "body": "body_vec"}),
                    sparse({"body": "body_tokens"}),
                ]
            },
            sort_keys=False,
        )
    )
    body_file = tmp_path / "index.json"
    body_file.write_text(json.dumps(mapping(title_vec=knn(16), body_vec={"type": "float"})))
    with pytest.raises(CrossReferenceError) as caught:
        check_against_mapping(pipeline, body_file, REGS)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{pipeline} vs {body_file}: 3 problem(s)"
    assert [line.split(" -> ")[0] for line in lines[1:]] == [
        f"  1. {pipeline}: multi.processors[1].text_embedding.field_map.title",
        f"  2. {pipeline}: multi.processors[1].text_embedding.field_map.body",
        f"  3. {pipeline}: multi.processors[2].sparse_encoding.field_map.body",
    ]
    assert all(f" -> {body_file}: mappings.properties." in line for line in lines[1:])
    assert isinstance(caught.value, ConfigError)


def test_problem_str_without_a_field() -> None:
    assert str(MappingProblem("p.processors[0]", "", "bad")) == "p.processors[0]: bad"


def test_registrations_in_reads_model_bodies(tmp_path: Path) -> None:
    (tmp_path / "m1.yaml").write_text(yaml.safe_dump(reg().to_body()))
    resolve = registrations_in(tmp_path)
    assert resolve("m1").model_config_ is not None
    with pytest.raises(ModelNotRegisteredError, match=r"model id \[m2\] not found"):
        resolve("m2")


def test_shipped_pipeline_matches_shipped_mapping() -> None:
    check_against_mapping(
        REPO / "pipelines/ingest/demo-embed.yaml",
        REPO / "mappings/combined.json",
        registrations_in(REPO / "pipelines/models"),
    )


def test_cli_validate_with_mapping(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "dense.yaml").write_text(yaml.safe_dump(reg().to_body()))
    pipeline = tmp_path / "ingest" / "p.yaml"
    pipeline.parent.mkdir()
    pipeline.write_text(yaml.safe_dump({"processors": [embed({"text": "vec"})]}))
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(mapping(vec=knn())))
    bad.write_text(json.dumps(mapping(vec=knn(3))))
    env = {"NEURALPIPE_PIPELINES_DIR": str(tmp_path)}
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["pipeline", "validate", str(pipeline), "--mapping", str(good)], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert f"ok (1 neuralpipe, 0 node processors; matches {good})" in ok.output
    failed = runner.invoke(
        cli, ["pipeline", "validate", str(pipeline), "--mapping", str(bad)], env=env
    )
    assert failed.exit_code == 2
    assert "dimension 3 != 8, the embedding_dimension of model [dense]" in failed.output
