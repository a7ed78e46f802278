"""text_embedding / sparse_encoding options and batch semantics (reference §1.1, §1.5, §3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from processors.errors import InvalidProcessorConfigError
from processors.ingest.inference import SparseEncodingProcessor, TextEmbeddingProcessor
from processors.ingest.prune import prune
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

OK = {"model_id": "m", "field_map": {"t": "v"}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"field_map": {"t": "v"}}, "[model_id] required property is missing"),
        ({"model_id": " ", "field_map": {"t": "v"}}, "model_id is null or empty, cannot process it"),
        ({"model_id": "m"}, "[field_map] required property is missing"),
        ({"model_id": "m", "field_map": "t"}, "[field_map] property isn't a map, but of type [java.lang.String]"),
        ({"model_id": "m", "field_map": {}}, "Unable to create the processor as field_map has invalid key or value"),
        ({"model_id": "m", "field_map": {"t": ""}}, "Unable to create the processor as field_map has invalid key or value"),
        ({**OK, "batch_size": 0}, "[batch_size] batch size must be a positive integer"),
        ({**OK, "batch_size": "x"}, "[batch_size] property cannot be converted to an int [x]"),
        ({**OK, "ignore_missing": True},
         "processor [text_embedding] doesn't support one or more provided configuration parameters [ignore_missing]"),
    ],
)  # fmt: skip
def test_text_embedding_config_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        TextEmbeddingProcessor.parse(body)
    assert message in str(caught.value)


def test_numeric_string_batch_size_is_accepted() -> None:
    assert TextEmbeddingProcessor.parse({**OK, "batch_size": "2"}).batch_size == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prune_ratio": 0.1}, "prune_ratio field is not supported when prune_type is not provided"),
        ({"prune_type": "foo", "prune_ratio": 1}, "Unknown prune type: foo"),
        ({"prune_type": "top_k"}, "[prune_ratio] required property is missing"),
        ({"prune_type": "top_k", "prune_ratio": "x"}, "[prune_ratio] property cannot be converted to a double [x]"),
        ({"prune_type": "top_k", "prune_ratio": 2.5},
         "Illegal prune_ratio 2.500000 for prune_type: top_k. prune_ratio should be positive integer."),
        ({"prune_type": "max_ratio", "prune_ratio": 1},
         "Illegal prune_ratio 1.000000 for prune_type: max_ratio. prune_ratio should be in the range [0, 1)."),
        ({"prune_type": "abs_value", "prune_ratio": -1},
         "Illegal prune_ratio -1.000000 for prune_type: abs_value. prune_ratio should be non-negative."),
    ],
)  # fmt: skip
def test_sparse_prune_config_errors(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        SparseEncodingProcessor.parse({**OK, **extra})
    assert message in str(caught.value)


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        SparseEncodingProcessor.parse({"batch_size": 0, "prune_ratio": 0.2})
    text = str(caught.value)
    assert (
        "model_id" in text
        and "field_map" in text
        and "batch_size" in text
        and "prune_ratio" in text
    )


@pytest.mark.parametrize(
    ("kind", "ratio", "expected"),
    [("max_ratio", 0.5, {"a", "c"}), ("abs_value", 2.0, {"a", "c"}), ("top_k", 1, {"a"}),
     ("alpha_mass", 0.5, {"a"}), ("alpha_mass", 0.0, set()), ("none", 0, {"a", "b", "c"})],
)  # fmt: skip
def test_prune_math(kind: str, ratio: float, expected: set[str]) -> None:
    assert set(prune({"a": 4.0, "b": 1.0, "c": 3.0}, kind, ratio)) == expected


def test_prune_refuses_non_positive_weights() -> None:
    with pytest.raises(ValueError, match="Pruned values must be positive"):
        prune({"a": 0.0}, "none", 0)


class CountingEmbedder(HashEmbedder):
    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__(4)
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def embed(self, texts: Sequence[str], content_type: Any = "passage") -> Any:
        self.calls.append(list(texts))
        if self.fail_on in texts:
            raise RuntimeError("model exploded")
        return super().embed(texts)


def test_one_model_call_per_run_and_invalid_docs_fail_alone() -> None:
    embedder = CountingEmbedder()
    step = TextEmbeddingProcessor.from_body({**OK, "batch_size": 2}, embedder=embedder)
    docs: list[dict[str, Any]] = [{"t": "a"}, {"t": 5}, {"t": "c"}, {"x": 1}]
    errors = step.run(docs)
    assert [e is None for e in errors] == [True, False, True, True]
    assert embedder.calls == [["a", "c"]]  # doc 2 failed validation; doc 4 had no text
    assert len(docs[0]["v"]) == 4 and "v" not in docs[3]


def test_a_failed_model_call_fails_only_the_document_that_causes_it() -> None:
    step = TextEmbeddingProcessor.from_body(
        {**OK, "batch_size": 2}, embedder=CountingEmbedder("boom")
    )
    docs: list[dict[str, Any]] = [{"t": "a"}, {"t": "boom"}, {"t": "c"}]
    errors = step.run(docs)
    assert [e is not None for e in errors] == [False, True, False]
    assert "model exploded" in str(errors[1]) and errors[1] is not None
    assert errors[1].processor_type == "text_embedding"
    assert "v" in docs[0] and "v" in docs[2] and "v" not in docs[1]


def test_sparse_encoding_writes_pruned_maps() -> None:
    body = {**OK, "prune_type": "top_k", "prune_ratio": 1}
    step = SparseEncodingProcessor.from_body(body, encoder=CountSparseEncoder())
    docs: list[dict[str, Any]] = [{"t": ["go go stop"]}]
    assert step.run(docs) == [None]
    assert docs[0]["v"] == [{"sparse_encoding": {"go": pytest.approx(1.6931471805599454)}}]
