"""Where a model runs: ``cpu`` or ``cuda`` (``cuda:N``), and the fallback when there is no GPU.

``--device cuda`` (``index bulk``, ``serve``, a model YAML's ``device:``) asks ONNX Runtime for
its CUDA execution provider (the ``onnxruntime-gpu`` wheel, extra ``neuralpipe[gpu]``) or
TorchScript for a CUDA device. Where neither is there, the model runs on CPU and one log
warning says why (no library call fails for a missing GPU).

Example:
    >>> parse_device("cuda:1")
    ('cuda', 1)
    >>> parse_device("gpu")
    Traceback (most recent call last):
    ...
    processors.errors.ConfigError: device 'gpu': expected cpu, cuda or cuda:N
"""

from __future__ import annotations

import logging
from typing import Any

from processors.errors import ConfigError

log = logging.getLogger(__name__)
ONNX_CUDA = "CUDAExecutionProvider"


def parse_device(value: str) -> tuple[str, int]:
    """``(kind, ordinal)`` of ``cpu``, ``cuda`` or ``cuda:N``; ConfigError otherwise."""
    kind, _, ordinal = value.strip().lower().partition(":")
    if kind == "cpu" and not ordinal:
        return "cpu", 0
    if kind == "cuda" and (not ordinal or ordinal.isdigit()):
        return "cuda", int(ordinal or 0)
    raise ConfigError(f"device {value!r}: expected cpu, cuda or cuda:N")


def fallback_message(what: str, why: str) -> str:
    """The one line logged when ``cuda`` was asked for and the model runs on CPU instead."""
    return f"--device cuda: {why}; {what} runs on CPU"


def onnx_providers(ort: Any, device: str) -> tuple[list[Any], str]:
    """ONNX Runtime providers for ``device`` and the device it will really use."""
    kind, ordinal = parse_device(device)
    if kind == "cpu":
        return ["CPUExecutionProvider"], "cpu"
    if ONNX_CUDA not in ort.get_available_providers():
        log.warning(
            fallback_message(
                "the ONNX model",
                "this onnxruntime has no CUDA execution provider (install "
                "onnxruntime-gpu, pip install 'neuralpipe[gpu]', on a machine with an NVIDIA GPU)",
            )
        )
        return ["CPUExecutionProvider"], "cpu"
    return [(ONNX_CUDA, {"device_id": ordinal}), "CPUExecutionProvider"], f"cuda:{ordinal}"


def torch_device(torch: Any, device: str) -> str:
    """The torch device string for ``device`` (``cpu`` when CUDA is not available)."""
    kind, ordinal = parse_device(device)
    if kind == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        log.warning(
            fallback_message(
                "the TorchScript model",
                "torch finds no CUDA device (torch.cuda.is_available() is False)",
            )
        )
        return "cpu"
    return f"cuda:{ordinal}"


def cuda_available() -> bool:
    """Whether this machine can run a model on CUDA (either runtime)."""
    try:
        import onnxruntime as ort

        if ONNX_CUDA in ort.get_available_providers():
            return True
    except ImportError:
        pass
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False
