"""Build OpenSearch model zips (ONNX and/or TorchScript) from local HF / sentence-transformers dirs.

Each build writes ``<cache>/<model_id>-<key>.zip`` (key = hash of the source files and the build
options, so a zip is built once) and, unless ``yaml_dir`` is None, the ``_register`` body as
``<yaml_dir>/<model_id>.yaml`` with ``url: file:<zip name>`` (resolved against the models
directory, ``Settings().home / "models"``). The zips are byte-reproducible: where ``yaml_dir``
already holds a body of the same zip name with another ``model_content_hash_value`` (the
tracked ``pipelines/models/*.yaml``), a cached zip is stale and is rebuilt, and a fresh build
that still differs is refused (:class:`~processors.errors.ArtifactError`) rather than the body
rewritten. Model ids get a format suffix: ``<id>-onnx``,
``<id>-torchscript``, ``<id>-onnx-int8``; SPARSE_TOKENIZE ids are used as given.

What each artifact contains is described in :mod:`processors.models.build.export`.

Example:
    >>> results = build_model(Path("all-MiniLM-L6-v2"), FunctionName.TEXT_EMBEDDING,
    ...                       formats=[ModelFormat.ONNX], model_id="minilm")  # doctest: +SKIP
    >>> results[0].registration.model_config_.embedding_dimension  # doctest: +SKIP
    384
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from processors.errors import ArtifactError, ModelError
from processors.models.artifact import sha256_file
from processors.models.build.sources import SourcePlan, plan_source
from processors.models.registration import FunctionName, ModelFormat, ModelRegistration
from processors.models.task_runtime import TASK_FUNCTIONS

log = logging.getLogger(__name__)

BUILDER_VERSION = "4"  # 2: fused ONNX; 3: int8 keeps layer-0 FFN-down fp32; 4: used opsets only
INT8_REVISION = "row-scales-3"  # per-row scales, MatMulIntegerToFloat, MultiHeadAttention graph
_SUFFIX = {ModelFormat.ONNX: "onnx", ModelFormat.TORCH_SCRIPT: "torchscript"}
_EXT = {ModelFormat.ONNX: ".onnx", ModelFormat.TORCH_SCRIPT: ".pt"}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
QUANTIZABLE = (FunctionName.TEXT_EMBEDDING, FunctionName.TEXT_SIMILARITY, *TASK_FUNCTIONS)
"""Functions with an int8 build (NLP tasks: opt-in speed; their scores leave the 1e-4 parity)."""


@dataclass(frozen=True)
class BuildResult:
    """One built artifact.

    Example:
        >>> result.registration.to_body()["url"]  # doctest: +SKIP
        'file:minilm-onnx-0123456789ab.zip'
    """

    model_id: str
    zip_path: Path
    registration: ModelRegistration
    yaml_path: Path | None
    quality: dict[str, float] | None = None
    cached: bool = False


def source_digest(source: Path) -> str:
    """SHA-256 over the relative names and contents of every file of a source dir or zip."""
    digest = hashlib.sha256()
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(source) if path != source else path.name).encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def write_zip(zip_path: Path, members: dict[str, Path | bytes]) -> None:
    """Write a deterministic zip (fixed dates, sorted names) atomically."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".zip", dir=zip_path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                data = members[name]
                zf.writestr(info, data if isinstance(data, bytes) else data.read_bytes())
        os.replace(tmp, zip_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _registration(
    plan: SourcePlan, zip_path: Path, fmt: ModelFormat, name: str, version: str
) -> ModelRegistration:
    return ModelRegistration.model_validate(
        {
            "name": name,
            "version": version,
            "model_format": fmt.value,
            "function_name": plan.function.value,
            "model_content_hash_value": sha256_file(zip_path),
            "model_content_size_in_bytes": zip_path.stat().st_size,
            "model_config": plan.model_config,
            "url": f"file:{zip_path.name}",
        }
    )


def write_yaml(result: BuildResult, yaml_dir: Path, source: Path) -> Path:
    """Write the register body as ``<yaml_dir>/<model_id>.yaml`` (a comment records origin)."""
    yaml_dir.mkdir(parents=True, exist_ok=True)
    path = yaml_dir / f"{result.model_id}.yaml"
    head = [
        f"# POST _plugins/_ml/models/_register (model_id = {result.model_id})",
        f"# built by `neuralpipe model build` from {source.name}; zip in the models dir",
    ]
    if result.quality:
        # not the numbers: their digits depend on the CPU's int8 kernels, and the file is tracked
        sidecar = result.zip_path.with_suffix(".quality.json").name
        head.append(f"# int8 quality vs fp32: measured by each build, see {sidecar} (models dir)")
    body = yaml.safe_dump(result.registration.to_body(), sort_keys=False, allow_unicode=True)
    path.write_text("\n".join(head) + "\n" + body, encoding="utf-8")
    return path


def _cache_key(digest: str, plan: SourcePlan, fmt: ModelFormat, quantize: str | None) -> str:
    raw = (
        f"{digest}|{plan.function.value}|{fmt.value}|{quantize}|{plan.max_length}|{BUILDER_VERSION}"
    )
    if quantize:
        raw += f"|{INT8_REVISION}"
    if fmt is ModelFormat.ONNX and plan.onnx_revision:
        raw += f"|onnx-{plan.onnx_revision}"
    if fmt is ModelFormat.TORCH_SCRIPT and plan.function is not FunctionName.SPARSE_TOKENIZE:
        raw += "|ts-reproducible"  # archives without the .debug_pkl paths (make_reproducible)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _model_id(base: str, function: FunctionName, fmt: ModelFormat, quantize: str | None) -> str:
    if function is FunctionName.SPARSE_TOKENIZE:
        return base
    return f"{base}-{_SUFFIX[fmt]}" + (f"-{quantize}" if quantize else "")


def build_model(
    source: Path,
    function: FunctionName,
    *,
    model_id: str,
    formats: Sequence[ModelFormat] = (ModelFormat.ONNX,),
    cache_dir: Path,
    yaml_dir: Path | None = Path("pipelines/models"),
    name: str | None = None,
    version: str = "1.0.0",
    quantize: str | None = None,
    model_max_length: int | None = None,
) -> list[BuildResult]:
    """Build zips for ``formats`` (plus an int8 ONNX with ``quantize="int8"``).

    Args:
        source: sentence-transformers / HF model dir (or a tokenizer dir/zip for SPARSE_TOKENIZE).
        function: The ml-commons function the artifact serves.
        model_id: Base id; a format suffix is appended (except for SPARSE_TOKENIZE).
        formats: ONNX and/or TORCH_SCRIPT.
        cache_dir: Where zips go (``Settings().home / "models"``).
        yaml_dir: Where register bodies go (None: do not write them).
        name: ``name`` in the register body (default: the model id).
        version: ``version`` in the register body.
        quantize: ``"int8"`` adds an int8 ONNX build (per-row activation scales) (TEXT_EMBEDDING,
            TEXT_SIMILARITY, NLP tasks), with its quality vs the fp32 build in
            ``BuildResult.quality``.
        model_max_length: Override the truncation length written into ``tokenizer.json``.

    Raises:
        ModelError: unsupported combination or unreadable source; ArtifactError on bad sources.
    """
    if not source.exists():
        raise ArtifactError(f"model source not found: {source}")
    if quantize not in (None, "int8"):
        raise ModelError(f"unknown quantization {quantize!r}; only int8 is supported")
    if quantize and function not in QUANTIZABLE:
        raise ModelError(
            "int8 quantization is only supported for TEXT_EMBEDDING, TEXT_SIMILARITY and NLP "
            "task models"
        )
    plan = plan_source(source, function, model_max_length)
    digest = source_digest(source)
    targets: list[tuple[ModelFormat, str | None]] = [(f, None) for f in dict.fromkeys(formats)]
    if function is FunctionName.SPARSE_TOKENIZE:
        targets = [(ModelFormat.TORCH_SCRIPT, None)]
    if quantize:
        targets.append((ModelFormat.ONNX, quantize))
    results = [
        _build_one(plan, digest, fmt, q, model_id, cache_dir, name, version) for fmt, q in targets
    ]
    if yaml_dir is not None:
        build = functools.partial(_build_one, plan, digest, base_id=model_id, cache_dir=cache_dir,
                                  name=name, version=version, fresh=True)  # fmt: skip
        results = [
            _checked(r, yaml_dir, functools.partial(build, fmt=fmt, quantize=q))
            for r, (fmt, q) in zip(results, targets, strict=True)
        ]
        results = [replace(r, yaml_path=write_yaml(r, yaml_dir, source)) for r in results]
    return results


def recorded_hash(body_path: Path, zip_name: str) -> str | None:
    """The ``model_content_hash_value`` a register body already at ``body_path`` records for the
    zip ``zip_name`` (None: no body there, or one of another zip).

    Example:
        >>> recorded_hash(Path("no-such-body.yaml"), "m-0123456789ab.zip") is None
        True
    """
    if not body_path.is_file():
        return None
    try:
        body = yaml.safe_load(body_path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    if not isinstance(body, dict) or body.get("url") != f"file:{zip_name}":
        return None
    return str(body.get("model_content_hash_value"))


def _checked(
    result: BuildResult, yaml_dir: Path, rebuild: Callable[[], BuildResult]
) -> BuildResult:
    """``result``, checked against the register body already in ``yaml_dir`` for its zip.

    The builds are byte-reproducible, so a body of the same zip name (same sources and build
    options) that records another hash means: a cached zip is stale (it is rebuilt), or this
    install builds other bytes (refused: the body, a tracked file, is not rewritten).
    """
    body = yaml_dir / f"{result.model_id}.yaml"
    recorded = recorded_hash(body, result.zip_path.name)
    if recorded in (None, result.registration.model_content_hash_value):
        return result
    if result.cached:
        log.warning(
            "%s: cached zip %s differs from %s (sha256 %s): stale, rebuilding it",
            result.model_id, result.zip_path, body, recorded,
        )  # fmt: skip
        result = rebuild()
        if result.registration.model_content_hash_value == recorded:
            return result
    raise ArtifactError(
        f"{body}: records model_content_hash_value {recorded} for {result.zip_path.name}, but "
        f"this build gives {result.registration.model_content_hash_value}; not rewriting it. The "
        "builds are byte-reproducible with the pinned dependencies (scripts/constraints.txt): "
        "is another version installed? To keep this build's body, delete the file and build "
        "again."
    )


def _build_one(
    plan: SourcePlan,
    digest: str,
    fmt: ModelFormat,
    quantize: str | None,
    base_id: str,
    cache_dir: Path,
    name: str | None,
    version: str,
    *,
    fresh: bool = False,
) -> BuildResult:
    """One zip: from the cache, or built (``fresh``: built whatever the cache holds, replacing
    its zip and int8 quality file, never writing into them)."""
    model_id = _model_id(base_id, plan.function, fmt, quantize)
    zip_path = cache_dir / f"{model_id}-{_cache_key(digest, plan, fmt, quantize)}.zip"
    sidecar = zip_path.with_suffix(".quality.json")
    if fresh:
        sidecar.unlink(missing_ok=True)  # its numbers measured the stale zip
    cached = zip_path.is_file() and not fresh
    if not cached:
        log.info("building %s", zip_path.name)
        with tempfile.TemporaryDirectory(prefix="neuralpipe-build-") as tmp:
            members: dict[str, Path | bytes] = {
                "tokenizer.json": json.dumps(plan.tokenizer_spec, ensure_ascii=False).encode(),
                **plan.extra_files,
            }
            if plan.function is not FunctionName.SPARSE_TOKENIZE:
                model_file = Path(tmp) / f"{model_id}{_EXT[fmt]}"
                plan.export(fmt, model_file, quantize is not None)
                if quantize:
                    fp32 = model_file.with_name("fp32.onnx")
                    model_file.rename(fp32)
                    from processors.models.build.export import drop_unused_opsets, quantize_int8

                    # int8 embeddings run fastest in small batches: MLAS's int8 GEMMs lose
                    # nothing at a few hundred rows, padding and fp32 attention cost (README)
                    budget = 512 if plan.function is FunctionName.TEXT_EMBEDDING else None
                    quantize_int8(fp32, model_file, budget)
                    drop_unused_opsets(model_file)
                members[model_file.name] = model_file
            write_zip(zip_path, members)
    reg = _registration(plan, zip_path, fmt, name or model_id, version)
    quality = None
    if quantize:
        if not sidecar.is_file():
            from processors.models.build.quality import int8_quality

            fp32_zip = _build_one(plan, digest, fmt, None, base_id, cache_dir, name, version)
            sidecar.write_text(json.dumps(int8_quality(fp32_zip, (zip_path, reg), cache_dir)))
        quality = {k: float(v) for k, v in json.loads(sidecar.read_text()).items()}
    return BuildResult(model_id, zip_path, reg, None, quality, cached)
