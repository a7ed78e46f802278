"""Parity of neuralpipe's task runtime with ``transformers`` on tiny random models.

For every architecture of Elastic's third-party list and every task head ``transformers`` has
for it: build the zip with ``build_model`` (ONNX, fused where onnxruntime can), load it with
``load_model`` and compare with the ``transformers`` pipeline on the same model: the same
labels, spans and tokens, probabilities within 1e-4. Question answering has no pipeline in
``transformers`` 5; its reference is the model's logits decoded by ``transformers``' own
``select_starts_ends`` (the extractive decoding its document QA pipeline uses).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processors.models.build.builder import build_model
from processors.models.loader import load_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import DenseRuntime
from processors.models.task_runtime import TaskRuntime
from processors.testing.tiny_task_models import ARCHS, tiny_dpr_source, tiny_task_source

TOL = 1e-4
CASES = [(name, task) for name, arch in ARCHS.items() for task in arch.tasks]
NER_TEXTS = ["Waldo is in Paris with Anna.", "John Smith works for the United Nations in New York."]
TC_TEXTS = ["The weather is good today.", "A quick brown fox jumps over the lazy dog."]
ZS_TEXT = "Elastic is headquartered in Mountain View, California."
ZS_LABELS = ["sports", "politics", "science", "travel"]
QUESTION = "What is the speed?"
CONTEXT = "Sound travels at three hundred meters per second in cold air."


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("task-models")


@pytest.fixture(scope="module")
def built(root: Path) -> Callable[[Path, FunctionName], Any]:
    """Build (once per source) and load the zip of a source dir."""
    cache: dict[tuple[Path, FunctionName], Any] = {}

    def get(source: Path, function: FunctionName) -> Any:
        key = (source, function)
        if key not in cache:
            (result,) = build_model(
                source,
                function,
                model_id=source.name,
                formats=[ModelFormat.ONNX],
                cache_dir=root / "zips",
                yaml_dir=None,
            )
            cache[key] = load_model(
                result.zip_path, result.registration, cache_dir=root / "extracted"
            )
        return cache[key]

    return get


@pytest.fixture
def quiet() -> Iterator[None]:
    """``transformers`` warns about its own heuristics; the reference side only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _reference(source: Path, task: str, **kwargs: Any) -> Any:
    import transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
        auto = {
            "token-classification": transformers.AutoModelForTokenClassification,
            "fill-mask": transformers.AutoModelForMaskedLM,
            "text-classification": transformers.AutoModelForSequenceClassification,
            "zero-shot-classification": transformers.AutoModelForSequenceClassification,
            "question-answering": transformers.AutoModelForQuestionAnswering,
        }[task]
        model = auto.from_pretrained(str(source)).eval()
        if task == "question-answering":
            return model, tokenizer
        return transformers.pipeline(task, model=model, tokenizer=tokenizer, **kwargs)


