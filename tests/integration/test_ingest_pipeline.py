"""Ingest pipelines mixing our processors with core ones that the real node runs."""

from __future__ import annotations

from typing import Any

import pytest

from processors.config.ingest_body import parse_ingest_pipeline
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

pytestmark = pytest.mark.integration


def encoders(model_id: str) -> Any:
    return HashEmbedder(8) if model_id == "dense" else CountSparseEncoder()


BODY = {
    "processors": [
        {"set": {"field": "title", "value": "{{{text}}} (copy)"}},
        {"text_embedding": {"model_id": "dense", "field_map": {"title": "title_vec"}}},
        {"rename": {"field": "title_vec", "target_field": "vec"}},
        {"drop": {"if": "ctx.text == 'drop me'"}},
        {"sparse_encoding": {"model_id": "sparse", "field_map": {"text": "tokens"}}},
        {"lowercase": {"field": "upper"}},
    ]
}


def test_core_steps_run_on_the_node_in_order_with_ours(client: Any) -> None:
    pipeline = IngestPipeline(
        parse_ingest_pipeline("mixed", BODY), encoders=encoders, client=client
    )
    docs = [
        {"_id": "1", "_source": {"text": "go go", "upper": "ABC"}},
        {"_id": "2", "_source": {"text": "drop me", "upper": "X"}},
        {"_id": "3", "_source": {"text": "fine", "upper": 5}},
    ]
    first, second, third = pipeline.run(docs)
    assert first.ok and first.source is not None
    assert first.source["title"] == "go go (copy)"
    assert len(first.source["vec"]) == 8 and "title_vec" not in first.source
    assert first.source["tokens"]["go"] == pytest.approx(1.6931471805599454)
    assert first.source["upper"] == "abc"
    assert second.dropped and not second.ok
    assert third.error is not None and "illegal_argument_exception" in third.error
    assert docs[0]["_source"] == {"text": "go go", "upper": "ABC"}  # inputs untouched


def test_our_failure_stops_that_document_only(client: Any) -> None:
    body = {"processors": [
        {"text_embedding": {"model_id": "dense", "field_map": {"text": "v"}}},
        {"set": {"field": "after", "value": True}},
    ]}  # fmt: skip
    pipeline = IngestPipeline(parse_ingest_pipeline("p", body), encoders=encoders, client=client)
    bad, good = pipeline.run(
        [{"_id": "a", "_source": {"text": 7}}, {"_id": "b", "_source": {"text": "ok"}}]
    )
    assert bad.error is not None and "neither string nor nested type" in bad.error
    assert good.ok and good.source is not None and good.source["after"] is True


def test_core_steps_see_the_documents_index_and_id(client: Any) -> None:
    body = {"processors": [{"set": {"field": "where", "value": "{{{_index}}}/{{{_id}}}"}}]}
    pipeline = IngestPipeline(parse_ingest_pipeline("p", body), encoders=encoders, client=client)
    (result,) = pipeline.run([{"_id": "d1", "_index": "books", "_source": {}}])
    assert result.source == {"where": "books/d1"}


def test_pipeline_level_on_failure_of_a_core_only_pipeline_runs_on_the_node(client: Any) -> None:
    body = {
        "processors": [{"lowercase": {"field": "missing"}}, {"set": {"field": "x", "value": 1}}],
        "on_failure": [{"set": {"field": "why", "value": "{{{_ingest.on_failure_message}}}"}}],
    }
    pipeline = IngestPipeline(parse_ingest_pipeline("p", body), encoders=encoders, client=client)
    (result,) = pipeline.run([{"_id": "1", "_source": {"a": 1}}])
    assert result.ok and result.source is not None
    assert "missing" in result.source["why"] and "x" not in result.source  # stopped, handled


def test_pipeline_level_on_failure_around_our_processors_is_refused() -> None:
    from processors.errors import ConfigError

    body = {
        "processors": [{"text_embedding": {"model_id": "dense", "field_map": {"t": "v"}}}],
        "on_failure": [{"set": {"field": "why", "value": "x"}}],
    }
    with pytest.raises(ConfigError, match=r"p\.on_failure: a pipeline-level on_failure"):
        parse_ingest_pipeline("p", body)
