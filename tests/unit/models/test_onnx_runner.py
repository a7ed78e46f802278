"""OnnxRunner's session options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from processors.models.onnx import OnnxRunner


def _cast_graph(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["input_ids"], ["out"], to=TensorProto.FLOAT)],
        "cast",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "s"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
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


def test_run_many_keeps_the_feed_order_side_by_side(tmp_path: Path) -> None:
    runner = OnnxRunner(_cast_graph(tmp_path / "cast.onnx"), threads=2)
    assert runner.workers == 2
    feeds = [{"input_ids": np.full((1, 1 + i % 3), i, dtype=np.int64)} for i in range(9)]
    got = [out[0][1].tolist() for out in runner.run_many(feeds)]
    assert got == [[[float(i)] * (1 + i % 3)] for i in range(9)]
    assert runner._single is not None  # the one-thread session ran them


def test_run_many_runs_a_single_batch_on_every_thread(tmp_path: Path) -> None:
    runner = OnnxRunner(_cast_graph(tmp_path / "cast.onnx"), threads=2)
    (((_, out),),) = list(runner.run_many([{"input_ids": np.array([[3]], dtype=np.int64)}]))
    assert out.tolist() == [[3.0]] and runner._single is None
    assert list(runner.run_many([])) == []


def test_run_many_with_one_thread_runs_one_batch_after_the_other(tmp_path: Path) -> None:
    runner = OnnxRunner(_cast_graph(tmp_path / "cast.onnx"), threads=1)
    feeds = [{"input_ids": np.array([[i]], dtype=np.int64)} for i in range(3)]
    assert [o[0][1].tolist() for o in runner.run_many(feeds)] == [[[0.0]], [[1.0]], [[2.0]]]
    assert runner.workers == 1 and runner._single is None
