"""``neural`` -> ``knn``: golden rewrites, the plugin's messages, one embedding per text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from processors.errors import InvalidQueryError, ModelError, UnsupportedFeatureError
from processors.models.encoders import ContentType
from processors.search.neural import NeuralQuery
from processors.search.rewrite import rewrite_request
from processors.testing.fakes import CountSparseEncoder, HashEmbedder


class CountingEmbedder:
    """A TextEmbedder recording every call (texts and content type)."""

    def __init__(self, dimension: int = 2) -> None:
        self.dimension = dimension
        self.calls: list[tuple[list[str], str]] = []

    def embed(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> npt.NDArray[np.float32]:
        self.calls.append((list(texts), content_type))
        return np.array([[len(t), 0.5] for t in texts], dtype=np.float32)


def _rewrite(body: dict[str, Any], embedder: Any = None) -> dict[str, Any]:
    model = embedder or CountingEmbedder()
    return rewrite_request(body, lambda model_id: model)


def _neural(**params: Any) -> dict[str, Any]:
    return {"query": {"neural": {"v": {"query_text": "hello", "model_id": "m", **params}}}}


def _message(body: dict[str, Any]) -> str:
    with pytest.raises(InvalidQueryError) as caught:
        _rewrite(body)
    return str(caught.value)


def test_golden_rewrite_carries_every_knn_parameter_over() -> None:
    body = _neural(
        k=5,
        filter={"term": {"lang": "en"}},
        method_parameters={"ef_search": 100},
        rescore={"oversample_factor": 2.0},
        expand_nested_docs=True,
        boost=2,
        _name="q1",
    )
    assert _rewrite(body) == {
        "query": {
            "knn": {
                "v": {
                    "vector": [5.0, 0.5],
                    "k": 5,
                    "filter": {"term": {"lang": "en"}},
                    "method_parameters": {"ef_search": 100},
                    "rescore": {"oversample_factor": 2.0},
                    "expand_nested_docs": True,
                    "boost": 2,
                    "_name": "q1",
                }
            }
        }
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"k": 10}),
        ({"k": "7"}, {"k": 7}),
        ({"min_score": 0.9}, {"min_score": 0.9}),
        ({"max_distance": "2.5"}, {"max_distance": "2.5"}),
    ],
)
def test_exactly_one_of_k_min_score_max_distance(
    params: dict[str, Any], expected: dict[str, Any]
) -> None:
    knn = _rewrite(_neural(**params))["query"]["knn"]["v"]
    assert {k: v for k, v in knn.items() if k != "vector"} == expected


@pytest.mark.parametrize(
    "params",
    [{"k": 1, "min_score": 0.5}, {"k": 1, "max_distance": 1}, {"min_score": 1, "max_distance": 1}],
)
def test_more_than_one_of_k_min_score_max_distance_is_refused(params: dict[str, Any]) -> None:
    assert _message(_neural(**params)) == (
        "Invalid neural query: Only one of k, max_distance, or min_score can be provided"
    )


def test_every_problem_in_the_plugins_order_and_3x_words() -> None:
    body = {"query": {"neural": {"v": {"query_text": " ", "k": 1, "min_score": 1, "model_id": ""}}}}
    assert _message(body) == (
        "Invalid neural query: Either query_text or query_image must be provided.; "
        "Only one of k, max_distance, or min_score can be provided; "
        "model_id field can not be empty"
    )
    body["query"]["neural"]["v"]["query_text"] = "x"
    assert _message(body) == (
        "Invalid neural query: Only one of k, max_distance, or min_score can be provided; "
        "model_id field can not be empty"
    )


def test_missing_model_id_without_an_enricher() -> None:
    body = {"query": {"neural": {"v": {"query_text": "x"}}}}
    assert _message(body) == "Invalid neural query: model_id must be provided."


@pytest.mark.parametrize(
    "extra",
    [{"query_tokens": {"a": 1.0}}, {"semantic_field_search_analyzer": "standard"}],
)
def test_sparse_only_parameters_are_refused_on_a_knn_field(extra: dict[str, Any]) -> None:
    (key,) = extra
    assert _message(_neural(**extra)) == (
        f"Invalid neural query: Target field is a KNN field using a dense model. {key} is not "
        "supported since it is for the sparse model."
    )


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        (
            {"a": {"query_text": "x"}, "b": {}},
            "[neural] query doesn't support multiple fields, found [a] and [b]",
        ),
        ({"v": {"query_text": "x", "foo": 1}}, "[neural] query does not support [foo]"),
        (
            {"v": {"query_text": "x", "query_vector": [1.0]}},
            "[neural] unknown token [START_ARRAY] after [query_vector]",
        ),
        ({"v": {"query_text": "x", "k": [1]}}, "[neural] unknown token [START_ARRAY] after [k]"),
        ({"v": {"query_text": "x", "filter": "f"}}, "[neural] query does not support [filter]"),
        ({"v": {"query_text": "x", "rescore": True}}, "[neural] query does not support [rescore]"),
        ({"v": {"query_text": "x", "k": 1.5}}, "Value [1.5] has a decimal part"),
        (
            {"v": {"query_text": "x", "expand_nested_docs": "yes"}},
            "Failed to parse value [yes] as only [true] or [false] are allowed.",
        ),
        ({"v": {"query_text": "x", "boost": "high"}}, 'For input string: "high"'),
    ],
)
def test_parse_errors_are_the_plugins(clause: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQueryError) as caught:
        NeuralQuery.parse(clause)
    assert str(caught.value) == message


def test_query_image_is_refused_as_not_emulated() -> None:
    with pytest.raises(UnsupportedFeatureError):
        _rewrite(_neural(query_image="aGk="))


def test_same_text_is_embedded_once_per_model_and_all_texts_in_one_call() -> None:
    embedder = CountingEmbedder()
    body: dict[str, Any] = {
        "query": {
            "bool": {
                "should": [
                    {"neural": {"a": {"query_text": "red", "model_id": "m"}}},
                    {"neural": {"b": {"query_text": "red", "model_id": "m", "k": 3}}},
                    {"neural": {"c": {"query_text": "blue", "model_id": "m"}}},
                ]
            }
        },
        "post_filter": {"neural": {"a": {"query_text": "blue", "model_id": "m"}}},
    }
    out = rewrite_request(body, lambda model_id: embedder)
    assert embedder.calls == [(["red", "blue"], "query")]
    should = out["query"]["bool"]["should"]
    assert [c["knn"][f]["vector"][0] for c, f in zip(should, "abc", strict=True)] == [3.0, 3.0, 4.0]
    assert body["query"]["bool"]["should"][0] == {
        "neural": {"a": {"query_text": "red", "model_id": "m"}}
    }


def test_one_call_per_model() -> None:
    seen: list[str] = []

    def models(model_id: str) -> Any:
        seen.append(model_id)
        return HashEmbedder(8)

    body = {
        "query": {
            "dis_max": {
                "queries": [
                    {"neural": {"a": {"query_text": "x", "model_id": "m1"}}},
                    {"neural": {"a": {"query_text": "y", "model_id": "m2"}}},
                    {"neural": {"a": {"query_text": "z", "model_id": "m1"}}},
                ]
            }
        }
    }
    rewrite_request(body, models)
    assert sorted(seen) == ["m1", "m2"]


def test_a_sparse_model_cannot_serve_a_neural_query() -> None:
    with pytest.raises(ModelError, match="not a TEXT_EMBEDDING model"):
        rewrite_request(_neural(), lambda model_id: CountSparseEncoder())
