"""OnnxRunner's session options; the one-text-per-call metadata of dynamic int8 graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper

from processors.errors import ModelError
from processors.models.onnx import OnnxRunner
from processors.models.runtimes import DenseRuntime
from processors.models.tokenization import TextTokenizer


def _cast_graph(path: Path, rows_per_run: str | None = None) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["input_ids"], ["out"], to=TensorProto.FLOAT)],
        "cast",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "s"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if rows_per_run is not None:
        helper.set_model_props(model, {"neuralpipe.rows_per_run": rows_per_run})
    onnx.save(model, path)
    return path


def _spinning(runner: OnnxRunner) -> str:
    options = runner._session.get_session_options()
    try:
        return str(options.get_session_config_entry("session.intra_op.allow_spinning"))
    except RuntimeError:  # never set: onnxruntime's default
        return "unset"


def test_spinning_can_be_turned_off_for_shared_cores(tmp_path: Path) -> None:
    path = _cast_graph(tmp_path / "cast.onnx")
    quiet = OnnxRunner(path, threads=2, spin=False)
    assert _spinning(quiet) == "0"
    ((name, out),) = quiet.run({"input_ids": np.array([[1, 2]], dtype=np.int64)})
    assert name == "out" and out.tolist() == [[1.0, 2.0]]


def test_spinning_is_onnxruntimes_default_otherwise(tmp_path: Path) -> None:
    runner = OnnxRunner(_cast_graph(tmp_path / "cast.onnx"))
    assert _spinning(runner) == "unset"  # onnxruntime spins by default


def test_a_graph_without_the_metadata_takes_any_number_of_rows(tmp_path: Path) -> None:
    assert OnnxRunner(_cast_graph(tmp_path / "cast.onnx")).rows_per_run is None


def test_rows_per_run_is_read_from_the_graph(tmp_path: Path) -> None:
    assert OnnxRunner(_cast_graph(tmp_path / "one.onnx", "1")).rows_per_run == 1


def test_a_bad_rows_per_run_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"bad\.onnx.*rows_per_run '0'"):
        OnnxRunner(_cast_graph(tmp_path / "bad.onnx", "0"))


class _Recorder:
    """A runner that records the batch size of each call and returns ids as token vectors."""

    dict_input = False
    backend = "onnx"
    input_names = ("input_ids", "attention_mask")

    def __init__(self, rows_per_run: int | None) -> None:
        self.rows_per_run = rows_per_run
        self.calls: list[int] = []

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, npt.NDArray[Any]]]:
        ids = feed["input_ids"]
        self.calls.append(ids.shape[0])
        return [("token_embeddings", np.repeat(ids[:, :, None], 4, axis=2).astype(np.float32))]


@pytest.mark.parametrize(("rows", "calls"), [(None, [3]), (1, [1, 1, 1])])
def test_the_runtime_feeds_at_most_rows_per_run_texts_per_call(
    tokenizer_json: Path, rows: int | None, calls: list[int]
) -> None:
    runner = _Recorder(rows)
    model = DenseRuntime(runner, TextTokenizer.from_file(tokenizer_json), None, max_batch=64)
    model.embed(["a b c", "hello world", "x"])
    assert runner.calls == calls
