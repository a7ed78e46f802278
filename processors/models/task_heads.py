"""The NLP task heads' post-processing in numpy: logits in, Elastic-shaped results out.

Pure functions, no model and no tokenizer: :mod:`processors.models.task_runtime` feeds them.
The arithmetic follows what the ``transformers`` pipelines compute (softmax in float32, the
same grouping of IOB tags, the same span scores), so results agree with them to 1e-4, and the
result fields are the ones Elastic's ``_infer`` writes (``predicted_value``,
``prediction_probability``, ``top_classes``, ``entities``...).

Example:
    >>> probs = softmax(np.array([[1.0, 3.0]], dtype=np.float32))
    >>> [round(float(p), 4) for p in probs[0]]
    [0.1192, 0.8808]
    >>> split_tag("B-PER"), split_tag("I_LOC"), split_tag("O")
    (('B', 'PER'), ('I', 'LOC'), ('I', 'O'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
JSONObject = dict[str, Any]
OUTSIDE = "O"


def softmax(logits: npt.NDArray[Any], axis: int = -1) -> FloatArray:
    """Numerically stable softmax along ``axis`` (in the logits' own float type)."""
    shifted = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=axis, keepdims=True))


def sigmoid(logits: npt.NDArray[Any]) -> FloatArray:
    """Elementwise logistic function."""
    return np.asarray(1.0 / (1.0 + np.exp(-logits)))


def split_tag(label: str) -> tuple[str, str]:
    """``(B|I, class)`` of an IOB label; ``-`` or ``_`` separates them (``B-PER``, ``B_PER``).

    A label without a prefix continues an entity of the same class (``I``), as the
    ``transformers`` pipeline reads it.
    """
    if len(label) > 2 and label[:2] in ("B-", "B_", "I-", "I_"):
        return label[0], label[2:]
    return "I", label


def top_indices(probs: FloatArray, k: int) -> npt.NDArray[np.intp]:
    """Indices of the ``k`` largest values, largest first, ties by index: what a stable
    argsort of ``-probs`` starts with, without sorting a whole vocabulary.

    >>> top_indices(np.array([0.1, 0.4, 0.1, 0.4], dtype=np.float32), 3).tolist()
    [1, 3, 0]
    """
    if k >= probs.shape[0]:
        return np.argsort(-probs, kind="stable")
    kth = np.partition(probs, probs.shape[0] - k)[probs.shape[0] - k]
    candidates = np.flatnonzero(probs >= kth)
    return candidates[np.lexsort((candidates, -probs[candidates]))][:k]


def _top(probs: FloatArray, k: int) -> list[int]:
    return [int(i) for i in top_indices(probs, max(k, 1))]


def class_entry(name: str, probability: float, score: float | None = None) -> JSONObject:
    """One ``top_classes`` entry as Elastic writes it."""
    value = float(probability)
    return {
        "class_name": name,
        "class_probability": value,
        "class_score": value if score is None else float(score),
    }


def classification_result(
    probs: FloatArray, labels: Sequence[str], num_top_classes: int, results_field: str
) -> JSONObject:
    """``text_classification`` / ``zero_shot_classification``: best label + top classes.

    ``num_top_classes`` 0 writes no ``top_classes``; -1 writes every class.

    >>> classification_result(np.array([0.2, 0.8], dtype=np.float32), ["neg", "pos"], 1,
    ...                       "predicted_value")["predicted_value"]
    'pos'
    """
    every = len(labels) if num_top_classes < 0 else num_top_classes
    order = _top(probs, len(labels))
    best = order[0]
    out: JSONObject = {
        results_field: labels[best],
        "prediction_probability": float(probs[best]),
    }
    if every:
        out["top_classes"] = [class_entry(labels[i], float(probs[i])) for i in order[:every]]
    return out


def text_classification_probs(logits: FloatArray, problem_type: str | None) -> FloatArray:
    """Softmax over the classes; sigmoid for one-logit and multi-label heads (as the
    ``transformers`` text-classification pipeline applies them)."""
    if logits.shape[-1] == 1 or problem_type == "multi_label_classification":
        return sigmoid(logits)
    return softmax(logits)


def zero_shot_probs(
    logits: FloatArray, entailment: int, contradiction: int, multi_label: bool
) -> FloatArray:
    """Per candidate label: ``(labels, classes)`` NLI logits -> one probability per label.

    Single-label: softmax of the entailment logits across labels (they sum to 1). Multi-label
    (or one label): each label alone, softmax over its contradiction and entailment logits.
    """
    if multi_label or logits.shape[0] == 1:
        pair = logits[:, [contradiction, entailment]]
        return np.asarray(softmax(pair, axis=-1)[:, 1])
    return softmax(logits[:, entailment], axis=-1)


@dataclass(frozen=True)
class TokenScores:
    """One non-special token of an NER input: character span, class probabilities, and
    whether it continues the word of the token before it."""

    start: int
    end: int
    probs: FloatArray
    is_subword: bool


def _words(tokens: Sequence[TokenScores]) -> list[list[TokenScores]]:
    words: list[list[TokenScores]] = []
    for token in tokens:
        if token.is_subword and words:
            words[-1].append(token)
        else:
            words.append([token])
    return words


