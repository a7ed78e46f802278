"""``neural_query_enricher``: default model ids per field or overall, the plugin's messages."""

from __future__ import annotations

from typing import Any

import pytest

from processors.errors import InvalidProcessorConfigError, InvalidQueryError
from processors.search.neural_query_enricher import NeuralQueryEnricherConfig
from processors.search.rewrite import rewrite_request
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

CONFIG = NeuralQueryEnricherConfig.from_body(
    {
        "default_model_id": "dense-default",
        "neural_field_default_id": {"s": "sparse-s", "v2": "dense-v2"},
    }
)


def _run(body: dict[str, Any], config: NeuralQueryEnricherConfig = CONFIG) -> list[str]:
    seen: list[str] = []

    def models(model_id: str) -> Any:
        seen.append(model_id)
        return CountSparseEncoder() if model_id.startswith("sparse") else HashEmbedder(4)

    rewrite_request(body, models, enrichers=[config])
    return sorted(seen)


def test_missing_ids_come_from_the_field_map_then_the_default() -> None:
    body = {
        "query": {
            "hybrid": {
                "queries": [
                    {"neural": {"v": {"query_text": "a"}}},
                    {"neural": {"v2": {"query_text": "a"}}},
                    {"neural_sparse": {"s": {"query_text": "a"}}},
                    {"neural": {"v": {"query_text": "a", "model_id": "dense-own"}}},
                ]
            }
        }
    }
    assert _run(body) == ["dense-default", "dense-own", "dense-v2", "sparse-s"]


def test_without_a_matching_default_the_plugins_error() -> None:
    config = NeuralQueryEnricherConfig.from_body({"neural_field_default_id": {"other": "m"}})
    with pytest.raises(InvalidQueryError) as caught:
        _run({"query": {"neural": {"v": {"query_text": "a"}}}}, config)
    assert str(caught.value) == (
        "model id must be provided in neural query or a default model id must be set in search "
        "request processor"
    )


def test_only_the_query_is_visited() -> None:
    body = {"query": {"match_all": {}}, "post_filter": {"neural": {"v": {"query_text": "a"}}}}
    with pytest.raises(
        InvalidQueryError, match=r"Invalid neural query: model_id must be provided\."
    ):
        _run(body)


def test_an_analyzer_clause_gets_the_default_too_and_then_fails() -> None:
    body = {"query": {"neural_sparse": {"x": {"query_text": "a", "analyzer": "bert-uncased"}}}}
    with pytest.raises(InvalidQueryError, match=r"Cannot use both \[model_id: dense-default\]"):
        _run(body)


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({}, ["model Id or neural info map either of them should be provided"]),
        (
            {"default_model_id": 5, "neural_field_default_id": []},
            [
                "[default_model_id] property isn't a string, but of type [java.lang.Integer]",
                "[neural_field_default_id] property isn't a map, but of type [java.util.ArrayList]",
            ],
        ),
        (
            {"default_model_id": "m", "model": "x", "ignore_failure": "no"},
            [
                "processor [neural_query_enricher] doesn't support one or more provided "
                "configuration parameters: [model]",
                "[ignore_failure] property isn't a boolean, but of type [java.lang.String]",
            ],
        ),
    ],
)
def test_config_errors(body: dict[str, Any], messages: list[str]) -> None:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        NeuralQueryEnricherConfig.from_body(body)
    assert [m for _, m in caught.value.problems] == messages
