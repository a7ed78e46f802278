"""The one index-body translation of the proxy's ``PUT /<index>`` and ``neuralpipe index create``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from processors.config.index_translation import node_index_body, take_batch_size
from processors.config.sparse_vector_mapping import SparseVectorMappingError
from processors.semantic.fields import SemanticMappingError


def _doc(model_id: str) -> dict[str, Any]:
    return {"algorithm": "SPARSE_ENCODING", "name": model_id}


BODY = {
    "settings": {"index": {"sparse": True, "neural_search.semantic_ingest_batch_size": 7},
                 "number_of_shards": 1},
    "mappings": {"properties": {
        "emb": {"type": "sparse_vector", "method": {"name": "seismic"}},
        "text": {"type": "semantic", "model_id": "s"},
    }},
}  # fmt: skip


def test_semantic_batch_size_and_sparse_vector_in_one_pass() -> None:
    before = copy.deepcopy(BODY)
    node = node_index_body(BODY, _doc)
    assert BODY == before  # a copy
    assert node["settings"]["number_of_shards"] == 1
    assert not node["settings"].get("index")  # both plugin settings went to _meta
    properties = node["mappings"]["properties"]
    assert properties["emb"]["type"] == "rank_features"
    assert properties["text"] == {"type": "text"}
    assert properties["text_semantic_info"]["properties"]["embedding"] == {"type": "rank_features"}
    ours = node["mappings"]["_meta"]["neuralpipe"]
    assert ours["index.neural_search.semantic_ingest_batch_size"] == "7"
    assert ours["index.sparse"] is True and set(ours["sparse_vector"]) == {"emb"}
    assert ours["semantic"]["text"]["model_id"] == "s"


def test_nothing_to_translate_is_left_alone() -> None:
    body = {
        "settings": {"number_of_shards": 1},
        "mappings": {"properties": {"t": {"type": "text"}}},
    }
    assert node_index_body(body, _doc) == body


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be >= 1"),
        (101, "must be <= 100"),
        ("x", r"Failed to parse value \[x\] for setting"),
    ],
)
def test_batch_size_refusals(value: Any, message: str) -> None:
    with pytest.raises(SemanticMappingError, match=message):
        take_batch_size({"index.neural_search.semantic_ingest_batch_size": value})


def test_refusals_are_the_plugins() -> None:
    bad = {"mappings": {"properties": {"e": {"type": "sparse_vector", "method": {"name": "x"}}}}}
    with pytest.raises(SparseVectorMappingError, match="x is not supported"):
        node_index_body(bad, _doc)