def _word_classes(words: list[list[TokenScores]]) -> tuple[list[list[TokenScores]], Any, Any]:
    """Each word's best class and its probability, the mean of its tokens' probabilities
    (``nanmean``, as the pipeline's ``average``): one ``reduceat`` over all tokens."""
    if not words:
        return words, [], []
    probs = np.stack([t.probs for word in words for t in word])
    starts = np.cumsum([0] + [len(word) for word in words[:-1]])
    if np.isnan(probs).any():
        means = np.stack(
            [np.nanmean(probs[a : a + len(w)], axis=0) for a, w in zip(starts, words, strict=True)]
        )
    else:
        sizes = np.array([len(word) for word in words], dtype=probs.dtype)[:, None]
        means = np.add.reduceat(probs, starts, axis=0) / sizes
    best = np.argmax(means, axis=1)
    return words, best.tolist(), means[np.arange(len(words)), best].tolist()


def ner_entities(
    text: str, tokens: Sequence[TokenScores], id2label: Sequence[str]
) -> list[JSONObject]:
    """Words (their tokens' probabilities averaged, best class kept) grouped into entities.

    A word tagged ``B-X`` starts an entity, ``I-X`` continues an entity of class ``X`` (or
    starts one), ``O`` is outside. The entity's probability is the mean over its words; its
    offsets are characters of ``text``.
    """
    tagged = [
        (id2label[best], score, word[0].start, word[-1].end)
        for word, best, score in zip(*_word_classes(_words(tokens)), strict=True)
    ]
    groups: list[list[tuple[str, float, int, int]]] = []
    for item in tagged:
        prefix, name = split_tag(item[0])
        if groups and prefix != "B" and split_tag(groups[-1][-1][0])[1] == name:
            groups[-1].append(item)
        else:
            groups.append([item])
    entities: list[JSONObject] = []
    for group in groups:
        name = split_tag(group[0][0])[1]
        if name == OUTSIDE:
            continue
        start, end = group[0][2], group[-1][3]
        entities.append(
            {
                "entity": text[start:end],
                "class_name": name,
                "class_probability": float(sum(g[1] for g in group) / len(group)),
                "start_pos": start,
                "end_pos": end,
            }
        )
    return entities


def annotate(text: str, entities: Sequence[JSONObject]) -> str:
    """Elastic's annotated text: each entity becomes ``[text](CLASS&text+with+pluses)``.

    >>> annotate("Waldo is in Paris", [{"entity": "Paris", "class_name": "LOC",
    ...                                  "start_pos": 12, "end_pos": 17}])
    'Waldo is in [Paris](LOC&Paris)'
    """
    out: list[str] = []
    at = 0
    for entity in sorted(entities, key=lambda e: int(e["start_pos"])):
        start, end = int(entity["start_pos"]), int(entity["end_pos"])
        if start < at:
            continue
        words = text[start:end]
        out.append(text[at:start])
        out.append(f"[{words}]({entity['class_name']}&{words.replace(' ', '+')})")
        at = end
    out.append(text[at:])
    return "".join(out)


def merge_overlapping(entities: list[JSONObject]) -> list[JSONObject]:
    """Entities found in overlapping windows of one text: of two overlapping ones keep the
    longer (then the more probable), as the ``transformers`` pipeline merges strided chunks."""
    if not entities:
        return entities
    ordered = sorted(entities, key=lambda e: int(e["start_pos"]))
    kept: list[JSONObject] = []
    previous = ordered[0]
    for entity in ordered[1:]:
        if previous["start_pos"] <= entity["start_pos"] < previous["end_pos"]:
            longer = (entity["end_pos"] - entity["start_pos"]) - (
                previous["end_pos"] - previous["start_pos"]
            )
            if longer > 0 or (
                longer == 0 and entity["class_probability"] > previous["class_probability"]
            ):
                previous = entity
        else:
            kept.append(previous)
            previous = entity
    kept.append(previous)
    return kept


@dataclass(frozen=True)
class Span:
    """One answer candidate: token indices (inclusive) and its probability."""

    start: int
    end: int
    score: float


def answer_spans(
    start_logits: FloatArray,
    end_logits: FloatArray,
    context: npt.NDArray[np.bool_],
    *,
    top_k: int,
    max_answer_length: int,
    cls: npt.NDArray[np.bool_] | None = None,
) -> list[Span]:
    """Best answer spans of one window, as the ``transformers`` QA decoding scores them.

    Tokens outside the context cannot start or end an answer (their logits are set to -10000
    before the softmax), except the ``cls`` tokens (the model's "no answer" position), which
    take part in the softmax; the first token then gets probability 0. A span's score is
    ``p(start) * p(end)``, with ``end - start < max_answer_length``.
    """
    usable = context if cls is None else (context | cls)
    start = np.where(usable, start_logits, np.float32(-10000.0)).astype(np.float32)
    end = np.where(usable, end_logits, np.float32(-10000.0)).astype(np.float32)
    start = np.exp(start - start.max())
    start = start / start.sum()
    end = np.exp(end - end.max())
    end = end / end.sum()
    start[0] = end[0] = 0.0
    outer = np.outer(start, end)
    candidates = np.tril(np.triu(outer), max_answer_length - 1)
    flat = candidates.ravel()
    order = np.argsort(-flat, kind="stable")
    allowed = set(np.flatnonzero(usable).tolist())
    spans: list[Span] = []
    for index in order[: max(top_k, 1)]:
        s, e = divmod(int(index), candidates.shape[1])
        if s in allowed and e in allowed:
            spans.append(Span(s, e, float(candidates[s, e])))
    return spans
