"""``inference`` / ``ml_inference`` ingest processors and task ``_predict`` on tiny task models.

The models are built once per module (BERT heads, ONNX); the expected values come from the
model itself through :meth:`TaskRuntime.infer`, so these tests check the processors' plumbing
and their errors, the parity tests check the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import ConfigError, InvalidProcessorConfigError, ModelError
from processors.models.build.builder import build_model
from processors.models.loader import load_model
from processors.models.mlcommons.errors import MLCommonsError
from processors.models.mlcommons.predict import predict_response
from processors.models.registration import FunctionName, ModelFormat
from processors.models.task_runtime import TaskRuntime
from processors.pipeline.ingest import IngestPipeline
from processors.testing.tiny_task_models import NER_LABELS, tiny_task_source

TEXT = "Waldo is in Paris with Anna."


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TaskRuntime]:
    root = tmp_path_factory.mktemp("task-proc")
    out = {}
    for key, function in [
        ("ner", FunctionName.NER),
        ("tc", FunctionName.TEXT_CLASSIFICATION),
        ("qa", FunctionName.QUESTION_ANSWERING),
        ("zs", FunctionName.ZERO_SHOT_CLASSIFICATION),
        ("fm", FunctionName.FILL_MASK),
    ]:
        source = tiny_task_source(root / "src", "bert", function)
        (result,) = build_model(
            source, function, model_id=key, formats=[ModelFormat.ONNX],
            cache_dir=root / "zips", yaml_dir=None,
        )  # fmt: skip
        model = load_model(result.zip_path, result.registration, cache_dir=root / "x")
        assert isinstance(model, TaskRuntime)
        out[key] = model
    return out


def _pipeline(models: dict[str, TaskRuntime], body: dict[str, Any]) -> IngestPipeline:
    return IngestPipeline(parse_ingest_pipeline("p", body), encoders=models.__getitem__)


def test_elastic_inference_writes_the_result_under_target_field(
    models: dict[str, TaskRuntime],
) -> None:
    pipe = _pipeline(models, {"processors": [
        {"inference": {"model_id": "ner", "target_field": "ml.ner",
                       "field_map": {"body": "text_field"}, "inference_config": {"ner": {}}}},
        {"inference": {"model_id": "tc", "tag": "sentiment",
                       "field_map": {"body": "text_field"},
                       "inference_config": {"text_classification": {"num_top_classes": 2}}}},
    ]})  # fmt: skip
    (result,) = pipe.run([{"_id": "1", "_source": {"body": TEXT}}])
    assert result.ok, result.error
    assert result.source is not None
    expected_ner = models["ner"].infer([TEXT])[0]
    assert result.source["ml"]["ner"] == {**expected_ner, "model_id": "ner"}
    sentiment = result.source["ml"]["inference"]["sentiment"]
    assert sentiment["model_id"] == "tc"
    assert len(sentiment["top_classes"]) == 2
    assert sentiment["predicted_value"] == sentiment["top_classes"][0]["class_name"]


def test_elastic_inference_missing_field_fails_that_document_only(
    models: dict[str, TaskRuntime],
) -> None:
    pipe = _pipeline(models, {"processors": [{"inference": {
        "model_id": "tc", "field_map": {"body": "text_field"}}}]})  # fmt: skip
    results = pipe.run(
        [{"_id": "a", "_source": {"title": "x"}}, {"_id": "b", "_source": {"body": TEXT}}]
    )
    assert results[0].error == (
        "[inference] Input field [body] does not exist in the source document"
    )
    assert results[1].ok and results[1].source is not None
    assert "predicted_value" in results[1].source["ml"]["inference"]


def test_elastic_inference_refuses_a_task_the_model_does_not_run(
    models: dict[str, TaskRuntime],
) -> None:
    body = {"processors": [{"inference": {"model_id": "tc", "inference_config": {"ner": {}}}}]}
    with pytest.raises(InvalidProcessorConfigError, match=r"\[text_classification\] model"):
        _pipeline(models, body)


def test_ml_inference_maps_inputs_and_outputs_with_json_paths(
    models: dict[str, TaskRuntime],
) -> None:
    pipe = _pipeline(models, {"processors": [{"ml_inference": {
        "model_id": "zs", "function_name": "zero_shot_classification",
        "input_map": [{"text_docs": "doc.body"}],
        "output_map": [{"doc.topic": "$.inference_results[0].output[0].dataAsMap.predicted_value",
                        "doc.scores": "$.inference_results[*].output[*].dataAsMap.top_classes[*]"
                                      ".class_probability"}],
        "model_config": {"labels": ["sports", "science"], "multi_label": True},
    }}]})  # fmt: skip
    (result,) = pipe.run([{"_id": "1", "_source": {"doc": {"body": TEXT}}}])
    assert result.ok, result.error
    assert result.source is not None
    expected = models["zs"].infer([TEXT], {"labels": ["sports", "science"], "multi_label": True})
    assert result.source["doc"]["topic"] == expected[0]["predicted_value"]
    assert result.source["doc"]["scores"] == [
        c["class_probability"] for c in expected[0]["top_classes"]
    ]


def test_ml_inference_model_input_template_for_question_answering(
    models: dict[str, TaskRuntime],
) -> None:
    pipe = _pipeline(models, {"processors": [{"ml_inference": {
        "model_id": "qa", "function_name": "question_answering",
        "input_map": [{"question": "q", "context": "text"}],
        "model_input": '{"question": "${input_map.question}", "context": "${input_map.context}",'
                       ' "parameters": {"max_answer_length": ${model_config.longest}}}',
        "model_config": {"longest": 4},
        "output_map": [{"answer": "result", "answer_start": "dataAsMap.start_offset"}],
        "full_response_path": False,
    }}]})  # fmt: skip
    # full_response_path false: paths start at the first output ("result" for QA) or dataAsMap
    (result,) = pipe.run([{"_id": "1", "_source": {"q": "Who?", "text": TEXT}}])
    assert result.error is not None and "cannot find such json path: result" in result.error
    pipe = _pipeline(models, {"processors": [{"ml_inference": {
        "model_id": "qa", "function_name": "question_answering",
        "input_map": [{"question": "q", "context": "text"}],
        "model_input": '{"question": "${input_map.question}", "context": "${input_map.context}",'
                       ' "parameters": {"max_answer_length": ${model_config.longest}}}',
        "model_config": {"longest": 4},
        "output_map": [{"answer": "$.inference_results[0].output[0].result",
                        "answer_start": "$.inference_results[0].output[0].dataAsMap.start_offset"}],
    }}]})  # fmt: skip
    (result,) = pipe.run([{"_id": "1", "_source": {"q": "Who?", "text": TEXT}}])
    assert result.ok, result.error
    expected = models["qa"].infer([TEXT], {"question": "Who?", "max_answer_length": 4})[0]
    assert result.source == {
        "q": "Who?", "text": TEXT,
        "answer": expected["predicted_value"], "answer_start": expected["start_offset"],
    }  # fmt: skip


def test_ml_inference_ignore_missing_and_missing_field(models: dict[str, TaskRuntime]) -> None:
    body: dict[str, Any] = {"model_id": "tc", "function_name": "text_classification",
                            "input_map": [{"text_docs": "body"}],
                            "output_map": [{"label": "$.inference_results[0].output[0]"
                                            ".dataAsMap.predicted_value"}]}  # fmt: skip
    (failed,) = _pipeline(models, {"processors": [{"ml_inference": body}]}).run(
        [{"_id": "1", "_source": {"title": "t"}}]
    )
    assert failed.error == "[ml_inference] cannot find all required input fields: [body]"
    body["ignore_missing"] = True
    (kept,) = _pipeline(models, {"processors": [{"ml_inference": body}]}).run(
        [{"_id": "1", "_source": {"title": "t"}}]
    )
    assert kept.ok and kept.source == {"title": "t"}


def test_ml_inference_config_errors_are_listed_together() -> None:
    body = {"processors": [{"ml_inference": {
        "model_id": "tc", "function_name": "nope", "max_prediction_tasks": 1,
        "input_map": [{"text_docs": "a"}, {"text_docs": "b"}], "output_map": [{}],
    }}]}  # fmt: skip
    with pytest.raises(ConfigError) as info:
        parse_ingest_pipeline("bad", body)
    message = str(info.value)
    assert "function_name [nope] is not supported" in message
    assert "exceeds the max_prediction_tasks of 1" in message
    assert "their length need to match" in message


def test_predict_shapes_per_task(models: dict[str, TaskRuntime]) -> None:
    ner = predict_response("NER", models["ner"], {"text_docs": [TEXT]})
    assert ner["inference_results"][0]["output"][0]["name"] == "response"
    assert "entities" in ner["inference_results"][0]["output"][0]["dataAsMap"]
    qa = predict_response("QUESTION_ANSWERING", models["qa"], {"question": "Who?", "context": TEXT})
    output = qa["inference_results"][0]["output"][0]
    assert output["name"] == "answer" and output["result"] == output["dataAsMap"]["predicted_value"]
    mask = predict_response(
        "FILL_MASK", models["fm"],
        {"text_docs": ["Paris is [MASK]."], "parameters": {"num_top_classes": 3}},
    )  # fmt: skip
    assert len(mask["inference_results"][0]["output"][0]["dataAsMap"]["top_classes"]) == 3
    with pytest.raises(MLCommonsError, match="exactly one mask token"):
        predict_response("FILL_MASK", models["fm"], {"text_docs": ["no mask here"]})
    with pytest.raises(MLCommonsError, match="needs \\[labels\\]"):
        predict_response("ZERO_SHOT_CLASSIFICATION", models["zs"], {"text_docs": [TEXT]})


def test_long_text_truncated_or_refused_or_windowed(models: dict[str, TaskRuntime]) -> None:
    long_text = " ".join(["Waldo is in Paris with Anna."] * 30)
    (cut,) = models["tc"].infer([long_text])
    assert cut["is_truncated"] is True
    with pytest.raises(ModelError, match=r"Input too large. The tokenized input length \[\d+\]"):
        models["tc"].infer([long_text], {"tokenization": {"bert": {"truncate": "none"}}})
    (spans,) = models["ner"].infer([long_text], {"tokenization": {"bert": {"span": 8}}})
    assert "is_truncated" not in spans
    assert all(long_text[e["start_pos"] : e["end_pos"]] == e["entity"] for e in spans["entities"])
    assert max((e["end_pos"] for e in spans["entities"]), default=0) > len(long_text) // 2


def test_label_map_and_head_errors(tmp_path: Path) -> None:
    source = tiny_task_source(tmp_path, "bert", FunctionName.TEXT_CLASSIFICATION)
    with pytest.raises(ModelError, match="do not fit NER, which needs a \\*ForTokenClassification"):
        build_model(source, FunctionName.NER, model_id="x", cache_dir=tmp_path / "z", yaml_dir=None)
    with pytest.raises(ModelError, match="'entailment' class"):
        build_model(
            source, FunctionName.ZERO_SHOT_CLASSIFICATION, model_id="x",
            cache_dir=tmp_path / "z", yaml_dir=None,
        )  # fmt: skip
    config = json.loads((source / "config.json").read_text())
    del config["id2label"], config["label2id"]
    (source / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"needs a label map: config\.json has no id2label"):
        build_model(
            source, FunctionName.TEXT_CLASSIFICATION, model_id="x",
            cache_dir=tmp_path / "z", yaml_dir=None,
        )  # fmt: skip
    assert NER_LABELS[0] == "O"
