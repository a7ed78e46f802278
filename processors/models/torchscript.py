"""TorchScript backend: ``torch.jit.load`` (never unpickling) and a graph runner.

torch is imported inside :class:`TorchScriptRunner`; without it the backend raises
:class:`~processors.errors.BackendUnavailableError` naming the pip command.

Two calling conventions, as ml-commons (reference §10.3-10.4):

* ``dict_input=True``: sentence-transformers and sparse artifacts take one dict
  ``{"input_ids", "attention_mask"}`` and return a dict of named tensors.
* ``dict_input=False``: positional inputs (``input_ids``, ``attention_mask`` and, when the
  traced signature has a third argument, ``token_type_ids``); tuple/dict outputs.

Example:
    >>> runner = TorchScriptRunner(Path("model.pt"), dict_input=True)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from processors.errors import BackendUnavailableError, ModelError

log = logging.getLogger(__name__)

_POSITIONAL = ("input_ids", "attention_mask", "token_type_ids")


def import_torch() -> Any:
    """Import torch or raise BackendUnavailableError with the pip command."""
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(
            "TORCH_SCRIPT models need PyTorch: pip install 'neuralpipe[torch]'"
        ) from exc
    return torch


def _declared_inputs(module: Any) -> tuple[str, ...]:
    """Names of the traced forward's arguments (after ``self``), mapped onto known inputs."""
    try:
        args = [a.name for a in module.forward.schema.arguments][1:]
    except (AttributeError, RuntimeError):
        return _POSITIONAL[:2]
    if all(a in _POSITIONAL for a in args):
        return tuple(args)
    return _POSITIONAL[: min(len(args), 3)]


class TorchScriptRunner:
    """Run a TorchScript module (CPU or CUDA) under ``torch.inference_mode()``.

    Args:
        path: The ``.pt`` file.
        dict_input: Call with one feature dict (sentence-transformers / sparse artifacts).
        threads: ``torch.set_num_threads`` value (None leaves torch's default).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (CPU, with one warning, when torch finds no GPU).

    Example:
        >>> TorchScriptRunner(Path("model.pt"), dict_input=False).input_names  # doctest: +SKIP
    """

    backend = "torch_script"

    def __init__(
        self, path: Path, *, dict_input: bool, threads: int | None = None, device: str = "cpu"
    ) -> None:
        from processors.models.device import torch_device

        self._torch = torch = import_torch()
        self.device = torch_device(torch, device)
        if threads:
            torch.set_num_threads(threads)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", ".*torch.jit.load.*deprecated", FutureWarning)
                self._module = torch.jit.load(str(path), map_location=self.device)
        except Exception as exc:  # torch raises RuntimeError and friends
            raise ModelError(f"cannot load TorchScript model {path.name}: {exc}") from exc
        self._module.eval()
        self.dict_input = dict_input
        self.input_names = (
            ("input_ids", "attention_mask") if dict_input else _declared_inputs(self._module)
        )

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, npt.NDArray[Any]]]:
        """Run the module; returns ``(output name, array)`` pairs in output order."""
        torch = self._torch
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in feed.items()}
        try:
            with torch.inference_mode():
                if self.dict_input:
                    out = self._module(tensors)
                else:
                    out = self._module(*(tensors[n] for n in self.input_names))
        except Exception as exc:
            raise ModelError(f"TorchScript inference failed: {exc}") from exc
        return _named_outputs(out)


def _named_outputs(out: Any) -> list[tuple[str, npt.NDArray[Any]]]:
    if isinstance(out, dict):
        items = list(out.items())
    elif isinstance(out, (tuple, list)):
        items = [(f"output_{i}", o) for i, o in enumerate(out)]
    else:
        items = [("output_0", out)]
    # integer outputs (the input_ids / attention_mask a sentence-transformers module echoes)
    # stay integers: ml-commons returns them as INT64 tensors
    return [
        (
            str(k),
            v.detach().float().cpu().numpy() if v.is_floating_point() else v.detach().cpu().numpy(),
        )
        for k, v in items
        if hasattr(v, "detach")
    ]
