"""sparse_vector emulation: method_parameters, the node mapping, token-id targets, the rewrite."""

from __future__ import annotations

from typing import Any

import pytest

from processors.config.sparse_vector_mapping import (
    SparseVectorMappingError,
    restore_mapping,
    to_node_body,
)
from processors.errors import InvalidQueryError
from processors.ingest.sparse_targets import split_field_map
from processors.search.neural_sparse import NeuralSparseQuery
from processors.search.sparse_ann import SparseAnnParams, SparseVectorField


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"k": 0}, "[neural_sparse] k must be a positive integer"),
        ({"top_n": -2}, "[neural_sparse] top_n must be a positive integer"),
        ({"heap_factor": 0}, "[neural_sparse] heap_factor must be a positive float"),
        ({"x": 1}, "[neural_sparse] unknown field [x]"),
        ({"k": [1]}, "[neural_sparse] unknown token [START_ARRAY] after [k]"),
        ("k", "[neural_sparse] method_parameters must be an object"),
    ],
)
def test_method_parameters_errors_are_the_plugins(value: Any, message: str) -> None:
    with pytest.raises(InvalidQueryError) as caught:
        SparseAnnParams.parse(value)
    assert str(caught.value) == message
    assert caught.value.error_type == "parsing_exception"


def test_mapping_round_trip_keeps_the_method_and_moves_the_setting() -> None:
    method = {"name": "seismic", "parameters": {"approximate_threshold": 5, "n_postings": 3}}
    body = {
        "settings": {"index.sparse": True, "number_of_shards": 1},
        "mappings": {"properties": {"doc": {"properties": {
            "emb": {"type": "sparse_vector", "method": method}}}}},
    }  # fmt: skip
    node = to_node_body(body)
    field = node["mappings"]["properties"]["doc"]["properties"]["emb"]
    assert field == {
        "type": "rank_features",
        "meta": {"neuralpipe_type": "sparse_vector", "ann_threshold": "5"},
    }
    assert node["settings"] == {"number_of_shards": 1}
    assert node["mappings"]["_meta"]["neuralpipe"]["index.sparse"] is True
    assert body["mappings"]["properties"]["doc"]["properties"]["emb"]["type"] == "sparse_vector"
    meta = dict(field["meta"])
    shown = restore_mapping(node["mappings"])
    assert shown == {"properties": {"doc": {"properties": {
        "emb": {"type": "sparse_vector", "method": method}}}}}  # fmt: skip
    assert SparseVectorField.from_meta(meta) == SparseVectorField(5)


def test_mapping_errors_list_every_bad_parameter_in_the_plugins_order() -> None:
    field = {"type": "sparse_vector", "method": {"name": "seismic", "parameters": {
        "cluster_ratio": "x", "summary_prune_ratio": 2, "y": 1}}}  # fmt: skip
    with pytest.raises(SparseVectorMappingError) as caught:
        to_node_body({"mappings": {"properties": {"e": field}}})
    assert str(caught.value) == (
        "Failed to parse mapping [_doc]: Validation Failed: "
        "1: Parameter [summary_prune_ratio] must be in (0, 1];"
        "2: Parameter [cluster_ratio] must be of java.lang.Float type;"
        "3: Unknown parameter 'y' found;"
    )


def test_field_map_splits_by_target_path() -> None:
    words, ids = split_field_map({"a": "x", "b": "ids", "o": {"c": "ids"}}, frozenset({"ids"}))
    assert (words, ids) == ({"a": "x", "o": {"c": "ids"}}, {"b": "ids"})


def test_sparse_vector_clause_adds_the_filter_and_restricts_to_the_top_k() -> None:
    asked: list[Any] = []

    def top_ids(query: Any, k: int, threshold: int) -> list[str] | None:
        asked.append((query, k, threshold))
        return ["7", "9"] if threshold == 0 else None

    query = NeuralSparseQuery.parse({"emb": {"query_tokens": {"12": 2.0}, "_name": "n",
        "method_parameters": {"k": 2, "filter": {"term": {"t": "a"}}}}})  # fmt: skip
    feature = {"rank_feature": {"field": "emb.12", "linear": {}, "boost": 2.0}}
    exact = query.on_sparse_vector(SparseVectorField(10), top_ids).to_query({"12": 2.0})
    assert exact == {"bool": {"should": [feature], "filter": [{"term": {"t": "a"}}], "_name": "n"}}
    ann = query.on_sparse_vector(SparseVectorField(0), top_ids).to_query({"12": 2.0})
    assert ann["bool"]["filter"] == [{"ids": {"values": ["7", "9"]}}]
    assert ann["bool"]["_name"] == "n"
    assert [(k, t) for _, k, t in asked] == [(2, 10), (2, 0)]
    with pytest.raises(InvalidQueryError, match="non-negative integer!"):
        query.on_sparse_vector(SparseVectorField(), None).to_query({"-1": 1.0})
