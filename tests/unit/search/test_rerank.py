"""rerank: by_field and ml_opensearch on responses, query context, document fields, failures."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from processors.compat.floats import json_score
from processors.errors import (
    InvalidProcessorConfigError,
    InvalidQueryError,
    ModelNotRegisteredError,
    ProcessorRuntimeError,
)
from processors.models.encoders import CrossEncoder
from processors.search.rerank import RerankConfig, apply_rerank
from processors.search.rerank_context import document_texts, query_text, serialized_query

JSONObject = dict[str, Any]


def response(*sources: Any, total: int | None = None) -> JSONObject:
    hits = []
    for i, source in enumerate(sources):
        hit: JSONObject = {"_index": "i", "_id": str(i), "_score": float(len(sources) - i)}
        if source is not None:
            hit["_source"] = source
        hits.append(hit)
    count = len(sources) if total is None else total
    return {
        "took": 3,
        "timed_out": False,
        "hits": {
            "total": {"value": count, "relation": "eq"},
            "max_score": float(len(sources)),
            "hits": hits,
        },
        "aggregations": {"a": {"value": 1}},
    }


def by_field(**options: Any) -> RerankConfig:
    return RerankConfig.from_body({"by_field": {"target_field": "stars", **options}})


def ids(result: JSONObject) -> list[str]:
    return [h["_id"] for h in result["hits"]["hits"]]


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "No rerank type found. Possible rerank types are: [ml_opensearch, by_field]"),
        (
            {"ml_opensearch": {"model_id": "m"}, "by_field": {"target_field": "x"}},
            "Multiple rerank types found: [ml_opensearch, by_field]. Only one is permitted.",
        ),
        (
            {"ml_opensearch": {}, "context": {"document_fields": ["t"]}},
            "[model_id] required property is missing",
        ),
        (
            {"ml_opensearch": {"model_id": 7}, "context": {"document_fields": ["t"]}},
            "[model_id] property isn't a string, but of type [java.lang.Integer]",
        ),
        ({"ml_opensearch": {"model_id": "m"}}, "[context] required property is missing"),
        (
            {"ml_opensearch": {"model_id": "m"}, "context": ["t"]},
            "[context] property isn't a map, but of type [java.util.ArrayList]",
        ),
        (
            {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": ["t"], "foo": 1}},
            "unrecognized context field: foo",
        ),
        (
            {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": "t"}},
            "document_fields must be a list of field names",
        ),
        (
            {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": []}},
            "document_fields must be nonempty",
        ),
        (
            {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": ["f"] * 51}},
            "document_fields must not contain more than 50 fields. Configure by setting plugins.neural_search.reranker_max_document_fields",
        ),
        ({"by_field": {}}, "[target_field] required property is missing"),
        (
            {"by_field": {"target_field": "x", "keep_previous_score": "true"}},
            "[keep_previous_score] property isn't a boolean, but of type [java.lang.String]",
        ),
        (
            {"by_field": {"target_field": "x"}, "ignore_failure": 1},
            "[ignore_failure] property isn't a boolean, but of type [java.lang.Integer]",
        ),
        (
            {"by_field": {"target_field": "x"}, "foo": 1},
            "processor [rerank] doesn't support one or more provided configuration parameters [foo]",
        ),
        ({"by_field": "x"}, "[by_field] property isn't a map, but of type [java.lang.String]"),
    ],
)
def test_config_errors(body: JSONObject, message: str) -> None:
    with pytest.raises(InvalidProcessorConfigError) as info:
        RerankConfig.from_body(body)
    assert [m for _, m in info.value.problems] == [message]


def test_config_defaults() -> None:
    cfg = RerankConfig.from_body(
        {"by_field": {"target_field": "a.b"}, "context": {"x": 1}, "tag": "t"}
    )
    assert (cfg.type, cfg.target_field, cfg.remove_target_field, cfg.keep_previous_score) == (
        "by_field",
        "a.b",
        False,
        False,
    )
    assert (cfg.previous_score_field, cfg.tag, cfg.ignore_failure) == ("previous_score", "t", False)
    ml = RerankConfig.from_body(
        {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": ["a", "b"]}}
    )
    assert (ml.type, ml.model_id, ml.document_fields) == ("ml_opensearch", "m", ("a", "b"))


# --- by_field ------------------------------------------------------------------------------


def test_by_field_sorts_by_the_field_and_keeps_the_rest() -> None:
    original = response({"stars": 1}, {"stars": "4.5"}, {"stars": 3.25})
    before = copy.deepcopy(original)
    result = apply_rerank(original, by_field(), {}, None)
    assert [(h["_id"], h["_score"]) for h in result["hits"]["hits"]] == [
        ("1", 4.5),
        ("2", 3.25),
        ("0", 1.0),
    ]
    assert result["hits"]["max_score"] == 4.5
    assert result["hits"]["total"] == original["hits"]["total"]
    assert result["aggregations"] == original["aggregations"] and result["took"] == 3
    assert result["profile"] == {"shards": []}
    assert original == before  # the input is not modified


def test_by_field_score_is_a_float32() -> None:
    result = apply_rerank(response({"stars": 0.1}, {"stars": "0.3"}), by_field(), {}, None)
    assert [h["_score"] for h in result["hits"]["hits"]] == [json_score(np.float32(0.3)), 0.1]


def test_by_field_ties_keep_their_order() -> None:
    result = apply_rerank(
        response({"stars": 2}, {"stars": 5}, {"stars": 2}, {"stars": 5}), by_field(), {}, None
    )
    assert ids(result) == ["1", "3", "0", "2"]


def test_by_field_nested_path_keep_previous_and_remove_target() -> None:
    docs = response({"reviews": {"stars": 2}, "t": "a"}, {"reviews": {"stars": 9, "count": 3}})
    cfg = RerankConfig.from_body(
        {
            "by_field": {
                "target_field": "reviews.stars",
                "keep_previous_score": True,
                "remove_target_field": True,
            }
        }
    )
    hits = apply_rerank(docs, cfg, {}, None)["hits"]["hits"]
    assert hits[0]["_source"] == {"reviews": {"count": 3}, "previous_score": 1.0}
    assert hits[1]["_source"] == {"t": "a", "previous_score": 2.0}  # the emptied parent is gone


def test_by_field_previous_score_field() -> None:
    cfg = by_field(keep_previous_score=True, previous_score_field="old")
    hits = apply_rerank(response({"stars": 1}), cfg, {}, None)["hits"]["hits"]
    assert hits[0]["_source"] == {"stars": 1, "old": 1.0}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "There is no source field to be able to perform rerank on hit [1]"),
        ({"other": 1}, "The field to rerank by is not found at hit [1]"),
        (
            {"stars": "abc"},
            "The field mapping to rerank by [abc] is not Numerical, instead of type [String]",
        ),
        (
            {"stars": [1, 2]},
            "The field mapping to rerank by [[1, 2]] is not Numerical, instead of type [ArrayList]",
        ),
        (
            {"stars": True},
            "The field mapping to rerank by [true] is not Numerical, instead of type [Boolean]",
        ),
    ],
)
def test_by_field_errors(source: Any, message: str) -> None:
    with pytest.raises(ProcessorRuntimeError) as info:
        apply_rerank(response({"stars": 1}, source), by_field(), {}, None)
    assert str(info.value) == message and info.value.doc_id == "1"


def test_by_field_path_does_not_go_through_lists() -> None:
    cfg = by_field(target_field="reviews.stars")
    with pytest.raises(ProcessorRuntimeError, match="not found at hit"):
        apply_rerank(response({"reviews": [{"stars": 1}]}), cfg, {}, None)


def test_ignore_failure_returns_the_response_unchanged() -> None:
    original = response({"stars": "abc"})
    cfg = RerankConfig.from_body({"by_field": {"target_field": "stars"}, "ignore_failure": True})
    assert apply_rerank(original, cfg, {}, None) is original


def test_no_total_hits_returns_the_response_as_is() -> None:
    original = response({"nothing": 1}, total=0)
    assert apply_rerank(original, by_field(), {}, None) is original


def test_missing_total_and_empty_page_fail_as_the_plugin_does() -> None:
    no_total = response({"stars": 1})
    del no_total["hits"]["total"]
    with pytest.raises(ProcessorRuntimeError, match="track_total_hits"):
        apply_rerank(no_total, by_field(), {}, None)
    with pytest.raises(ProcessorRuntimeError, match="Index 0 out of bounds"):
        apply_rerank(response(total=5), by_field(), {}, None)


# --- ml_opensearch -------------------------------------------------------------------------


class RecordingCrossEncoder:
    """Scores a text by how many query words it contains; remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append((query, list(texts)))
        words = set(query.lower().split())
        return np.array(
            [sum(w in words for w in t.lower().split()) - 0.5 for t in texts], dtype=np.float32
        )


