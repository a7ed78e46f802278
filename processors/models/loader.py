"""Load a model zip into the runtime for its ``function_name``.

:func:`load_model` verifies the zip (:mod:`~processors.models.artifact`), estimates memory
before loading anything, builds the tokenizer and picks the backend from ``model_format``:
ONNX (onnxruntime, the default) or TORCH_SCRIPT (torch, optional extra).

Example:
    >>> model = load_model(Path("minilm.zip"), registration)  # doctest: +SKIP
    >>> model.embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from processors.errors import ModelError, ModelMemoryError
from processors.models.artifact import ModelArtifact, open_artifact
from processors.models.registration import (
    FrameworkType,
    FunctionName,
    ModelFormat,
    ModelRegistration,
)
from processors.models.runtimes import (
    DEFAULT_TOKEN_BUDGET,
    CrossRuntime,
    DenseRuntime,
    GraphRunner,
    SparseRuntime,
)
from processors.models.sparse_tokenize import SparseTokenizer, read_idf
from processors.models.task_runtime import TASK_FUNCTIONS, TaskRuntime, TaskSpec
from processors.models.tokenization import TextTokenizer, TruncationMode

log = logging.getLogger(__name__)

LoadedModel = DenseRuntime | SparseRuntime | CrossRuntime | SparseTokenizer | TaskRuntime
MASK_TOKENS = ("[MASK]", "<mask>")
MEMORY_FACTOR = {ModelFormat.ONNX: 3.0, ModelFormat.TORCH_SCRIPT: 3.0}
_BACKENDS = {
    "onnx": ModelFormat.ONNX,
    "torch_script": ModelFormat.TORCH_SCRIPT,
    "torchscript": ModelFormat.TORCH_SCRIPT,
}


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo (None where unreadable)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def check_memory(artifact: ModelArtifact, *, available: int | None = None) -> None:
    """Refuse to load a model whose estimated footprint exceeds the available memory.

    Raises:
        ModelMemoryError: with the estimate, the factor and the available bytes.
    """
    if artifact.model_file is None or artifact.model_format is None:
        return
    size = artifact.model_file.stat().st_size
    factor = MEMORY_FACTOR[artifact.model_format]
    need = int(size * factor)
    have = available_memory_bytes() if available is None else available
    if have is not None and need > have:
        mib = 1024 * 1024
        raise ModelMemoryError(
            f"loading {artifact.model_file.name} needs about {need // mib} MiB "
            f"({size // mib} MiB model file x {factor}) but only {have // mib} MiB is available"
        )


def _runner(
    artifact: ModelArtifact,
    registration: ModelRegistration,
    threads: int | None,
    spin: bool,
    device: str = "cpu",
) -> GraphRunner:
    assert artifact.model_file is not None
    if artifact.model_format is ModelFormat.ONNX:
        from processors.models.onnx import OnnxRunner

        return OnnxRunner(artifact.model_file, threads=threads, spin=spin, device=device)
    from processors.models.torchscript import TorchScriptRunner

    cfg = registration.model_config_
    fn = registration.function_name
    dict_input = fn is FunctionName.SPARSE_ENCODING or (
        fn is FunctionName.TEXT_EMBEDDING
        and cfg is not None
        and cfg.framework_type is FrameworkType.SENTENCE_TRANSFORMERS
    )
    return TorchScriptRunner(
        artifact.model_file, dict_input=dict_input, threads=threads, device=device
    )


def load_model(
    zip_path: Path,
    registration: ModelRegistration,
    *,
    backend: str | None = None,
    threads: int | None = None,
    spin: bool = True,
    cache_dir: Path | None = None,
    truncation: TruncationMode = "warn",
    token_budget: int | None = None,
    device: str = "cpu",
) -> LoadedModel:
    """Verify, extract and load a model zip as the runtime for its function.

    Args:
        zip_path: The OpenSearch model zip.
        registration: Its ``_register`` body (format, function, hash, model_config).
        backend: ``onnx`` or ``torch_script``; must agree with the zip (None: from the zip).
        threads: Intra-op threads for the backend (None: one per core). An ONNX model runs
            a call of several batches that many batches side by side instead, one thread
            each (:meth:`~processors.models.onnx.OnnxRunner.run_many`).
        spin: Let ONNX Runtime's idle intra-op threads spin (lowest latency when the model has
            the cores to itself); False when other work shares them, e.g. bulk indexing next
            to the node and the bulk writer.
        cache_dir: Where the zip is extracted (default: next to the zip).
        truncation: ``warn`` | ``fail`` | ``silent`` for over-long texts.
        token_budget: Max ``batch size x longest sequence`` per forward pass (None: the
            graph's own ``neuralpipe.token_budget`` metadata, e.g. 512 for an int8 embedding
            build, else ``DEFAULT_TOKEN_BUDGET``).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (:mod:`processors.models.device`; CPU, with a
            warning, when no GPU runtime is there).

    Raises:
        ArtifactError, ModelMemoryError, BackendUnavailableError, ModelError.
    """
    fmt = registration.model_format
    if backend is not None:
        wanted = _BACKENDS.get(backend.lower())
        if wanted is None or (fmt is not None and wanted is not fmt):
            raise ModelError(f"backend {backend!r} cannot run a {fmt.value if fmt else '?'} model")
        fmt = wanted
    artifact = open_artifact(
        zip_path,
        model_format=fmt,
        function_name=registration.function_name,
        expected_hash=registration.model_content_hash_value,
        cache_dir=cache_dir,
    )
    check_memory(artifact)
    cfg = registration.model_config_
    tokenizer = TextTokenizer.from_file(
        artifact.tokenizer_file,
        model_max_length=cfg.model_max_length if cfg else None,
        truncation=truncation,
    )
    fn = registration.function_name
    if fn is FunctionName.SPARSE_TOKENIZE:
        return SparseTokenizer(tokenizer, read_idf(artifact.idf_file))
    runner = _runner(artifact, registration, threads, spin, device)
    if token_budget is None:
        token_budget = getattr(runner, "token_budget", None) or DEFAULT_TOKEN_BUDGET
    if fn in TASK_FUNCTIONS:
        spec = _task_spec(artifact, registration, tokenizer)
        log.info("loaded %s model %s (%s)", fn.value, artifact.zip_path.name, runner.backend)
        return TaskRuntime(runner, tokenizer, spec, token_budget=token_budget)
    model: DenseRuntime | SparseRuntime | CrossRuntime
    if fn is FunctionName.TEXT_EMBEDDING:
        model = DenseRuntime(runner, tokenizer, cfg, token_budget=token_budget)
        _warm_up(model, cfg.embedding_dimension if cfg else None)
    elif fn is FunctionName.SPARSE_ENCODING:
        model = SparseRuntime(runner, tokenizer, cfg, token_budget=token_budget)
    else:
        model = CrossRuntime(runner, tokenizer, cfg, token_budget=token_budget)
    log.info("loaded %s model %s (%s)", fn.value, artifact.zip_path.name, runner.backend)
    return model


def _task_spec(
    artifact: ModelArtifact, registration: ModelRegistration, tokenizer: TextTokenizer
) -> TaskSpec:
    """Labels from the zip's ``config.json`` (else ``model_config.all_config``); the mask
    token from ``model_config.additional_config.mask_token`` (else ``[MASK]``/``<mask>``)."""
    cfg = registration.model_config_
    hf: dict[str, Any] = {}
    config_file = artifact.root / "config.json"
    try:
        if config_file.is_file():
            hf = json.loads(config_file.read_text(encoding="utf-8"))
        elif cfg is not None and cfg.all_config:
            hf = json.loads(cfg.all_config)
    except ValueError as exc:
        raise ModelError(f"{artifact.zip_path.name}: config.json is not valid JSON: {exc}") from exc
    extra = (cfg.additional_config if cfg else None) or {}
    mask = extra.get("mask_token")
    if not isinstance(mask, str):
        mask = next((t for t in MASK_TOKENS if tokenizer.raw.token_to_id(t) is not None), None)
    return TaskSpec.from_config(hf, registration.function_name, mask)


def _warm_up(model: DenseRuntime, dimension: int | None) -> None:
    """Run one sentence (as ml-commons does at deploy); checks or learns the vector size."""
    model.dimension = dimension or 0
    model.embed(["This is a warm-up sentence."])
