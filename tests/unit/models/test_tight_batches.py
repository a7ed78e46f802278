"""Tight batch plans and DenseRuntime's use of them (the graph is a test double: a mean of
token ids over the mask, so the expected vector of each text is known)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from processors.models.registration import ModelConfig, PoolingMode
from processors.models.runtimes import PAD_SLACK, DenseRuntime, plan_tight_batches
from processors.models.tokenization import TextTokenizer


def test_tight_plan_covers_each_index_once_within_budget_slack_and_max_batch() -> None:
    lengths = [80, 78, 40, 39, 75, 12, 11, 11, 11, 11, 60]
    plan = plan_tight_batches(lengths, 2048, max_batch=3)
    assert sorted(i for b in plan for i in b) == list(range(len(lengths)))
    for batch in plan:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 3
        assert len(batch) * longest <= 2048
        assert all(lengths[i] >= (1 - PAD_SLACK) * longest for i in batch)
    assert [5, 6, 7] in plan and [8, 9] in plan  # the four 11s split by max_batch


class _MeanIds:
    """Graph double: ``last_hidden_state[b, t] = [input_id, 1]``; records each feed's shape."""

    input_names = ("input_ids", "attention_mask")
    dict_input = False
    backend = "test"

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, Any]]:
        ids = feed["input_ids"].astype(np.float32)
        self.shapes.append(ids.shape)
        return [("last_hidden_state", np.stack([ids, np.ones_like(ids)], axis=-1))]


def test_dense_runtime_feeds_tight_batches_and_keeps_input_order(tokenizer_json: Path) -> None:
    tokenizer = TextTokenizer.from_file(tokenizer_json)
    texts = ["hello world " * 20, "hello", "world " * 19, "hello world"]
    runner = _MeanIds()
    dense = DenseRuntime(runner, tokenizer, ModelConfig(pooling_mode=PoolingMode.MEAN))
    vectors = dense.embed(texts)
    encs, _ = tokenizer.tokenize(texts)
    expected = [np.mean(e.ids) for e in encs]
    np.testing.assert_allclose(vectors[:, 0], expected, rtol=1e-6)
    fed = sum(rows * width for rows, width in runner.shapes)
    real = sum(len(e.ids) for e in encs)
    assert fed <= real * (1 + PAD_SLACK) + 1  # fully padded: one batch of 4 x longest
    runner.shapes.clear()
    dense.tight = False
    np.testing.assert_allclose(dense.embed(texts), vectors, rtol=1e-6)
    assert len(runner.shapes) == 1