def _call(pipe: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipe(*args, **kwargs)


@pytest.mark.parametrize(("arch", "task"), CASES, ids=[f"{a}-{t.value.lower()}" for a, t in CASES])
def test_task_matches_transformers(
    arch: str, task: FunctionName, root: Path, built: Callable[[Path, FunctionName], Any]
) -> None:
    source = tiny_task_source(root / "sources", arch, task)
    ours = built(source, task)
    assert isinstance(ours, TaskRuntime)
    check = {
        FunctionName.NER: _check_ner,
        FunctionName.FILL_MASK: _check_fill_mask,
        FunctionName.TEXT_CLASSIFICATION: _check_text_classification,
        FunctionName.ZERO_SHOT_CLASSIFICATION: _check_zero_shot,
        FunctionName.QUESTION_ANSWERING: _check_qa,
    }[task]
    check(source, ours)


def _check_ner(source: Path, ours: TaskRuntime) -> None:
    pipe = _reference(source, "token-classification", aggregation_strategy="average")
    found_any = False
    for text, result in zip(NER_TEXTS, ours.infer(NER_TEXTS), strict=True):
        expected = _call(pipe, text)
        got = result["entities"]
        assert [(e["entity_group"], e["start"], e["end"]) for e in expected] == [
            (e["class_name"], e["start_pos"], e["end_pos"]) for e in got
        ]
        np.testing.assert_allclose(
            [e["class_probability"] for e in got], [float(e["score"]) for e in expected], atol=TOL
        )
        assert all(e["entity"] == text[e["start_pos"] : e["end_pos"]] for e in got)
        found_any = found_any or bool(got)
    assert found_any, "the tiny model tagged no entity: the comparison proved nothing"


def _check_fill_mask(source: Path, ours: TaskRuntime) -> None:
    pipe = _reference(source, "fill-mask", top_k=5)
    text = f"The capital of France is {ours.spec.mask_token} today."
    expected = _call(pipe, text)
    (result,) = ours.infer([text], {"num_top_classes": 5})
    got = result["top_classes"]
    assert [e["token"] for e in expected] == [c["token_id"] for c in got]
    assert [e["token_str"] for e in expected] == [c["class_name"] for c in got]
    np.testing.assert_allclose(
        [c["class_probability"] for c in got], [float(e["score"]) for e in expected], atol=TOL
    )
    assert result["predicted_value"] == expected[0]["token_str"]


def _check_text_classification(source: Path, ours: TaskRuntime) -> None:
    pipe = _reference(source, "text-classification", top_k=None)
    for text, result in zip(TC_TEXTS, ours.infer(TC_TEXTS, {"num_top_classes": -1}), strict=True):
        expected = _call(pipe, text)
        expected = expected[0] if expected and isinstance(expected[0], list) else expected
        assert [e["label"] for e in expected] == [c["class_name"] for c in result["top_classes"]]
        np.testing.assert_allclose(
            [c["class_probability"] for c in result["top_classes"]],
            [float(e["score"]) for e in expected],
            atol=TOL,
        )
        assert result["predicted_value"] == expected[0]["label"]


def _check_zero_shot(source: Path, ours: TaskRuntime) -> None:
    pipe = _reference(source, "zero-shot-classification")
    for multi in (False, True):
        expected = _call(pipe, ZS_TEXT, candidate_labels=ZS_LABELS, multi_label=multi)
        (result,) = ours.infer([ZS_TEXT], {"labels": ZS_LABELS, "multi_label": multi})
        assert expected["labels"] == [c["class_name"] for c in result["top_classes"]]
        np.testing.assert_allclose(
            [c["class_probability"] for c in result["top_classes"]], expected["scores"], atol=TOL
        )


def _check_qa(source: Path, ours: TaskRuntime) -> None:
    import torch
    from transformers.pipelines.document_question_answering import select_starts_ends

    model, tokenizer = _reference(source, "question-answering")
    enc = tokenizer(QUESTION, CONTEXT, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    sequence_ids = enc.sequence_ids(0)
    p_mask = np.array([[s != 1 for s in sequence_ids]], dtype=int)
    p_mask[0, np.asarray(enc["input_ids"][0]) == tokenizer.cls_token_id] = 0
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model(**enc)
    starts, ends, scores, _ = select_starts_ends(
        out.start_logits.numpy(),
        out.end_logits.numpy(),
        p_mask,
        enc["attention_mask"].numpy(),
        top_k=3,
        max_answer_len=8,
    )
    expected = [
        (offsets[s][0], offsets[e][1], float(p))
        for s, e, p in zip(starts, ends, scores, strict=True)
        if p > 0
    ]
    (result,) = ours.infer(
        [CONTEXT], {"question": QUESTION, "num_top_classes": 3, "max_answer_length": 8}
    )
    got = [(c["start_offset"], c["end_offset"], c["score"]) for c in result["top_classes"]]
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    np.testing.assert_allclose([g[2] for g in got], [e[2] for e in expected], atol=TOL)
    assert result["predicted_value"] == CONTEXT[expected[0][0] : expected[0][1]]


@pytest.mark.parametrize("kind", ["ctx", "question"])
def test_dpr_encoder_matches_transformers(
    kind: str, root: Path, built: Callable[[Path, FunctionName], Any]
) -> None:
    import torch
    import transformers

    source = tiny_dpr_source(root / "sources", kind)
    ours = built(source, FunctionName.TEXT_EMBEDDING)
    assert isinstance(ours, DenseRuntime)
    texts = [*TC_TEXTS, QUESTION]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
        cls = transformers.DPRContextEncoder if kind == "ctx" else transformers.DPRQuestionEncoder
        model = cls.from_pretrained(str(source)).eval()
        with torch.no_grad():
            expected = model(**tokenizer(texts, padding=True, return_tensors="pt")).pooler_output
    got = ours.embed(texts)
    assert got.shape == tuple(expected.shape) == (3, 16 if kind == "ctx" else 32)
    np.testing.assert_allclose(got, expected.numpy(), atol=TOL)
