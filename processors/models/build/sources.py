"""Read a local model source and plan its export (used by :mod:`processors.models.build.builder`).

A plan holds the ``tokenizer.json`` to ship (truncation filled in, padding removed), the
``model_config`` of the register body and an ``export(format, path, for_int8)`` callable that
loads the torch model on first use.

Example:
    >>> plan = plan_source(Path("MiniLM"), FunctionName.TEXT_EMBEDDING, None)  # doctest: +SKIP
    >>> plan.model_config["pooling_mode"]  # doctest: +SKIP
    'mean'
"""

from __future__ import annotations

import dataclasses
import functools
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processors.errors import ArtifactError, ModelError
from processors.models.build import export as ex
from processors.models.build import tasks as build_tasks
from processors.models.registration import FunctionName, ModelFormat
from processors.models.tokenization import ML_COMMONS_INPUT_PREFIX, Encoded, TextTokenizer

_EXAMPLES = ["hello world", "a somewhat longer example sentence used to trace the graph"]
_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_ST_MODULES = ("Transformer", "Pooling", "Normalize")
Exporter = Callable[[ModelFormat, Path, bool], None]
"""``export(format, path, for_int8)``: ``for_int8`` fuses ONNX attention as
``MultiHeadAttention`` (see :func:`processors.models.build.export.quantize_int8`)."""


def _no_export(fmt: ModelFormat, path: Path, for_int8: bool = False) -> None:
    raise ModelError("SPARSE_TOKENIZE artifacts have no model file")


