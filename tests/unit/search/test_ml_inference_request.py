"""The ``ml_inference`` search request processor: options, paths, templates, failures."""

from __future__ import annotations

from typing import Any

import pytest

from processors.config.search_body import parse_search_pipeline
from processors.errors import (
    ConfigError,
    InvalidProcessorConfigError,
    ModelError,
    ProcessorRuntimeError,
)
from processors.search.ml_inference_request import (
    NO_INPUT,
    NO_MODEL_INPUT,
    NO_OUTPUT,
    MLInferenceRequestConfig,
    MLInferenceRequestProcessor,
    java_string,
)

VECTOR = [0.5, -0.25, 1.0]
EMBED_INPUT = '{"text_docs": ["${input_map.text}"]}'


def _response(request: dict[str, Any]) -> dict[str, Any]:
    """A TEXT_EMBEDDING-shaped answer that remembers what it was asked."""
    return {"inference_results": [{"output": [{
        "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [3], "data": VECTOR,
        "asked": request}]}]}  # fmt: skip


def _config(**extra: Any) -> MLInferenceRequestConfig:
    body = {"model_id": "m", "function_name": "text_embedding", "model_input": EMBED_INPUT,
            "input_map": [{"text": "query.term.title.value"}],
            "output_map": [{"query.term.title.value": "$.inference_results[0].output[0].asked"
                            ".text_docs[0]"}], **extra}  # fmt: skip
    return MLInferenceRequestConfig.from_body(body)


def _run(config: MLInferenceRequestConfig, request: dict[str, Any]) -> dict[str, Any]:
    calls: list[dict[str, Any]] = []

    def predict(body: dict[str, Any]) -> dict[str, Any]:
        calls.append(body)
        return _response(body)

    out = MLInferenceRequestProcessor(config, predict).apply(request)
    out["_calls"] = calls
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_id": None}, "[model_id] required property is missing"),
        ({"input_map": []}, NO_INPUT),
        ({"output_map": None}, NO_OUTPUT),
        ({"model_input": None}, NO_MODEL_INPUT),
        ({"max_prediction_tasks": 0}, "It exceeds the max_prediction_tasks of 0"),
        ({"output_map": [{"a": "b"}, {"c": "d"}]}, "their length needs to match"),
        ({"surprise": 1}, "doesn't support one or more provided configuration parameters"),
        ({"ignore_missing": "maybe"}, "as only [true] or [false] are allowed"),
    ],
)
def test_options_are_refused_in_the_plugins_words(change: dict[str, Any], message: str) -> None:
    body = {"model_id": "m", "function_name": "text_embedding", "model_input": EMBED_INPUT,
            "input_map": [{"text": "query.term.t.value"}],
            "output_map": [{"query.term.t.value": "$.x"}]}  # fmt: skip
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(InvalidProcessorConfigError, match=message.replace("[", r"\[")):
        MLInferenceRequestConfig.from_body(body)


def test_remote_function_needs_no_model_input_and_reads_outputs_from_data_as_map() -> None:
    config = MLInferenceRequestConfig.from_body(
        {"model_id": "m", "input_map": [{"a": "query.x"}], "output_map": [{"query.x": "y"}]}
    )
    assert config.function_name == "remote"
    assert not config.full_response_path
    assert config.model_input.startswith('{ "parameters"')


def test_output_replaces_the_input_field_of_a_short_form_term_query() -> None:
    out = _run(_config(), {"query": {"term": {"title": "wings"}}, "size": 3})
    assert out["_calls"] == [{"text_docs": ["wings"]}]
    assert out["query"] == {"term": {"title": {"value": "wings"}}}
    assert out["size"] == 3


def test_vector_written_into_an_existing_knn_clause() -> None:
    config = _config(output_map=[{"query.knn.emb.vector": "$.inference_results[0].output[0].data"}],
                     input_map=[{"text": "ext.ml_inference.params.text"}])  # fmt: skip
    request = {"query": {"knn": {"emb": {"vector": [0], "k": 2}}},
               "ext": {"ml_inference": {"params": {"text": "lift"}}}}  # fmt: skip
    out = _run(config, request)
    assert out["query"]["knn"]["emb"] == {"vector": VECTOR, "k": 2}
    assert request["query"]["knn"]["emb"]["vector"] == [0]  # the input is untouched


