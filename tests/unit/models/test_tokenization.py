from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from processors.errors import ModelError
from processors.models.tokenization import TextTokenizer, check_texts


def _spec(path: Path, max_length: int | None) -> dict[str, object]:
    spec = json.loads(path.read_text())
    spec["truncation"] = (
        None
        if max_length is None
        else {
            "max_length": max_length,
            "strategy": "LongestFirst",
            "stride": 0,
            "direction": "Right",
        }
    )
    return spec


def test_max_length_sources(tokenizer_json: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert TextTokenizer(_spec(tokenizer_json, 10)).max_length == 10
    assert TextTokenizer(_spec(tokenizer_json, None), model_max_length=77).max_length == 77
    with caplog.at_level(logging.WARNING):
        assert TextTokenizer(_spec(tokenizer_json, None)).max_length == 512
    assert "truncating at 512" in caplog.text


def test_truncation_is_counted(tokenizer_json: Path, caplog: pytest.LogCaptureFixture) -> None:
    tok = TextTokenizer(_spec(tokenizer_json, 8))
    with caplog.at_level(logging.WARNING):
        batch = tok.encode(["hello world", "the quick brown fox jumps over the lazy dog"])
    assert batch.lost_tokens == (0, 3)  # 9 words + [CLS] [SEP] = 11 tokens, 8 kept
    assert batch.input_ids.shape == (2, 8)
    assert "1 of 2 texts exceed max_length 8" in caplog.text
    assert batch.input_ids[1, -1] == 3  # [SEP] kept at the end


def test_truncation_fail_and_silent(tokenizer_json: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ModelError, match="truncation is set to fail"):
        TextTokenizer(_spec(tokenizer_json, 4), truncation="fail").encode(["hello high world"])
    with caplog.at_level(logging.WARNING):
        TextTokenizer(_spec(tokenizer_json, 4), truncation="silent").encode(["hello high world"])
    assert "exceed" not in caplog.text


def test_huge_text_is_truncated_with_count(tokenizer_json: Path) -> None:
    tok = TextTokenizer(_spec(tokenizer_json, 16), truncation="silent")
    batch = tok.encode(["dog " * 25_000])
    assert batch.input_ids.shape == (1, 16)
    assert batch.lost_tokens == (25_000 + 2 - 16,)


def test_padding_and_mask(tokenizer_json: Path) -> None:
    batch = TextTokenizer(_spec(tokenizer_json, 32)).encode(["hello", "hello high world"])
    assert batch.input_ids.dtype == np.int64
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.input_ids[0, 3:].tolist() == [0, 0]


def test_pairs_have_segment_ids(tokenizer_json: Path) -> None:
    batch = TextTokenizer(_spec(tokenizer_json, 32)).encode_pairs("hello", ["high world"])
    assert batch.token_type_ids.tolist() == [[0, 0, 0, 1, 1, 1]]


def test_pair_truncation_longest_first(tokenizer_json: Path) -> None:
    batch = TextTokenizer(_spec(tokenizer_json, 7), truncation="silent").encode_pairs(
        "hello", ["the quick brown fox jumps over"]
    )
    assert batch.input_ids.shape == (1, 7)
    assert batch.lost_tokens == (3,)
    assert batch.token_type_ids[0].tolist() == [0, 0, 0, 1, 1, 1, 1]


def test_feed_only_named_inputs(tokenizer_json: Path) -> None:
    batch = TextTokenizer(_spec(tokenizer_json, 32)).encode(["hello"])
    assert list(batch.feed(["input_ids", "attention_mask"])) == ["input_ids", "attention_mask"]
    with pytest.raises(ModelError, match="cannot feed"):
        batch.feed(["pixel_values"])


def test_decode_id_drops_special(tokenizer_json: Path) -> None:
    tok = TextTokenizer(_spec(tokenizer_json, 32))
    assert tok.decode_id(2) == ""
    suffix = tok._raw.token_to_id("##ing")
    assert tok.decode_id(suffix) == "##ing"


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("just a string", "expected a list of strings"),
        (["ok", 3], "index 1 is not a string but int"),
        ([None], "not a string but NoneType"),
    ],
)
def test_check_texts(texts: object, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        check_texts(texts)


def test_empty_text_is_model_input_as_in_ml_commons() -> None:
    assert check_texts(["ok", ""]) == ["ok", ""]


def test_truncation_count_logs_details_only_at_info(
    tokenizer_json: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from processors.cli.bulk_cmd import store_truncation, truncation_note

    tok = TextTokenizer(_spec(tokenizer_json, 4), truncation="count")
    with caplog.at_level(logging.WARNING):
        tok.encode(["hello high world"])
    assert "exceed" not in caplog.text and tok.stats.truncated == 1
    with caplog.at_level(logging.INFO):
        tok.encode(["hello high world"])
    assert "1 of 1 texts exceed max_length 4" in caplog.text  # what -v shows
    assert store_truncation("warn") == "count" and store_truncation("fail") == "fail"
    assert truncation_note(2, "warn") == (
        "warning: 2 text(s) exceeded the model's max length and were truncated "
        "(each batch's details with -v; --truncation fail to refuse them)"
    )
    assert truncation_note(0, "warn") is None and truncation_note(2, "silent") is None
