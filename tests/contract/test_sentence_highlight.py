"""Semantic highlighting: a tiny random model of the highlighter's architecture, built with
``transformers`` from a config, checked against the architecture's own forward pass in torch
(sentence means, linear layer, 0.5 threshold with the 0.05 backoff), then through a search
pipeline's hits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from processors.errors import ModelError
from processors.models.build.builder import build_model
from processors.models.loader import load_model
from processors.models.mlcommons.task_predict import task_response
from processors.models.registration import FunctionName, ModelFormat
from processors.models.sentence_highlight import segment
from processors.models.task_runtime import TaskRuntime
from processors.search.semantic_highlight import apply_semantic_highlight, take_semantic_highlight
from processors.testing.tiny_highlighter import tiny_highlighter_source

CASES = [
    ("What is the speed of sound?", "Sound travels at about three hundred meters per second. "
     "The weather is good today. Paris is the capital of France!"),
    ("Where is Waldo?", "Waldo is in Paris with Anna. John Smith works for the United Nations."
     " A quick brown fox jumps over the lazy dog near the city."),
    ("capital", "The capital of France is Paris and the weather is good today."),
    ("Who works in New York?", "Dr. Smith works in New York. Mr. Jones does not. Is it so? Yes."),
]  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_highlighter_source(tmp_path_factory.mktemp("hl-src"), relevant_bias=-0.3)


@pytest.fixture(scope="module")
def model(source: Path, tmp_path_factory: pytest.TempPathFactory) -> TaskRuntime:
    root = tmp_path_factory.mktemp("hl")
    (result,) = build_model(
        source, FunctionName.QUESTION_ANSWERING, model_id="hl", formats=[ModelFormat.ONNX],
        cache_dir=root / "zips", yaml_dir=None,
    )  # fmt: skip
    cfg = result.registration.model_config_
    assert cfg is not None and cfg.model_type == "sentence_highlighting"
    loaded = load_model(result.zip_path, result.registration, cache_dir=root / "x")
    assert isinstance(loaded, TaskRuntime) and loaded.spec.sentence_highlighting
    return loaded


def _reference(source: Path, question: str, context: str) -> list[int]:
    """The architecture's forward pass in torch, inputs prepared as ml-commons does."""
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
    net = transformers.BertForTokenClassification.from_pretrained(str(source)).eval()
    sentences = segment(context)
    words = re.split(r"\s+", context)
    word_sentence, position = [], 0
    for word in words:
        inside = [i for i, s in enumerate(sentences)
                  if position >= s.start and position + len(word) <= s.end]  # fmt: skip
        word_sentence.append(inside[-1] if inside else 0)
        position += len(word) + 1
    enc = tokenizer(question, context, return_tensors="pt")
    seq_ids = enc.sequence_ids(0)
    ids = [word_sentence[w] if s == 1 and w is not None and w < len(words) else -100
           for w, s in zip(enc.word_ids(0), seq_ids, strict=True)]  # fmt: skip
    with torch.no_grad():
        hidden = net.bert(**enc).last_hidden_state[0]
        sentence_ids = torch.tensor(ids)
        kept = sentence_ids[sentence_ids != -100]
        first, count = int(kept.min()), int(kept.max() - kept.min()) + 1
        means = torch.stack([
            hidden[sentence_ids == first + j].mean(dim=0) for j in range(count)])  # fmt: skip
        probs = torch.softmax(net.classifier(means), dim=-1)[:, 1]
    hits = [j for j in range(count) if probs[j] >= 0.5]
    if not hits and float(probs.max()) >= 0.05:
        hits = [int(probs.argmax())]
    return [j + first for j in hits]


def test_sentences_split_as_ml_commons_does() -> None:
    found = segment('Dr. Smith is here. He said "go." Then e.g. that! Fine?  Yes')
    assert [s.text for s in found] == [
        "Dr@@@ Smith is here.",
        'He said "go".',
        "Then e@@@g@@@ that!",
        "Fine?",
        "Yes",
    ]
    # ml-commons looks the marked-up sentences up in the original text; where that fails it
    # goes on from where the previous one ended, so positions drift after an abbreviation
    assert (found[-1].start, found[-1].end) == (57, 60)