ML = RerankConfig.from_body(
    {"ml_opensearch": {"model_id": "cross"}, "context": {"document_fields": ["title", "body"]}}
)


def ext(**context: Any) -> JSONObject:
    return {"rerank": {"query_context": context}}


def test_ml_opensearch_scores_query_and_joined_fields() -> None:
    model = RecordingCrossEncoder()
    docs = response(
        {"title": "Heat", "body": " flow"}, {"title": "wing heat flow"}, {"body": "rain"}
    )
    result = apply_rerank(
        docs, ML, {"ext": ext(query_text="heat flow")}, {"cross": model}.__getitem__
    )
    assert model.calls == [("heat flow", ["Heat flow", "wing heat flow", "rain"])]
    assert [(h["_id"], h["_score"]) for h in result["hits"]["hits"]] == [
        ("0", 1.5),
        ("1", 1.5),
        ("2", -0.5),
    ]
    assert result["hits"]["max_score"] == 1.5


def test_document_texts_follow_string_value_of() -> None:
    hit = {
        "_id": "1",
        "fields": {"f": ["from-fields", "x"], "e": []},
        "_source": {
            "f": "src",
            "tags": ["a", "b"],
            "n": 4.5,
            "i": 3,
            "b": True,
            "o": {"k": "v"},
            "a.b": "literal",
            "big": 1e10,
            "none": None,
        },
    }
    fields = ["f", "e", "tags", "n", "i", "b", "o", "missing", "a.b", "big", "none"]
    (text,) = document_texts([hit], fields)
    assert text == "from-fieldsnull[a, b]4.53true{k=v}null1.0E10null"


