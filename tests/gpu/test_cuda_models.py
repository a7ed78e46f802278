"""Models on a CUDA device (``--device cuda``): same outputs as on CPU.

Marked ``gpu``: collected everywhere, run only where a CUDA runtime is (``cuda_available()``:
ONNX Runtime's CUDA provider or torch CUDA). Elsewhere they are skipped with that reason and
the run summary says how many GPU tests did not run and why (``tests/conftest.py``): a CPU-only
CI never fails for lack of a GPU, and never hides it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from processors.models.binding import model_store
from processors.settings import Settings

pytestmark = pytest.mark.gpu
TEXTS = ["the wing produces lift", "shock waves in a supersonic nozzle", "a flat plate"]


def _runtime_has_cuda(model_id: str) -> bool:
    if "torchscript" in model_id:
        import torch

        return bool(torch.cuda.is_available())
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.parametrize(
    "model_id", ["all-minilm-l6-v2-onnx", "all-minilm-l6-v2-torchscript", "splade-tiny-onnx"]
)
def test_a_model_on_cuda_matches_cpu(model_id: str) -> None:
    if not _runtime_has_cuda(model_id):
        pytest.skip(f"{model_id}: this machine's runtime for it has no CUDA (GPU test)")
    settings = Settings()
    on_cpu: Any = model_store(settings, device="cpu").get(model_id)
    on_gpu: Any = model_store(settings, device="cuda").get(model_id)
    assert on_gpu.runner.device.startswith("cuda") and on_cpu.runner.device == "cpu"
    if hasattr(on_cpu, "embed"):
        assert np.allclose(on_cpu.embed(TEXTS), on_gpu.embed(TEXTS), atol=1e-4)
        return
    for cpu, gpu in zip(on_cpu.encode(TEXTS), on_gpu.encode(TEXTS), strict=True):
        strong = {t for t, w in cpu.items() if w > 0.01}
        assert strong <= gpu.keys()
        assert np.allclose([cpu[t] for t in strong], [gpu[t] for t in strong], atol=1e-3)