@pytest.mark.parametrize(("question", "context"), CASES)
def test_highlights_match_the_architecture_forward_pass(
    model: TaskRuntime, source: Path, question: str, context: str
) -> None:
    answer = task_response(model, {"question": question, "context": context})
    (output,) = answer["inference_results"][0]["output"]
    assert output["name"] == "highlights"
    got = output["dataAsMap"]["highlights"]
    assert [h["position"] for h in got] == _reference(source, question, context)
    sentences = segment(context)
    for item in got:
        sentence = sentences[item["position"]]
        assert (item["text"], item["start"], item["end"]) == (
            sentence.text,
            sentence.start,
            sentence.end,
        )


def test_some_sentences_are_highlighted_and_some_are_not(model: TaskRuntime) -> None:
    counts = [len(task_response(model, {"question": q, "context": c})["inference_results"][0]
                  ["output"][0]["dataAsMap"]["highlights"]) for q, c in CASES]  # fmt: skip
    assert any(counts) and any(n < len(segment(c)) for n, (_, c) in zip(counts, CASES, strict=True))


def test_long_context_runs_in_windows(model: TaskRuntime) -> None:
    context = " ".join(f"Sentence number {i} is about sound in the air." for i in range(12))
    got = task_response(model, {"question": "sound", "context": context})
    positions = [h["position"] for h in got["inference_results"][0]["output"][0]["dataAsMap"]
                 ["highlights"]]  # fmt: skip
    assert positions == sorted(set(positions))
    assert all(0 <= p < 12 for p in positions)


def test_search_hits_get_the_relevant_sentences_tagged(model: TaskRuntime) -> None:
    context = CASES[0][1]
    request: dict[str, Any] = {
        "query": {"bool": {"should": [{"match": {"body": "Speed of SOUND"}}],
                           "must_not": [{"term": {"body": "x"}}]}},
        "highlight": {"fields": {"body": {"type": "semantic"}, "title": {}},
                      "pre_tags": ["<b>"], "post_tags": ["</b>"],
                      "options": {"model_id": "hl"}}}  # fmt: skip
    plan = take_semantic_highlight(request)
    assert plan is not None and plan.question("body") == "speed of sound"
    assert request["highlight"] == {"fields": {"title": {}}, "pre_tags": ["<b>"],
                                    "post_tags": ["</b>"]}  # fmt: skip
    response = {"hits": {"hits": [{"_id": "1", "_source": {"body": context}}]}}

    def predict(model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        assert model_id == "hl" and body["question"] == "speed of sound"
        return task_response(model, body)

    apply_semantic_highlight(response, plan, predict)
    (text,) = response["hits"]["hits"][0]["highlight"]["body"]
    expected = task_response(model, {"question": "speed of sound", "context": context})
    marked = [h["text"] for h in expected["inference_results"][0]["output"][0]["dataAsMap"]
              ["highlights"]]  # fmt: skip
    assert re.findall(r"<b>(.*?)</b>", text) == marked
    assert re.sub(r"</?b>", "", text) == context


def test_a_hit_without_the_field_fails_with_the_plugins_message(model: TaskRuntime) -> None:
    request = {"query": {"term": {"body": "x"}}, "highlight": {
        "fields": {"body": {"type": "semantic", "options": {"model_id": "hl"}}}}}  # fmt: skip
    plan = take_semantic_highlight(request)
    assert plan is not None and "highlight" not in request
    with pytest.raises(Exception, match="Field body is not found in the document"):
        apply_semantic_highlight({"hits": {"hits": [{"_source": {"t": 1}}]}}, plan,
                                 lambda m, b: task_response(model, b))  # fmt: skip


def test_highlighter_refuses_a_non_string_context(model: TaskRuntime) -> None:
    with pytest.raises(ModelError, match="string question and context"):
        task_response(model, {"question": "q", "context": 3})
