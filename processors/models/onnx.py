"""ONNX Runtime backend (the default): a graph runner that feeds only the declared inputs.

``onnxruntime`` is imported when a model is loaded, never at package import.

Example:
    >>> runner = OnnxRunner(Path("model.onnx"), threads=2)  # doctest: +SKIP
    >>> runner.input_names  # doctest: +SKIP
    ('input_ids', 'attention_mask', 'token_type_ids')
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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

    :meth:`run` spreads one batch over the intra-op threads; :meth:`run_many` (several
    batches, on CPU with more than one thread) runs one batch per thread instead, each on a
    one-thread session: a small batch's operators are too short to split well (2 intra-op
    threads on 2 cores: ~15 % more CPU per batch than one thread, and more still with
    spinning), whole batches side by side lose nothing. Every batch's output is the same
    either way up to float rounding, as each text's output depends on that text only.

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

        self._path, self._spin = path, spin
        self._providers, self.device = onnx_providers(_ort(), device)
        self._session = self._open(threads)
        self.workers = (threads or len(os.sched_getaffinity(0))) if self.device == "cpu" else 1
        """Batches :meth:`run_many` runs side by side (1: one after the other)."""
        self._lock = threading.Lock()
        self._single: Any = None  # the one-thread session of run_many, opened on first use
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self.input_names = tuple(i.name for i in self._session.get_inputs())
        self.output_names = tuple(o.name for o in self._session.get_outputs())
        hint = self._session.get_modelmeta().custom_metadata_map.get("neuralpipe.token_budget")
        self.token_budget: int | None = int(hint) if hint and hint.isdigit() else None
        """The graph's own batch budget (``neuralpipe.token_budget`` metadata), if any."""
        unknown = [n for n in self.input_names if input_key(n) not in KNOWN_INPUTS]
        if unknown:
            raise ModelError(f"ONNX model declares inputs neuralpipe cannot feed: {unknown}")

    def _open(self, threads: int | None) -> Any:
        ort = _ort()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        if not self._spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(
                str(self._path), sess_options=options, providers=self._providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load ONNX model {self._path.name}: {exc}") from exc

    def run(self, feed: dict[str, npt.NDArray[np.int64]]) -> list[tuple[str, npt.NDArray[Any]]]:
        """Run the graph; returns ``(output name, array)`` in graph order."""
        return self._run_on(self._session, feed)

    def _run_on(
        self, session: Any, feed: dict[str, npt.NDArray[np.int64]]
    ) -> list[tuple[str, npt.NDArray[Any]]]:
        try:
            outputs = session.run(None, feed)
        except Exception as exc:
            raise ModelError(f"ONNX inference failed: {exc}") from exc
        return list(zip(self.output_names, (np.asarray(o) for o in outputs), strict=True))

    def run_many(
        self, feeds: Iterable[dict[str, npt.NDArray[np.int64]]]
    ) -> Iterator[list[tuple[str, npt.NDArray[Any]]]]:
        """:meth:`run` over each feed, outputs in feed order; up to :attr:`workers` batches
        run at once, each on one thread (at most ``2 x workers`` outputs wait to be read)."""
        batches = iter(feeds)
        first, second = next(batches, None), next(batches, None)
        if first is None:
            return
        if second is None or self.workers < 2:  # one batch: all threads on it
            yield self.run(first)
            if second is not None:
                yield self.run(second)
                yield from (self.run(feed) for feed in batches)
            return
        with self._lock:
            if self._single is None:
                self._single = self._open(1)
            if self._pool is None or self._pool_pid != os.getpid():  # a forked child has none
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-batch")
                self._pool_pid = os.getpid()
        assert self._pool is not None
        pending: deque[Future[list[tuple[str, npt.NDArray[Any]]]]] = deque()
        for feed in itertools.chain((first, second), batches):
            pending.append(self._pool.submit(self._run_on, self._single, feed))
            if len(pending) >= 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
