"""ONNX Runtime backend (the default): a graph runner that feeds only the declared inputs.

``onnxruntime`` is imported when a model is loaded, never at package import.

Example:
    >>> runner = OnnxRunner(Path("model.onnx"), threads=2)  # doctest: +SKIP
    >>> runner.input_names  # doctest: +SKIP
    ('input_ids', 'attention_mask', 'token_type_ids')
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from processors.errors import BackendUnavailableError, ModelError
from processors.models.tokenization import input_key

log = logging.getLogger(__name__)

KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise BackendUnavailableError(
            "the ONNX backend needs onnxruntime: pip install 'neuralpipe[onnx]' "
            "(or pip install onnxruntime)"
        ) from exc
    return onnxruntime


class OnnxRunner:
    """Run an ONNX graph with onnxruntime (CPU, or its CUDA execution provider).

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads (None: onnxruntime's default, one per core).
        spin: Whether idle intra-op threads spin-wait for work (onnxruntime's default). Spinning
            lowers latency on idle cores but steals CPU from whatever shares them.
        device: ``cpu``, ``cuda`` or ``cuda:N`` (CUDA needs onnxruntime-gpu; without it the
            graph runs on CPU, with one warning: :mod:`processors.models.device`).

    Raises:
        ModelError: the graph cannot be loaded or declares inputs neuralpipe cannot feed.

    Example:
        >>> OnnxRunner(Path("model.onnx")).run(batch.feed(runner.input_names))  # doctest: +SKIP
    """

    dict_input = False
    backend = "onnx"

    def __init__(
        self, path: Path, *, threads: int | None = None, spin: bool = True, device: str = "cpu"
    ) -> None:
        from processors.models.device import onnx_providers

        ort = _ort()
        providers, self.device = onnx_providers(ort, device)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load ONNX model {path.name}: {exc}") from exc
        self.input_names = tuple(i.name for i in self._session.get_inputs())
        self.output_names = tuple(o.name for o in self._session.get_outputs())
        hint = self._session.get_modelmeta().custom_metadata_map.get("neuralpipe.token_budget")
        self.token_budget: int | None = int(hint) if hint and hint.isdigit() else None
        """The graph's own batch budget (``neuralpipe.token_budget`` metadata), if any."""
        unknown = [n for n in self.input_names if input_key(n) not in KNOWN_INPUTS]
        if unknown:
            raise ModelError(f"ONNX model declares inputs neuralpipe cannot feed: {unknown}")

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, npt.NDArray[Any]]]:
        """Run the graph; returns ``(output name, array)`` in graph order."""
        try:
            outputs = self._session.run(None, feed)
        except Exception as exc:
            raise ModelError(f"ONNX inference failed: {exc}") from exc
        return list(zip(self.output_names, (np.asarray(o) for o in outputs), strict=True))
