"""Dotted neural_sparse tokens on the real node: the term probe, and exact scores either way."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from processors.pipeline.search import SearchPipeline
from processors.search.sparse_dotted import DottedFeatureCheck
from tests.integration.test_search_node import SPARSE_DOCS, _index, models, plugin_score

pytestmark = pytest.mark.integration
FIELD = "text_sparse"


def _docs() -> dict[str, dict[str, Any]]:
    return {k: {FIELD: v} for k, v in SPARSE_DOCS.items()}


def _search(client: Any, index: str, tokens: dict[str, float]) -> tuple[list[Any], Any]:
    pipeline = SearchPipeline(None, models=models, client=client)
    body = {"query": {"neural_sparse": {FIELD: {"query_tokens": tokens}}}}
    hits = pipeline.search(index, body)["hits"]["hits"]
    return hits, pipeline.rewrite(body, index)["query"]


def _assert_exact(hits: list[Any], tokens: dict[str, float], docs: dict[str, Any]) -> None:
    expected = {k: plugin_score(tokens, d) for k, d in docs.items() if set(tokens) & set(d)}
    assert {h["_id"] for h in hits} == set(expected)
    for hit in hits:
        assert np.float32(hit["_score"]) == expected[hit["_id"]], hit["_id"]


def test_the_probe_finds_exactly_the_dotted_features_documents_have(
    client: Any, index_name: str
) -> None:
    _index(client, index_name, "sparse.json", _docs())
    check = DottedFeatureCheck(client, index_name)
    asked = ["3.14", ".", "u.s", "3.1", "3.145", ".x", "3.14 "]
    assert check.present(FIELD, asked) == {"3.14", "."}
    assert DottedFeatureCheck(client, index_name).present("other_field", ["3.14"]) is None


def test_absent_dotted_tokens_keep_the_rank_feature_rewrite_and_exact_scores(
    client: Any, index_name: str
) -> None:
    _index(client, index_name, "sparse.json", _docs())
    tokens = {"hello": 0.9, "u.s": 1.3, "2.71": 0.5, "planet": 0.3333333}
    hits, sent = _search(client, index_name, tokens)
    assert [c["rank_feature"]["field"] for c in sent["bool"]["should"]] == [
        f"{FIELD}.hello",
        f"{FIELD}.planet",
    ]
    _assert_exact(hits, tokens, SPARSE_DOCS)
    hits, sent = _search(client, index_name, {"u.s": 1.0, ".x": 2.0})
    assert (hits, sent) == ([], {"match_none": {}})


def test_a_present_dotted_token_keeps_the_script_and_a_deleted_one_stays_exact(
    client: Any, index_name: str
) -> None:
    _index(client, index_name, "sparse.json", _docs())
    tokens = {"hello": 0.9, ".": 0.3, "unrelated": 0.5}
    hits, sent = _search(client, index_name, tokens)
    assert "script_score" in sent
    _assert_exact(hits, tokens, SPARSE_DOCS)
    # the only document with "." is deleted: its term may linger until a merge (the probe
    # then answers "present" and the script runs): exact either way
    client.delete(index=index_name, id="c", refresh=True)
    hits, _ = _search(client, index_name, tokens)
    _assert_exact(hits, tokens, {k: v for k, v in SPARSE_DOCS.items() if k != "c"})
