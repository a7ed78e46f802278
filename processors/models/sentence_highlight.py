"""Sentence highlighting (ml-commons' QUESTION_ANSWERING ``sentence_highlighting`` models).

OpenSearch's semantic highlighter is BERT with a linear layer applied to the mean token
vector of each sentence of the context: a sentence is relevant when its class-1 softmax
probability is at least 0.5; when none is, the most probable one is taken if it reaches
0.05. The layer being linear, the mean of the per-token logits is the layer of the mean
vector: the graph neuralpipe exports gives per-token logits and the rest is done here.

As ml-commons 3.6 prepares the input: the context is split into sentences by its regular
expression (after ``.``/``!``/``?`` and whitespace, common abbreviations such as ``Dr.`` kept
whole), the question and the context are encoded as a pair, and each context token takes the
sentence of its word, counting words as the context's whitespace-separated pieces. A context
longer than the model is run in overlapping windows (stride 128) and the highlights merged.
The result is ``{"highlights": [{"text", "position", "start", "end"}, ...]}`` sorted by
position, ``start``/``end`` in characters of the context.

Example:
    >>> [(s.text, s.start, s.end) for s in segment("Lift is up. Drag is back!")]
    [('Lift is up.', 0, 11), ('Drag is back!', 12, 25)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from processors.errors import ModelError

if TYPE_CHECKING:
    from processors.models.task_runtime import TaskRuntime

JSONObject = dict[str, Any]
IGNORE = -100
THRESHOLD, BACKOFF = 0.5, 0.05
STRIDE = 128
ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sr.", "Jr.", "Ltd.", "Co.", "Inc.",
                 "i.e.", "e.g.", "etc.", "vs.", "fig.")  # fmt: skip
_SPLIT = re.compile(r"(?<!\w\.\w.)(?<!\w[A-Z]\.)(?<=[.!?])(?<!\w[A-Z]\.[A-Z]\.)\s+", re.ASCII)
_ABBREVIATIONS = [(re.compile(r"\b" + re.escape(a) + r"\s+", re.ASCII), a) for a in ABBREVIATIONS]


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def segment(text: str) -> list[Sentence]:
    """ml-commons' default sentence segmentation (its positions, quirks included)."""
    processed = text
    for pattern, abbreviation in _ABBREVIATIONS:
        if pattern.search(processed):
            processed = pattern.sub(abbreviation.replace(".", "@@@") + " ", processed)
    processed = re.sub(r'([.!?])"', r'"\1', processed)
    pieces = _SPLIT.split(processed)
    while pieces and pieces[-1] == "":  # Java's split drops trailing empty strings
        pieces.pop()
    if not pieces:
        raise ModelError("Failed to split text into sentences")
    sentences = []
    current = 0
    for raw in pieces:
        start = text.find(raw, current)
        if start == -1:
            prefix = raw[:10]
            start = text.find(prefix, current) if raw else current
            if start == -1:
                start = current
        end = start + len(raw)
        sentences.append(Sentence(raw.strip(), start, end))
        current = end
    return sentences


def _word_sentences(sentences: list[Sentence], context: str) -> list[int]:
    """The sentence of each whitespace-separated word (positions counted with one space)."""
    words = re.split(r"\s+", context)
    while len(words) > 1 and words[-1] == "":
        words.pop()
    ids = [0] * len(words)
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    for index, sentence in enumerate(sentences):
        for w, word in enumerate(words):
            if starts[w] >= sentence.start and starts[w] + len(word) <= sentence.end:
                ids[w] = index
    return ids


def _relevant(logits: np.ndarray[Any, Any], sentence_ids: list[int]) -> list[int]:
    """The model's sentence choice for one window (global sentence indices)."""
    ids = np.asarray(sentence_ids)
    kept = ids != IGNORE
    if not kept.any():
        return []
    offset = int(ids[kept].min())
    count = int(ids[kept].max()) - offset + 1
    probs = np.full(count, np.nan)
    for j in range(count):
        rows = logits[kept & (ids == j + offset)]
        if len(rows):
            mean = rows.astype(np.float64).mean(axis=0)
            shifted = np.exp(mean - mean.max())
            probs[j] = shifted[1] / shifted.sum()
    hits = [j for j in range(count) if probs[j] >= THRESHOLD]
    if not hits and not np.isnan(probs).all():
        best = int(np.nanargmax(probs))
        if probs[best] >= BACKOFF:
            hits = [best]
    return [j + offset for j in hits]


def highlight(model: TaskRuntime, question: str, context: str) -> JSONObject:
    """``{"highlights": [...]}`` for one question and context (see module doc)."""
    from processors.models.task_runtime import Tokenization

    sentences = segment(context)
    word_ids_of = _word_sentences(sentences, context)
    windows, _ = model._pair(question, context, Tokenization.parse(None), stride=STRIDE)
    chosen: set[int] = set()
    feeds = []
    for window in windows:
        types = window.encoding.type_ids
        start = next((i for i, t in enumerate(types) if t == 1), 0)
        ids = []
        for i, word in enumerate(window.encoding.word_ids):
            if i >= start and word is not None and word < len(word_ids_of):
                ids.append(word_ids_of[word])
            else:
                ids.append(IGNORE)
        feeds.append(ids)
    for outputs, ids in zip(model._run(windows), feeds, strict=True):
        chosen.update(i for i in _relevant(outputs[0], ids) if 0 <= i < len(sentences))
    return {
        "highlights": [
            {
                "text": sentences[i].text,
                "position": i,
                "start": sentences[i].start,
                "end": sentences[i].end,
            }
            for i in sorted(chosen)
        ]
    }