def test_output_to_a_path_the_request_lacks_is_not_written_except_under_ext() -> None:
    config = _config(output_map=[{"ext.ml_inference.vec": "$.inference_results[0].output[0].data",
                                  "size": "$.inference_results[0].output[0].shape[0]"}])  # fmt: skip
    out = _run(config, {"query": {"term": {"title": "wings"}}})
    assert out["ext"] == {"ml_inference": {"vec": VECTOR}}
    assert "size" not in out


def test_query_template_takes_the_outputs_as_java_writes_them() -> None:
    template = '{"query": {"knn": {"emb": {"vector": ${v}, "k": ${k}}}}}'
    config = _config(query_template=template, output_map=[{
        "v": "$.inference_results[0].output[0].data",
        "k": "$.inference_results[0].output[0].shape[0]"}])  # fmt: skip
    out = _run(config, {"query": {"term": {"title": "wings"}}})
    assert out["query"] == {"knn": {"emb": {"vector": VECTOR, "k": 3.0}}}
    assert java_string([1, 1e-5, "a", True]) == "[1.0, 1.0E-5, a, true]"


def test_missing_input_field_fails_with_the_query_string() -> None:
    with pytest.raises(ProcessorRuntimeError, match=r"cannot find field: query.term.title.value "
                       r"in query string: \{\"query\":\{\"match_all\":\{\}\}\}"):  # fmt: skip
        _run(_config(), {"query": {"match_all": {}}})


def test_ignore_missing_and_ignore_failure_leave_the_request_as_it_was() -> None:
    request = {"query": {"match_all": {}}}
    assert _run(_config(ignore_missing=True), request)["_calls"] == []
    assert _run(_config(ignore_failure=True), request)["query"] == {"match_all": {}}


def test_model_output_path_matching_nothing() -> None:
    config = _config(output_map=[{"query.term.title.value": "$.nothing.here"}])
    with pytest.raises(ModelError, match=r"cannot find such json path: \$\.nothing\.here"):
        _run(config, {"query": {"term": {"title": "wings"}}})
    whole = _run(_config(output_map=[{"query.term.title.value": "$.nothing"}],
                         ignore_missing=True), {"query": {"term": {"title": "wings"}}})  # fmt: skip
    assert whole["query"]["term"]["title"]["value"]["inference_results"][0]["output"][0]["data"]


def test_invalid_payload_after_filling() -> None:
    config = _config(model_input='{"text_docs": [${input_map.text}]}')
    with pytest.raises(ProcessorRuntimeError, match="Invalid payload"):
        _run(config, {"query": {"term": {"title": "wings"}}})


def test_model_config_and_optional_input_map() -> None:
    config = _config(model_input='{"text_docs": ["${input_map.text}"], "p": "${model_config.p}",'
                     ' "o": "${input_map.opt}"}', model_config={"p": 7},
                     optional_input_map=[{"opt": "query.term.missing.value"}])  # fmt: skip
    out = _run(config, {"query": {"term": {"title": "wings"}}})
    assert out["_calls"] == [{"text_docs": ["wings"], "p": "7", "o": "${input_map.opt}"}]


def test_pipeline_body_accepts_the_request_processor() -> None:
    spec = parse_search_pipeline("p", {"request_processors": [{"ml_inference": {
        "model_id": "m", "function_name": "TEXT_EMBEDDING", "model_input": EMBED_INPUT,
        "input_map": [{"text": "query.term.t.value"}],
        "output_map": [{"query.term.t.value": "$.x"}]}}]})  # fmt: skip
    assert [(s.type_name, s.runs_on_node) for s in spec.request] == [("ml_inference", False)]
    with pytest.raises(ConfigError, match="model input"):
        parse_search_pipeline("p", {"request_processors": [{"ml_inference": {
            "model_id": "m", "function_name": "TEXT_EMBEDDING",
            "input_map": [{"text": "q"}], "output_map": [{"q": "x"}]}}]})  # fmt: skip
