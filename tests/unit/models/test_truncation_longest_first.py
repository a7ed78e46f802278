"""Truncation without a second encode: equal to the tokenizer's own longest_first cut."""

from __future__ import annotations

import json
import random

import pytest

from processors.models.tokenization import TextTokenizer, longest_first
from processors.testing.tiny_models import WORDS, tiny_tokenizer


def _spec(max_length: int) -> dict[str, object]:
    spec = json.loads(tiny_tokenizer().to_str())
    spec["truncation"] = {
        "direction": "Right",
        "max_length": max_length,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    return spec


def _text(rng: random.Random, most: int) -> str:
    return " ".join(rng.choices([*WORDS, "xyzzy", "unknownish"], k=rng.randint(1, most)))


@pytest.mark.parametrize("max_length", [5, 6, 7, 12, 24, 33])
def test_longest_first_equals_the_tokenizers_own_truncation(max_length: int) -> None:
    tok = TextTokenizer(_spec(max_length), truncation="silent")
    rng = random.Random(max_length)
    checked = 0
    for _ in range(200):
        pair = rng.random() < 0.75
        query, text = _text(rng, 30), _text(rng, 60)
        raw = tok._raw.encode(query, text) if pair else tok._raw.encode(text)
        cut = tok._cut.encode(query, text) if pair else tok._cut.encode(text)
        mine = longest_first(raw, max_length)
        assert mine is not None
        assert (mine.ids, mine.type_ids) == (list(cut.ids), list(cut.type_ids))
        checked += len(raw.ids) > max_length
    assert checked > 50


def test_tokenize_pads_the_same_batch_as_before_and_counts_lost_tokens() -> None:
    tok = TextTokenizer(_spec(12), truncation="silent")
    texts = ["good day", _text(random.Random(1), 40), "the quick brown fox jumps over the lazy dog"]
    encs, lost = tok.tokenize(texts, query="what is a shock wave")
    expected = tok._cut.encode_batch([("what is a shock wave", t) for t in texts])
    assert [list(e.ids) for e in encs] == [list(e.ids) for e in expected]
    assert [list(e.type_ids) for e in encs] == [list(e.type_ids) for e in expected]
    full = tok._raw.encode_batch([("what is a shock wave", t) for t in texts])
    assert lost == [max(0, len(e.ids) - 12) for e in full] and lost[1] > 0


def test_no_room_for_the_special_tokens_is_left_to_the_tokenizer() -> None:
    tok = TextTokenizer(_spec(24), truncation="silent")
    assert longest_first(tok._raw.encode("a", "b"), 2) is None
