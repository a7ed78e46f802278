"""``_predict`` response shapes and errors of the ml-commons-shaped registry (no real model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from processors.models.mlcommons.errors import MLCommonsError
from processors.models.mlcommons.predict import java_hashmap_order, predict_response
from processors.models.runtimes import DenseRuntime
from processors.models.tokenization import TextTokenizer
from processors.proxy.errors import classify

DIM = 4


class DictRunner:
    """A sentence-transformers TorchScript module: echoes its inputs, adds the embeddings."""

    input_names = ("input_ids", "attention_mask")
    dict_input = True

    def __init__(self, backend: str = "torch_script") -> None:
        self.backend = backend

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, npt.NDArray[Any]]]:
        ids, mask = feed["input_ids"], feed["attention_mask"]
        tokens = np.repeat(ids[..., None].astype(np.float32), DIM, axis=-1)
        return [
            ("input_ids", ids),
            ("attention_mask", mask),
            ("token_embeddings", tokens),
            ("sentence_embedding", tokens.mean(axis=1)),
        ]


class Runner:
    def __init__(self, dict_input: bool) -> None:
        self.dict_input = dict_input


class Tokens:
    """A SPARSE_TOKENIZE / SPARSE_ENCODING stand-in (``runner``: a TorchScript or ONNX one)."""

    def __init__(self, dict_input: bool = False) -> None:
        self.runner = Runner(dict_input)

    def encode(self, texts: list[str], content_type: str = "passage") -> list[dict[str, float]]:
        return [{t: 1.0 for t in text.split()} for text in texts]


@pytest.fixture
def dense(tokenizer_json: Path) -> DenseRuntime:
    spec = json.loads(tokenizer_json.read_text())
    return DenseRuntime(DictRunner(), TextTokenizer(spec, model_max_length=16), None)  # type: ignore[arg-type]


def test_torchscript_without_target_response_returns_every_tensor(dense: DenseRuntime) -> None:
    body = predict_response("TEXT_EMBEDDING", dense, {"text_docs": ["hello world", "hello"]})
    first, second = (r["output"] for r in body["inference_results"])
    assert [t["name"] for t in first] == [
        "input_ids",
        "token_embeddings",
        "sentence_embedding",
        "attention_mask",
    ]
    ids, tokens, sentence, mask = first
    n = ids["shape"][0]
    assert ids["data_type"] == "INT64" and all(isinstance(v, int) for v in ids["data"])
    assert mask == {"name": "attention_mask", "data_type": "INT64", "shape": [n], "data": [1] * n}
    assert tokens["shape"] == [n, DIM] and sentence["shape"] == [DIM]
    assert second[0]["shape"][0] < n  # each text runs alone, unpadded


def test_target_response_and_positions_pick_tensors(dense: DenseRuntime) -> None:
    one = predict_response(
        "TEXT_EMBEDDING", dense, {"text_docs": ["hi"], "target_response": ["sentence_embedding"]}
    )
    assert [t["name"] for t in one["inference_results"][0]["output"]] == ["sentence_embedding"]
    two = predict_response(
        "TEXT_EMBEDDING", dense, {"text_docs": ["hi"], "target_response_positions": [3]}
    )
    assert [t["name"] for t in two["inference_results"][0]["output"]] == ["attention_mask"]


def test_onnx_and_hf_models_return_the_sentence_embedding_only(tokenizer_json: Path) -> None:
    spec = json.loads(tokenizer_json.read_text())
    model = DenseRuntime(DictRunner("onnx"), TextTokenizer(spec), None)  # type: ignore[arg-type]
    body = predict_response("TEXT_EMBEDDING", model, {"text_docs": ["hi", ""]})
    assert [[t["name"] for t in r["output"]] for r in body["inference_results"]] == [
        ["sentence_embedding"],
        ["sentence_embedding"],
    ]


def test_sparse_tensor_names() -> None:
    """Named after the TorchScript dict output; ONNX outputs and SPARSE_TOKENIZE unnamed."""
    torchscript = predict_response("SPARSE_ENCODING", Tokens(True), {"text_docs": ["a b"]})
    assert torchscript["inference_results"][0]["output"] == [
        {"name": "output", "dataAsMap": {"response": [{"a": 1.0, "b": 1.0}]}}
    ]
    onnx = predict_response("SPARSE_ENCODING", Tokens(False), {"text_docs": ["a"]})
    assert onnx["inference_results"][0]["output"] == [{"dataAsMap": {"response": [{"a": 1.0}]}}]
    tokenize = predict_response("SPARSE_TOKENIZE", Tokens(), {"text_docs": ["a"]})
    assert tokenize["inference_results"][0]["output"] == [{"dataAsMap": {"response": [{"a": 1.0}]}}]


@pytest.mark.parametrize("body", [{}, {"text_docs": []}])
def test_empty_input_is_an_illegal_argument(body: dict[str, Any]) -> None:
    with pytest.raises(MLCommonsError) as caught:
        predict_response("SPARSE_TOKENIZE", Tokens(), body)
    assert classify(caught.value) == (400, "illegal_argument_exception", "Empty text docs")


def test_java_hashmap_order_keeps_insertion_order_within_a_bucket() -> None:
    assert java_hashmap_order([]) == []
    assert java_hashmap_order(["a"]) == [0]
    names = [f"k{i}" for i in range(40)]  # resized table: still a permutation
    assert sorted(java_hashmap_order(names)) == list(range(40))
