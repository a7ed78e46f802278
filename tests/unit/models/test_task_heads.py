"""The task heads' post-processing on hand-made logits (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from processors.errors import ModelError
from processors.models import task_heads as heads
from processors.models.task_runtime import Tokenization

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _token(
    start: int, end: int, label: int, sub: bool = False, p: float = 0.9
) -> heads.TokenScores:
    probs = np.full(len(LABELS), (1 - p) / (len(LABELS) - 1), dtype=np.float32)
    probs[label] = p
    return heads.TokenScores(start, end, probs, sub)


def test_ner_groups_b_and_i_tags_into_entities_with_character_offsets() -> None:
    text = "Jean Paul is in New York"
    tokens = [_token(0, 4, 1), _token(5, 9, 2), _token(10, 12, 0), _token(13, 15, 0),
              _token(16, 19, 3), _token(20, 24, 4)]  # fmt: skip
    entities = heads.ner_entities(text, tokens, LABELS)
    assert [(e["entity"], e["class_name"], e["start_pos"], e["end_pos"]) for e in entities] == [
        ("Jean Paul", "PER", 0, 9),
        ("New York", "LOC", 16, 24),
    ]
    assert entities[0]["class_probability"] == pytest.approx(0.9)
    assert heads.annotate(text, entities) == (
        "[Jean Paul](PER&Jean+Paul) is in [New York](LOC&New+York)"
    )


def test_ner_averages_subword_tokens_and_b_tag_splits_entities() -> None:
    text = "Annabel Bob"
    # "Anna" + "##bel": averaged probabilities decide the word's class
    tokens = [_token(0, 4, 1, p=0.6), _token(4, 7, 0, sub=True, p=0.5), _token(8, 11, 1)]
    entities = heads.ner_entities(text, tokens, LABELS)
    assert [(e["entity"], e["class_name"]) for e in entities] == [
        ("Annabel", "PER"),
        ("Bob", "PER"),
    ]


def test_underscore_tags_and_prefixless_labels() -> None:
    assert heads.split_tag("B_MISC") == ("B", "MISC")
    assert heads.split_tag("PER") == ("I", "PER")


def test_zero_shot_single_and_multi_label() -> None:
    logits = np.array(
        [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]], dtype=np.float32
    )  # contra, neutral, entail
    single = heads.zero_shot_probs(logits, entailment=2, contradiction=0, multi_label=False)
    assert single.sum() == pytest.approx(1.0)
    multi = heads.zero_shot_probs(logits, entailment=2, contradiction=0, multi_label=True)
    assert multi[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert multi[1] == pytest.approx(1 / (1 + np.exp(1.0)))


def test_classification_top_classes() -> None:
    probs = np.array([0.1, 0.7, 0.2], dtype=np.float32)
    result = heads.classification_result(probs, ["a", "b", "c"], 2, "label")
    assert result["label"] == "b"
    assert [c["class_name"] for c in result["top_classes"]] == ["b", "c"]
    assert "top_classes" not in heads.classification_result(probs, ["a", "b", "c"], 0, "x")


def test_answer_spans_respect_context_and_length() -> None:
    start = np.array([9.0, 5.0, 0.0, 3.0, 0.0], dtype=np.float32)
    end = np.array([9.0, 5.0, 0.0, 0.0, 3.0], dtype=np.float32)
    context = np.array([False, False, True, True, True])  # [CLS], question token, context x3
    spans = heads.answer_spans(start, end, context, top_k=1, max_answer_length=2)
    assert [(s.start, s.end) for s in spans] == [(3, 4)]
    assert heads.answer_spans(start, end, context, top_k=1, max_answer_length=1)[0].end == 3


def test_overlapping_window_entities_keep_the_longer() -> None:
    a = {"start_pos": 0, "end_pos": 4, "class_probability": 0.9}
    b = {"start_pos": 2, "end_pos": 9, "class_probability": 0.5}
    assert heads.merge_overlapping([a, b]) == [b]


def test_tokenization_options() -> None:
    assert Tokenization.parse({"xlm_roberta": {"truncate": "none"}}).truncate == "none"
    with pytest.raises(ModelError, match="unknown kind"):
        Tokenization.parse({"gpt": {}})
    with pytest.raises(ModelError, match=r"\[span\]"):
        Tokenization.parse({"bert": {"span": -5}})