@dataclass
class SourcePlan:
    """What to put in the zip and the register body for one source."""

    function: FunctionName
    tokenizer_spec: dict[str, Any]
    max_length: int
    model_config: dict[str, Any] | None
    extra_files: dict[str, Path | bytes] = field(default_factory=dict)
    export: Exporter = _no_export
    onnx_revision: str = ""
    """Part of the ONNX cache key: bumped when one function's ONNX graph changes."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    return data


def _with_truncation(spec: dict[str, Any], max_length: int) -> dict[str, Any]:
    trunc = {
        "direction": "Right",
        "max_length": max_length,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    return {**spec, "truncation": trunc, "padding": None}


def _max_length(source: Path, config: dict[str, Any], override: int | None) -> int:
    limit = int(config.get("max_position_embeddings") or 512)
    if override:
        return override
    st_cfg = source / "sentence_bert_config.json"
    if st_cfg.is_file() and _read_json(st_cfg).get("max_seq_length"):
        return min(int(_read_json(st_cfg)["max_seq_length"]), limit)
    tok_cfg = source / "tokenizer_config.json"
    declared = _read_json(tok_cfg).get("model_max_length") if tok_cfg.is_file() else None
    if isinstance(declared, int) and declared < 100_000:
        return min(declared, limit, 512)
    return min(limit, 512)


def _tokenize_plan(source: Path, override: int | None) -> SourcePlan:
    files: dict[str, bytes] = {}
    if source.is_file():
        try:
            with zipfile.ZipFile(source) as zf:
                files = {
                    n: zf.read(n) for n in ("tokenizer.json", "idf.json") if n in zf.namelist()
                }
        except zipfile.BadZipFile as exc:
            raise ArtifactError(f"corrupt tokenizer zip {source}: {exc}") from exc
    else:
        files = {
            n: (source / n).read_bytes()
            for n in ("tokenizer.json", "idf.json")
            if (source / n).is_file()
        }
    if "tokenizer.json" not in files:
        raise ArtifactError("No tokenizer file")
    length = override or 512
    spec = _with_truncation(json.loads(files["tokenizer.json"]), length)
    extra: dict[str, Path | bytes] = {"idf.json": files["idf.json"]} if "idf.json" in files else {}
    return SourcePlan(FunctionName.SPARSE_TOKENIZE, spec, length, None, extra)


def _st_config(source: Path) -> dict[str, Any] | None:
    """pooling_mode / normalize_result from a sentence-transformers dir (None: plain HF dir)."""
    modules_file = source / "modules.json"
    if not modules_file.is_file():
        return None
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in _ST_MODULES]
    if unsupported:
        raise ModelError(
            f"sentence-transformers modules not supported by the builder: {unsupported}"
        )
    pooling = next(m for m in modules if m["type"].endswith("Pooling"))
    pool_cfg = _read_json(source / pooling["path"] / "config.json")
    mode = next((v for k, v in _POOLING_KEYS.items() if pool_cfg.get(k)), "mean")
    return {
        "pooling_mode": mode,
        "normalize_result": "Normalize" in kinds,
        "embedding_dimension": int(pool_cfg["word_embedding_dimension"]),
    }


def _special_ids(spec: dict[str, Any]) -> list[int]:
    return [int(t["id"]) for t in spec.get("added_tokens", []) if t.get("special")]


def plan_source(
    source: Path, function: FunctionName, override: int | None, *, fuse: bool = True
) -> SourcePlan:
    """Plan the artifact for ``function`` from ``source``. ``fuse=False`` exports the ONNX
    graph as torch writes it, leaving every fusion to ONNX Runtime's load-time optimizer (what
    ``scripts/bench/tasks.py`` times against ours).

    Raises:
        ArtifactError: missing tokenizer.json / config.json; ModelError: unsupported source.
    """
    if function is FunctionName.SPARSE_TOKENIZE:
        return _tokenize_plan(source, override)
    config = _read_json(source / "config.json")
    if not (source / "tokenizer.json").is_file():
        raise ArtifactError(f"No tokenizer file in {source} (tokenizer.json)")
    length = _max_length(source, config, override)
    spec = _with_truncation(_read_json(source / "tokenizer.json"), length)
    model_type = str(config.get("model_type", "bert"))
    base = {
        "model_type": model_type,
        "model_max_length": length,
        "all_config": json.dumps(config, sort_keys=True),
    }
    tok = TextTokenizer(spec, truncation="silent")
    fusion = ex.Fusion.from_config(config) if fuse else None
    if function is FunctionName.TEXT_SIMILARITY:
        batch = tok.encode_pairs("example query", _EXAMPLES)
        cfg = {**base, "embedding_dimension": 1, "framework_type": "huggingface_transformers"}
        exporter = _cross_exporter(source, batch, fusion)
        return SourcePlan(function, spec, length, cfg, export=exporter)
    if function in build_tasks.HEADS:
        return _task_plan(source, function, config, spec, length, base, tok, fusion)
    batch = tok.encode(_EXAMPLES)
    if build_tasks.is_dpr(config):
        hidden = int(config.get("projection_dim") or 0) or int(config["hidden_size"])
        cfg = {
            **base,
            "embedding_dimension": hidden,
            "framework_type": "huggingface_transformers",
            "pooling_mode": "cls",
            "normalize_result": False,
        }
        exporter = build_tasks.dpr_exporter(source, config, batch, fuse)
        return SourcePlan(function, spec, length, cfg, export=exporter, onnx_revision="dpr2")
    types = model_type in ("bert", "albert")
    if function is FunctionName.SPARSE_ENCODING:
        # no model_config: ml-commons reads any model_config of a sparse model as a text
        # embedding config and refuses it without embedding_dimension; the truncation length
        # is in tokenizer.json
        exporter = _sparse_exporter(source, batch, _special_ids(spec), fusion)
        return SourcePlan(function, spec, length, None, export=exporter, onnx_revision="3")
    st = _st_config(source)
    if st is None:
        cfg = {
            **base,
            "embedding_dimension": int(config["hidden_size"]),
            "framework_type": "huggingface_transformers",
            "pooling_mode": "mean",
            "normalize_result": False,
        }
    else:
        cfg = {**base, **st, "framework_type": "sentence_transformers"}
    exporter = _dense_exporter(source, batch, st, types, fusion)
    return SourcePlan(function, spec, length, cfg, export=exporter)


def _task_plan(
    source: Path,
    function: FunctionName,
    config: dict[str, Any],
    spec: dict[str, Any],
    length: int,
    base: dict[str, Any],
    tok: TextTokenizer,
    fusion: ex.Fusion | None,
) -> SourcePlan:
    """NER, fill-mask, QA, text / zero-shot classification: the head checked, the HF
    ``config.json`` shipped in the zip (the label map), the mask token in the model_config."""
    build_tasks.check_head(config, function, source)
    cfg: dict[str, Any] = {**base, "framework_type": "huggingface_transformers"}
    if function is FunctionName.FILL_MASK:
        cfg["additional_config"] = {"mask_token": build_tasks.mask_token(source, spec)}
    if build_tasks.is_sentence_highlighter(config):
        cfg["model_type"] = "sentence_highlighting"  # ml-commons' sentence highlighting QA
    pairs = function in (FunctionName.QUESTION_ANSWERING, FunctionName.ZERO_SHOT_CLASSIFICATION)
    batch = tok.encode_pairs("example query", _EXAMPLES) if pairs else tok.encode(_EXAMPLES)
    mask_id = None
    if function is FunctionName.FILL_MASK:
        mask_id = tok.raw.token_to_id(cfg["additional_config"]["mask_token"])
    exporter = build_tasks.task_exporter(source, function, config, batch, fusion, mask_id)
    extra: dict[str, Path | bytes] = {"config.json": (source / "config.json").read_bytes()}
    revision = build_tasks.onnx_revision(function)
    return SourcePlan(function, spec, length, cfg, extra, exporter, onnx_revision=revision)


def _int8(fusion: ex.Fusion | None, for_int8: bool) -> ex.Fusion | None:
    return dataclasses.replace(fusion, multi_head=True) if fusion and for_int8 else fusion


def _names(types: bool) -> list[str]:
    return ["input_ids", "attention_mask", *(["token_type_ids"] if types else [])]


def _dense_exporter(
    source: Path, batch: Encoded, st: dict[str, Any] | None, types: bool, fusion: ex.Fusion | None
) -> Exporter:
    def load() -> Any:
        ex.import_build_deps()
        if st is not None:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(
                str(source), device="cpu", model_kwargs={"attn_implementation": "eager"}
            )
        from transformers import AutoModel

        return AutoModel.from_pretrained(str(source), attn_implementation="eager")

    model = functools.cache(load)

    def export(fmt: ModelFormat, path: Path, for_int8: bool = False) -> None:
        if fmt is ModelFormat.TORCH_SCRIPT and st is not None:
            ex.trace_torchscript(model(), batch, path, dict_input=True)
        elif fmt is ModelFormat.TORCH_SCRIPT:
            ex.trace_torchscript(ex.hf_hidden_module(model()), batch, path, dict_input=False)
        elif st is not None:
            outputs = ["token_embeddings", "sentence_embedding"]
            module = ex.st_onnx_module(model(), types)
            ex.export_onnx(module, batch, path, _names(types), outputs, _int8(fusion, for_int8))
        else:
            module = ex.hf_hidden_module(model(), types)
            names = _names(types)
            fused = _int8(fusion, for_int8)
            ex.export_onnx(module, batch, path, names, ["last_hidden_state"], fused)

    return export


def _sparse_exporter(
    source: Path, batch: Encoded, special: list[int], fusion: ex.Fusion | None
) -> Exporter:
    """Both formats take only ``input_ids`` and ``attention_mask`` (token types are zeros in
    the graph): ml-commons' ``SparseEncodingTranslator`` feeds exactly these two, named
    ``input1.input_ids`` and ``input1.attention_mask``, and DJL feeds an ONNX graph by name, so
    the ONNX graph declares these names (a graph that also declares ``token_type_ids``, or
    plain names, cannot run there)."""

    def load() -> Any:
        ex.import_build_deps()
        from transformers import AutoModelForMaskedLM

        return AutoModelForMaskedLM.from_pretrained(str(source), attn_implementation="eager")

    model = functools.cache(load)

    def export(fmt: ModelFormat, path: Path, for_int8: bool = False) -> None:
        if fmt is ModelFormat.TORCH_SCRIPT:
            module = ex.sparse_module(model(), special, dict_io=True)
            ex.trace_torchscript(module, batch, path, dict_input=True)
        else:
            module = ex.sparse_module(model(), special, dict_io=False)
            names = [f"{ML_COMMONS_INPUT_PREFIX}{n}" for n in _names(False)]
            ex.export_onnx(module, batch, path, names, ["output"], fusion)

    return export


def _cross_exporter(source: Path, batch: Encoded, fusion: ex.Fusion | None) -> Exporter:
    def load() -> Any:
        ex.import_build_deps()
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(
            str(source), attn_implementation="eager"
        )

    model = functools.cache(load)

    def export(fmt: ModelFormat, path: Path, for_int8: bool = False) -> None:
        module = ex.cross_module(model())
        names = _names(True)
        if fmt is ModelFormat.TORCH_SCRIPT:
            ex.trace_torchscript(module, batch, path, dict_input=False, names=names)
        else:
            ex.export_onnx(module, batch, path, names, ["logits"], _int8(fusion, for_int8))

    return export
