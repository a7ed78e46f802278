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
