"""neural_sparse with an analyzer of the index (not ml-commons'): the node's tokens, weight 1."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from processors.errors import InvalidQueryError
from processors.pipeline.search import SearchPipeline
from tests.integration.test_search_node import SPARSE_DOCS, _index, models, plugin_score

pytestmark = pytest.mark.integration
FIELD = "text_sparse"


def _search(client: Any, index: str, text: str, analyzer: str) -> list[Any]:
    pipeline = SearchPipeline(None, models=models, client=client)
    body = {"query": {"neural_sparse": {FIELD: {"query_text": text, "analyzer": analyzer}}}}
    hits: list[Any] = pipeline.search(index, body)["hits"]["hits"]
    return hits


def test_a_built_in_analyzer_scores_each_of_its_tokens_with_weight_one(
    client: Any, index_name: str
) -> None:
    _index(client, index_name, "sparse.json", {k: {FIELD: v} for k, v in SPARSE_DOCS.items()})
    hits = _search(client, index_name, "Hello PLANET hello", "standard")
    tokens = {"hello": 1.0, "planet": 1.0}  # lowercased; the repeated token counted once
    expected = {k: plugin_score(tokens, d) for k, d in SPARSE_DOCS.items() if set(tokens) & set(d)}
    assert expected
    assert {h["_id"] for h in hits} == set(expected)
    for hit in hits:
        assert np.float32(hit["_score"]) == expected[hit["_id"]], hit["_id"]
    # whitespace keeps the case: "Hello" is no feature of any document
    assert {h["_id"] for h in _search(client, index_name, "planet Hello", "whitespace")} == {
        k for k, d in SPARSE_DOCS.items() if "planet" in d
    }


def test_an_unknown_analyzer_gets_the_plugins_message(client: Any, index_name: str) -> None:
    _index(client, index_name, "sparse.json", {k: {FIELD: v} for k, v in SPARSE_DOCS.items()})
    with pytest.raises(InvalidQueryError, match=r"Analyzer \[nope\] not found in shard context"):
        _search(client, index_name, "hello", "nope")