def test_document_texts_read_only_top_level_source_keys_in_2_19() -> None:
    assert document_texts([{"_id": "1", "_source": {"a": {"b": "deep"}}}], ["a.b"]) == [""]


def test_query_text_path_reads_the_serialized_request() -> None:
    body = {"query": {"bool": {"should": {"match": {"title": "wing flow"}}}}}
    assert (
        query_text({**body, "ext": ext(query_text_path="query.bool.should.0.match.title.query")})
        == "wing flow"
    )
    neural = {"query": {"neural": {"vec": {"query_text": "heat", "k": 5}}}}
    assert (
        query_text({**neural, "ext": ext(query_text_path="query.neural.vec.query_text")}) == "heat"
    )
    term = {"query": {"term": {"tag": "x"}}}
    assert query_text({**term, "ext": ext(query_text_path="query.term.tag.value")}) == "x"


def test_serialized_query_expands_short_forms() -> None:
    assert serialized_query({"match": {"t": "x", "boost": 2}}) == {
        "match": {"t": {"query": "x"}, "boost": 2}
    }
    assert serialized_query({"hybrid": {"queries": [{"match": {"t": "x"}}]}}) == {
        "hybrid": {"queries": [{"match": {"t": {"query": "x"}}}]}
    }


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({}, "[ext.rerank]"),
        ({"ext": {"rerank": {}}}, "must specify query_context"),
        ({"ext": {"rerank": {"query_context": "x"}}}, "query_context must be a map"),
        (
            {"ext": ext(query_text="a", query_text_path="query")},
            'Cannot specify both "query_text" and "query_text_path"',
        ),
        ({"ext": ext()}, 'Must specify either "query_text" or "query_text_path"'),
        (
            {"query": {"match": {"t": "x"}}, "ext": ext(query_text_path="query.match.t")},
            "query_text_path must point to a string field",
        ),
        (
            {"ext": ext(query_text_path="a" * 1001)},
            "query_text_path exceeded the maximum path length of 1000 characters",
        ),
        (
            {"ext": ext(query_text_path=".".join("a" * 21))},
            "query_text_path exceeded the maximum path length of 20 nested fields",
        ),
    ],
)
def test_query_context_errors(request_body: JSONObject, message: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        apply_rerank(
            response({"title": "x"}),
            ML,
            request_body,
            {"cross": RecordingCrossEncoder()}.__getitem__,
        )
    assert message in str(info.value)


def test_query_context_is_checked_even_without_hits() -> None:
    with pytest.raises(InvalidQueryError, match="must specify query_context"):
        apply_rerank(response(total=0), ML, {"ext": {"rerank": {}}}, None)


def test_unknown_model_fails_unless_ignored() -> None:
    def models(model_id: str) -> CrossEncoder:
        raise ModelNotRegisteredError(model_id)

    request = {"ext": ext(query_text="x")}
    with pytest.raises(ModelNotRegisteredError):
        apply_rerank(response({"title": "x"}), ML, request, models)
    ignoring = RerankConfig.from_body(
        {
            "ml_opensearch": {"model_id": "m"},
            "context": {"document_fields": ["t"]},
            "ignore_failure": True,
        }
    )
    original = response({"title": "x"})
    assert apply_rerank(original, ignoring, request, models) is original


# --- the real loader with a tiny random cross-encoder ----------------------------------------


@pytest.fixture(scope="module")
def tiny_cross(tmp_path_factory: pytest.TempPathFactory) -> CrossEncoder:
    from processors.models.build.builder import build_model
    from processors.models.loader import load_model
    from processors.models.registration import FunctionName, ModelFormat
    from processors.testing.tiny_models import build_tiny_sources

    root = tmp_path_factory.mktemp("tiny-cross")
    sources = build_tiny_sources(root / "sources")
    (built,) = build_model(
        sources.cross,
        FunctionName.TEXT_SIMILARITY,
        model_id="tiny-cross",
        formats=[ModelFormat.ONNX],
        cache_dir=root / "models",
        yaml_dir=None,
    )
    model = load_model(built.zip_path, built.registration, cache_dir=Path(root / "extracted"))
    assert isinstance(model, CrossEncoder)
    return model


def test_tiny_cross_encoder_orders_by_its_logits(tiny_cross: CrossEncoder) -> None:
    titles = [
        "heat flow over a plate",
        "the quick brown fox",
        "paris is the capital",
        "rain",
        "wing",
    ]
    docs = response(*({"title": t} for t in titles))
    cfg = RerankConfig.from_body(
        {"ml_opensearch": {"model_id": "tiny"}, "context": {"document_fields": ["title"]}}
    )
    result = apply_rerank(docs, cfg, {"ext": ext(query_text="heat flow")}, lambda _: tiny_cross)
    logits = tiny_cross.score("heat flow", titles)
    expected = sorted(range(len(titles)), key=lambda i: -float(logits[i]))
    assert ids(result) == [str(i) for i in expected]
    assert [h["_score"] for h in result["hits"]["hits"]] == [
        json_score(logits[i]) for i in expected
    ]
