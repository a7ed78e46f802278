"""``plan_source(..., fuse=False)``: the same model exported without neuralpipe's fusions.

``scripts/bench/tasks.py`` times that graph next to ours so its fp32 bound covers both
exports; here: the plain export has none of onnxruntime's fused operators, the default one
does, and both compute the same logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.models.build.sources import plan_source
from processors.models.onnx import OnnxRunner
from processors.models.registration import FunctionName, ModelFormat
from processors.testing.tiny_task_models import tiny_dpr_source, tiny_task_source

FUSED_OPS = {"Attention", "MultiHeadAttention", "SkipLayerNormalization", "EmbedLayerNormalization"}


def _ops(path: Path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize("kind", ["ner", "dpr"])
def test_unfused_export_has_no_fused_operators_and_the_same_outputs(
    tmp_path: Path, kind: str
) -> None:
    if kind == "dpr":
        source, function = tiny_dpr_source(tmp_path / "src", "ctx"), FunctionName.TEXT_EMBEDDING
    else:
        source, function = (
            tiny_task_source(tmp_path / "src", "bert", FunctionName.NER),
            FunctionName.NER,
        )
    graphs = {}
    for fuse in (True, False):
        path = tmp_path / f"{kind}-{fuse}.onnx"
        plan_source(source, function, 128, fuse=fuse).export(ModelFormat.ONNX, path, False)
        graphs[fuse] = path
    assert _ops(graphs[True]) & FUSED_OPS
    assert not _ops(graphs[False]) & FUSED_OPS

    ids = np.array([[2, 40, 41, 42, 3], [2, 50, 51, 3, 0]], dtype=np.int64)
    arrays = {"input_ids": ids, "attention_mask": (ids > 0).astype(np.int64),
              "token_type_ids": np.zeros_like(ids)}  # fmt: skip
    outputs = []
    for path in graphs.values():
        runner = OnnxRunner(path, threads=1)
        feed = {name: arrays[name] for name in runner.input_names}
        outputs.append(runner.run(feed)[0][1])
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-4)
