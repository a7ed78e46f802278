from __future__ import annotations

import json
from pathlib import Path

import pytest

from processors.errors import ConfigError
from processors.opensearch.indices import (
    check_for_embedded_node,
    delete_index,
    knn_fields,
    load_mapping,
    split_pipeline_settings,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["dense", "sparse", "combined"])
def test_shipped_mappings_load_and_suit_the_local_node(name: str) -> None:
    body = load_mapping(REPO / "mappings" / f"{name}.json")
    check_for_embedded_node(body)
    for field in knn_fields(body).values():
        assert field["dimension"] == 384
        assert field["method"]["engine"] == "lucene"
        assert field["method"]["space_type"] == "cosinesimil"


def test_combined_mapping_has_text_dense_and_sparse() -> None:
    props = load_mapping(REPO / "mappings" / "combined.json")["mappings"]["properties"]
    types = {p["type"] for p in props.values()}
    assert {"text", "knn_vector", "rank_features"} <= types


def test_native_engine_is_refused_with_the_field_path() -> None:
    body = {
        "mappings": {
            "properties": {
                "a": {
                    "properties": {
                        "v": {
                            "type": "knn_vector",
                            "dimension": 2,
                            "method": {"name": "hnsw", "engine": "faiss"},
                        }
                    }
                }
            }
        }
    }
    with pytest.raises(ConfigError, match=r"mappings\.properties\.a\.v\.method\.engine: 'faiss'"):
        check_for_embedded_node(body)


def test_a_vector_without_engine_gets_lucene_instead_of_the_native_default() -> None:
    body = {
        "mappings": {
            "properties": {
                "plain": {"type": "knn_vector", "dimension": 2},
                "spaced": {"type": "knn_vector", "dimension": 2, "space_type": "l2"},
                "tuned": {
                    "type": "knn_vector",
                    "dimension": 2,
                    "method": {
                        "name": "hnsw",
                        "space_type": "innerproduct",
                        "parameters": {"m": 8},
                    },
                },
            }
        }
    }
    props = check_for_embedded_node(body)["mappings"]["properties"]
    assert props["plain"]["method"] == {"name": "hnsw", "engine": "lucene"}
    assert props["spaced"] == {
        "type": "knn_vector",
        "dimension": 2,
        "method": {"name": "hnsw", "engine": "lucene", "space_type": "l2"},
    }
    assert props["tuned"]["method"] == {
        "name": "hnsw",
        "engine": "lucene",
        "space_type": "innerproduct",
        "parameters": {"m": 8},
    }
    assert "method" not in body["mappings"]["properties"]["plain"]  # the input is not changed


@pytest.mark.parametrize("option", [{"mode": "on_disk"}, {"compression_level": "16x"}])
def test_options_that_imply_faiss_are_refused(option: dict[str, str]) -> None:
    body = {"mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 2, **option}}}}
    with pytest.raises(ConfigError, match=rf"mappings\.properties\.v\.{next(iter(option))} "):
        check_for_embedded_node(body)


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"mappings": ')
    with pytest.raises(ConfigError, match=r"broken\.json: not valid JSON"):
        load_mapping(bad)


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("mapping:\n  properties: {}\n")
    with pytest.raises(ConfigError, match=r"unknown top-level keys \['mapping'\]"):
        load_mapping(bad)


def test_pipeline_settings_move_to_meta_in_both_spellings() -> None:
    body = {
        "settings": {
            "index.default_pipeline": "embed",
            "index": {"search": {"default_pipeline": "hyb"}},
        },
        "mappings": {"properties": {}},
    }
    sent, taken = split_pipeline_settings(body)
    assert taken == {"index.default_pipeline": "embed", "index.search.default_pipeline": "hyb"}
    assert "embed" not in json.dumps(sent["settings"]) and "hyb" not in json.dumps(sent["settings"])
    assert sent["mappings"]["_meta"]["neuralpipe"] == taken
    assert body["settings"]["index.default_pipeline"] == "embed"  # the input is left alone


@pytest.mark.parametrize("name", ["*", "test-*", "a,b", "_all"])
def test_delete_refuses_patterns(name: str) -> None:
    with pytest.raises(ConfigError, match="one exact index name"):
        delete_index(object(), name)
