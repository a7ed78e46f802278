"""The OpenSearch error type of each neuralpipe error, as the proxy answers it."""

from __future__ import annotations

from typing import Any

import pytest

from processors.config.ingest_body import parse_ingest_pipeline
from processors.config.search_body import parse_search_pipeline
from processors.errors import ConfigError, configuration_error_type
from processors.models.mlcommons.errors import MLCommonsError
from processors.models.mlcommons.register import _check_config
from processors.models.registration import ModelRegistration
from processors.proxy.errors import classify


@pytest.mark.parametrize(
    ("message", "error_type"),
    [
        ("[model_id] required property is missing", "parse_exception"),
        ("[field_map] property isn't a map, but of type [java.lang.String]", "parse_exception"),
        ("[batch_size] property cannot be converted to an int [x]", "parse_exception"),
        ("[batch_size] batch size must be a positive integer", "parse_exception"),
        (
            "processor [text_embedding] doesn't support one or more provided configuration "
            "parameters [foo]",
            "parse_exception",
        ),
        ("Unable to create the processor as field_map has invalid key or value", "illegal_argument_exception"),
        ("Parameter [token_limit] must be positive.", "illegal_argument_exception"),
    ],
)  # fmt: skip
def test_configuration_utils_checks_are_parse_exceptions(message: str, error_type: str) -> None:
    assert configuration_error_type(message) == error_type


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"text_embedding": {"field_map": {"a": "b"}}}, "parse_exception"),
        ({"text_embedding": {"model_id": "m", "field_map": {"a": "b"}, "foo": 1}}, "parse_exception"),
        ({"text_chunking": {"algorithm": {"delimiter": {}}}}, "parse_exception"),
        ({"text_embedding": {"model_id": "m", "field_map": {}}}, "illegal_argument_exception"),
        ({"sparse_encoding": {"model_id": "m", "field_map": {"a": "b"}, "prune_type": "x"}},
         "illegal_argument_exception"),
    ],
)  # fmt: skip
def test_an_ingest_pipeline_error_has_the_type_of_its_first_problem(
    body: dict[str, Any], error_type: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ingest_pipeline("p", {"processors": [body]})
    status, kind, _ = classify(caught.value)
    assert (status, kind) == (400, error_type)


def test_a_search_pipeline_error_has_the_type_of_its_first_problem() -> None:
    body = {"response_processors": [{"rerank": {"by_field": {"remove_target_field": True}}}]}
    with pytest.raises(ConfigError) as caught:
        parse_search_pipeline("p", body)
    assert classify(caught.value)[:2] == (400, "parse_exception")


@pytest.mark.parametrize(
    ("function", "config", "message"),
    [
        ("TEXT_EMBEDDING", {"model_type": "bert", "framework_type": "sentence_transformers"},
         "embedding dimension is null"),
        ("TEXT_EMBEDDING", {"model_type": "bert", "embedding_dimension": 8},
         "framework type is null"),
    ],
)  # fmt: skip
def test_ml_commons_refuses_a_model_config_it_cannot_read(
    function: str, config: dict[str, Any], message: str
) -> None:
    reg = ModelRegistration.model_validate(
        {"name": "m", "function_name": function, "model_config": config}
    )
    with pytest.raises(MLCommonsError) as caught:
        _check_config(reg)
    assert classify(caught.value) == (400, "illegal_argument_exception", message)
    _check_config(ModelRegistration.model_validate({"name": "m", "function_name": function}))


def test_ml_commons_status_exceptions_keep_their_type() -> None:
    assert classify(MLCommonsError("Failed to find model", 404)) == (
        404,
        "status_exception",
        "Failed to find model",
    )


@pytest.mark.parametrize("function", ["SPARSE_ENCODING", "SPARSE_TOKENIZE"])
def test_a_sparse_model_config_is_accepted_as_ml_commons_3_does(function: str) -> None:
    reg = ModelRegistration.model_validate(
        {"name": "m", "function_name": function, "model_config": {"model_type": "bert"}}
    )
    _check_config(reg)  # 2.19 refused it ("embedding dimension is null"); 3.x registers it
