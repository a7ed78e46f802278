"""``neural_sparse`` -> ``rank_feature`` clauses: golden rewrites and the plugin's quirks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from processors.errors import InvalidQueryError, ModelError, UnsupportedFeatureError
from processors.models.encoders import ContentType
from processors.search.neural_sparse import DOTTED_TOKEN_SCRIPT, NeuralSparseQuery
from processors.search.rewrite import rewrite_request
from processors.testing.fakes import CountSparseEncoder, HashEmbedder


class IdfTokenizer:
    """A doc-only SPARSE_TOKENIZE stand-in: distinct words weighted by an IDF table."""

    def __init__(self, idf: dict[str, float]) -> None:
        self.idf = idf
        self.calls: list[tuple[list[str], str]] = []

    def encode(
        self, texts: Sequence[str], content_type: ContentType = "passage"
    ) -> list[dict[str, float]]:
        self.calls.append((list(texts), content_type))
        return [{w: self.idf.get(w, 1.0) for w in dict.fromkeys(t.split())} for t in texts]


def _sparse(**params: Any) -> dict[str, Any]:
    return {"query": {"neural_sparse": {"f": params}}}


def _rewrite(body: dict[str, Any], models: Any = None) -> dict[str, Any]:
    return rewrite_request(body, models or (lambda model_id: CountSparseEncoder()))


def _message(body: dict[str, Any], models: Any = None) -> str:
    with pytest.raises(InvalidQueryError) as caught:
        _rewrite(body, models)
    return str(caught.value)


def test_query_tokens_become_linear_rank_features_boosted_by_their_weight() -> None:
    body = _sparse(query_tokens={"hello": 1.2345678, "world": "0.5"}, boost=2, _name="s1")
    assert _rewrite(body)["query"] == {
        "bool": {
            "should": [
                {"rank_feature": {"field": "f.hello", "linear": {}, "boost": 1.2345678}},
                {"rank_feature": {"field": "f.world", "linear": {}, "boost": 0.5}},
            ],
            "boost": 2.0,
            "_name": "s1",
        }
    }


def test_query_tokens_win_over_model_id_and_analyzer() -> None:
    body = _sparse(query_tokens={"a": 1}, query_text="x", model_id="m", analyzer="standard")
    assert _rewrite(body, lambda model_id: pytest.fail("no model call"))["query"]["bool"][
        "should"
    ] == [{"rank_feature": {"field": "f.a", "linear": {}, "boost": 1.0}}]


def test_an_empty_token_map_matches_nothing() -> None:
    assert _rewrite(_sparse(query_tokens={}))["query"] == {"match_none": {}}
    assert _rewrite(_sparse(query_tokens={}, _name="n"))["query"] == {"match_none": {"_name": "n"}}


def test_an_encoder_that_returns_nothing_also_matches_nothing() -> None:
    body = _sparse(query_text="!!!", model_id="m")
    assert _rewrite(body)["query"] == {"match_none": {}}


def test_dotted_tokens_are_scored_by_a_script_with_the_boost_folded_in() -> None:
    body = _sparse(query_tokens={"3.14": 1.5, "pi": 0.5, "zero.w": 0}, boost=2, _name="d")
    assert _rewrite(body)["query"] == {
        "script_score": {
            "query": {"match_all": {}},
            "script": {
                "source": DOTTED_TOKEN_SCRIPT,
                "params": {"field": "f", "path": ["f"], "tokens": {"3.14": 3.0, "pi": 1.0}},
            },
            "min_score": 1e-45,
            "_name": "d",
        }
    }


def test_a_negative_weight_fails_as_lucene_refuses_it() -> None:
    assert _message(_sparse(query_tokens={"a": -1})) == "boost must be a positive float, got -1.0"
    assert (
        _message(_sparse(query_tokens={"a": -1e-5}))
        == "boost must be a positive float, got -1.0E-5"
    )


def test_a_bi_encoder_model_encodes_the_query_text() -> None:
    body = _sparse(query_text="hello hello world", model_id="splade")
    should = _rewrite(body)["query"]["bool"]["should"]
    assert [(c["rank_feature"]["field"], c["rank_feature"]["boost"]) for c in should] == [
        ("f.hello", 1.6931472),
        ("f.world", 1.0),
    ]


def test_a_doc_only_tokenizer_model_gives_idf_weights_and_is_called_once() -> None:
    tokenizer = IdfTokenizer({"good": 3.6415958, "day": 3.301043})
    body = {
        "query": {
            "bool": {
                "should": [
                    {"neural_sparse": {"a": {"query_text": "good day", "model_id": "tok"}}},
                    {"neural_sparse": {"b": {"query_text": "good day", "model_id": "tok"}}},
                ]
            }
        }
    }
    out = rewrite_request(body, lambda model_id: tokenizer)
    assert tokenizer.calls == [(["good day"], "query")]
    clause = out["query"]["bool"]["should"][1]["bool"]["should"]
    assert [c["rank_feature"]["boost"] for c in clause] == [3.6415958, 3.301043]


def test_without_model_id_the_bert_uncased_analyzer_is_used() -> None:
    seen: list[str] = []
    tokenizer = IdfTokenizer({"hello": 6.9377565, "zero": 0.0})

    def models(model_id: str) -> Any:
        seen.append(model_id)
        return tokenizer

    out = _rewrite(_sparse(query_text="hello zero"), models)
    assert seen == ["bert-uncased-tokenizer"]
    assert out["query"]["bool"]["should"] == [  # analyzer mode drops weights <= 0
        {"rank_feature": {"field": "f.hello", "linear": {}, "boost": 6.9377565}}
    ]
    _rewrite(_sparse(query_text="a", analyzer="mbert-uncased"), models)
    assert seen[-1] == "mbert-uncased-tokenizer"


def test_other_analyzers_are_not_emulated() -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"analyzer \[standard\]"):
        _rewrite(_sparse(query_text="a", analyzer="standard"))


def test_model_id_and_analyzer_together_are_refused() -> None:
    assert _message(_sparse(query_text="a", model_id="m", analyzer="bert-uncased")) == (
        "Cannot use both [model_id: m] and [analyzer: bert-uncased] for neural sparse query "
        "tokenization. Specify only one tokenization method. These parameters can be set either "
        "in the query or through the neural_query_enricher search processor."
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {},
            "either query_text field or query_tokens field must be provided for [neural_sparse] query",
        ),
        ({"query_text": ""}, "query_text field can not be empty"),
        ({"query_text": "a", "model_id": ""}, "model_id field can not be empty"),
        ({"query_text": "a", "analyzer": ""}, "analyzer field can not be empty"),
        ({"query_text": "a", "foo": 1}, "[neural_sparse] query does not support [foo] field"),
        (
            {"query_text": "a", "method_parameters": []},
            "[neural_sparse] method_parameters must be an object",
        ),
        (
            {"query_text": "a", "query_tokens": [1]},
            "[neural_sparse] unknown token [START_ARRAY] after [query_tokens]",
        ),
        ({"query_text": "   ", "model_id": "m"}, "query_text and model_id cannot be null"),
    ],
)
def test_validation_messages_are_the_plugins(params: dict[str, Any], message: str) -> None:
    assert _message(_sparse(**params)) == message


def test_two_fields_are_refused() -> None:
    with pytest.raises(InvalidQueryError, match=r"found \[a\] and \[b\]"):
        NeuralSparseQuery.parse({"a": {"query_text": "x"}, "b": {"query_text": "y"}})


def test_max_token_score_is_accepted_and_ignored() -> None:
    body = _sparse(query_tokens={"a": 5.0}, max_token_score=1.0)
    assert _rewrite(body)["query"]["bool"]["should"][0]["rank_feature"]["boost"] == 5.0


def test_a_dense_model_cannot_serve_neural_sparse() -> None:
    with pytest.raises(ModelError, match="not a SPARSE_ENCODING or SPARSE_TOKENIZE model"):
        _rewrite(_sparse(query_text="a", model_id="m"), lambda model_id: HashEmbedder(4))
