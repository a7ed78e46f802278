"""Build-time export of torch modules to TorchScript (``.pt``) and ONNX (``.onnx``).

Used only by :mod:`processors.models.build.builder` (the ``build`` extra: torch, transformers,
sentence-transformers, onnx). Every export traces with a *padded* example batch and eager
attention, so no mask-dependent shortcut of ``transformers`` is frozen into the graph.

Graph conventions (what :mod:`processors.models.runtimes` expects):

* TEXT_EMBEDDING, sentence-transformers: TorchScript takes the dict
  ``{"input_ids", "attention_mask"}`` and returns the sentence-transformers feature dict
  (``sentence_embedding`` pooled and normalised in the graph), as opensearch-py-ml traces it.
  ONNX takes ``input_ids``, ``attention_mask`` (+ ``token_type_ids`` for bert/albert) and
  returns output 0 ``token_embeddings`` ``(B, L, H)`` (ml-commons pools it per
  ``model_config``) and output 1 ``sentence_embedding`` ``(B, H)`` (used with ``pooling_mode:
  none``).
* SPARSE_ENCODING: ``max_L(logits * mask) -> log(1 + relu) -> zero special ids`` in the graph;
  TorchScript returns ``{"output": (B, V)}``, ONNX one output named ``output``. Token types are
  zeros inside the graph: the ONNX graph takes only ``input1.input_ids`` and
  ``input1.attention_mask``, the names ml-commons' sparse translator feeds.
* TEXT_SIMILARITY: positional ``input_ids, attention_mask, token_type_ids`` -> ``logits``.

ONNX graphs of BERT-family encoders are then rewritten by onnxruntime's transformer optimizer
(fused ``Attention``, ``EmbedLayerNormalization``, ``SkipLayerNormalization``, ``BiasGelu``
from the ``com.microsoft`` domain, which ml-commons' onnxruntime also runs): the same
arithmetic in fewer, faster kernels.

Example:
    >>> export_onnx(module, batch, Path("m.onnx"), ["input_ids"], ["output"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.errors import BackendUnavailableError, ModelError
from processors.models.tokenization import Encoded

log = logging.getLogger(__name__)
OPSET = 17
FUSABLE_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "distilbert"})


@dataclass(frozen=True)
class Fusion:
    """Shape facts onnxruntime's transformer optimizer needs (from the HF ``config.json``).

    Example:
        >>> Fusion.from_config({"model_type": "bert", "num_attention_heads": 2, "hidden_size": 8})
        Fusion(num_heads=2, hidden_size=8, multi_head=False)
        >>> Fusion.from_config({"model_type": "mpnet"}) is None
        True
    """

    num_heads: int
    hidden_size: int
    multi_head: bool = False
    """Fuse attention as ``MultiHeadAttention`` (Q, K, V projections stay separate MatMuls,
    which int8 quantizes) instead of ``Attention`` (the projection is inside the fused op)."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Fusion | None:
        """A Fusion for BERT-family configs, else None (the graph is left as exported)."""
        if config.get("model_type") not in FUSABLE_MODEL_TYPES:
            return None
        heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
        if not isinstance(heads, int) or not isinstance(hidden, int):
            return None
        return cls(heads, hidden)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Tracing, export and quantisation with third-party notices silenced: warnings, the
    deprecation messages sentence-transformers logs when torch walks its attributes, and
    onnxruntime's advice logged on the root logger (which would also configure it)."""
    root = logging.getLogger()
    guard = None if root.handlers else logging.NullHandler()
    if guard is not None:
        root.addHandler(guard)
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)
        if guard is not None:
            root.removeHandler(guard)


def fuse_transformer(path: Path, fusion: Fusion) -> None:
    """Rewrite the ONNX graph at ``path`` in place with fused transformer operators."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    options.use_multi_head_attention = fusion.multi_head
    with _quiet():
        model = optimizer.optimize_model(
            str(path),
            model_type="bert",
            num_heads=fusion.num_heads,
            hidden_size=fusion.hidden_size,
            optimization_options=options,
            opt_level=1,
        )
    fused = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    log.info("fused %s: %s", path.name, fused)
    model.save_model_to_file(str(path))


def import_build_deps() -> Any:
    """torch, or BackendUnavailableError naming the extra."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BackendUnavailableError(
            "building model zips needs the build extra: pip install 'neuralpipe[build]'"
        ) from exc
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    return torch


def _tensors(batch: Encoded, names: Sequence[str]) -> tuple[Any, ...]:
    torch = import_build_deps()
    return tuple(torch.from_numpy(a) for a in batch.feed(names).values())


def trace_torchscript(
    module: Any,
    batch: Encoded,
    path: Path,
    *,
    dict_input: bool,
    names: Sequence[str] = ("input_ids", "attention_mask"),
) -> None:
    """Trace ``module`` with the padded example batch and save it as TorchScript."""
    torch = import_build_deps()
    tensors = _tensors(batch, names)
    example: tuple[Any, ...] = (dict(zip(names, tensors, strict=True)),) if dict_input else tensors
    # TorchScript numbers the classes of a trace (``___torch_mangle_<n>``) after every class
    # compiled earlier in the process: a fresh compilation unit makes the archive the same
    # whether this model is the first or the fifth one traced
    torch.jit._state._python_cu = torch._C.CompilationUnit()
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(module.eval(), example_inputs=example, strict=False)
    traced.save(str(path))
    make_reproducible(path)


def make_reproducible(path: Path) -> None:
    """Rewrite a saved TorchScript archive so the same model gives the same bytes anywhere.

    ``torch.jit.save`` writes ``code/*.py.debug_pkl`` records (source ranges that quote the
    absolute paths of the Python files the trace went through: the virtualenv's
    site-packages and this clone) and a ``.data/serialization_id`` derived from every
    record's CRC, debug records included. Another clone or ``NEURALPIPE_HOME`` would thus give
    another ``model_content_hash_value``. The debug records are dropped (``torch.jit.load``
    reads an archive without them; errors then quote the TorchScript code instead of the
    Python source), and the id is recomputed from the records that remain.

    Example:
        >>> make_reproducible(Path("model.pt"))  # doctest: +SKIP
    """
    import hashlib
    import os
    import zipfile

    tmp = path.with_name(f".{path.name}.reproducible")
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out:
        kept = [i for i in src.infolist() if not i.filename.endswith(".debug_pkl")]
        for info in kept:
            if not info.filename.endswith("/.data/serialization_id"):
                digest.update(info.filename.encode() + b"\0" + src.read(info))
        serialization_id = str(int(digest.hexdigest(), 16))[:40].encode()
        for info in kept:
            data = src.read(info)
            if info.filename.endswith("/.data/serialization_id"):
                data = serialization_id
            # a fresh entry: torch's alignment padding (an extra field) depends on the sizes
            # of the dropped records
            out.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data)
    os.replace(tmp, path)


def export_onnx(
    module: Any,
    batch: Encoded,
    path: Path,
    names: Sequence[str],
    outputs: Sequence[str],
    fusion: Fusion | None = None,
    sequence_outputs: Sequence[str] = ("token_embeddings",),
) -> None:
    """Export ``module`` (positional inputs ``names``) to ONNX with dynamic batch/sequence.

    ``sequence_outputs`` have one row per token (their axis 1 is the sequence). With
    ``fusion`` the exported graph is then optimised by :func:`fuse_transformer`.
    """
    torch = import_build_deps()
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    for out in outputs:
        axes[out] = {0: "batch", 1: "sequence"} if out in sequence_outputs else {0: "batch"}
    with _quiet(), torch.no_grad():
        torch.onnx.export(
            module.eval(),
            _tensors(batch, names),
            str(path),
            dynamo=False,
            input_names=list(names),
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    if fusion is not None:
        fuse_transformer(path, fusion)
    drop_unused_opsets(path)


def drop_unused_opsets(path: Path) -> None:
    """Keep only the opset imports of domains the graph uses.

    onnxruntime's optimizer stamps every domain it knows (``ai.onnx.ml`` 5, ...); the
    onnxruntime 1.16 inside ml-commons 2.19 refuses a model stamped with an opset it does not
    know, so the zip would not deploy on the real plugin.
    """
    import onnx

    model = onnx.load(str(path))
    used = {node.domain or "" for node in model.graph.node} | {""}
    kept = [op for op in model.opset_import if (op.domain or "") in used]
    if len(kept) != len(model.opset_import):
        del model.opset_import[:]
        model.opset_import.extend(kept)
        onnx.save(model, str(path))


TOKEN_BUDGET_KEY = "neuralpipe.token_budget"
"""ONNX metadata key: the ``batch x longest`` budget this graph runs fastest at (an int8
embedding graph: 512; :func:`processors.models.loader.load_model` uses it when its caller
sets none)."""


def quantize_int8(src: Path, dst: Path, token_budget: int | None = None) -> None:
    """int8 weights per output channel, int8 activations per row (token) at run time.

    onnxruntime's ``quantize_dynamic`` quantizes every MatMul with a constant weight (and the
    embedding tables); :func:`per_row_activations` then replaces its per-*tensor* activation
    scale, one min/max over the whole padded batch, with one scale per row. A text's vector
    then depends on that text only: not on the other texts of its batch, nor on the padding
    (fused ``Attention`` is left in fp32, so ``src`` should be fused with
    ``Fusion(multi_head=True)``, whose Q/K/V projections are plain MatMuls).
    ``token_budget`` is stored in the graph's metadata as :data:`TOKEN_BUDGET_KEY`.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(src),
            str(dst),
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather", "EmbedLayerNormalization"],
            # fused com.microsoft operators defeat shape inference: their outputs are float
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": 1},
        )
    per_row_activations(dst, token_budget)


_ROW_ZERO_POINT = 128  # symmetric int8 values, stored as uint8 around 128 (MLAS's fast U8S8 path)


def _row_quantizer(node: Any, helper: Any) -> list[Any]:
    """Nodes computing ``DynamicQuantizeLinear``'s outputs with one scale per row.

    ``scale = max(|x|) / 127`` over the last axis (shape ``(..., 1)``), from ``ReduceMax``
    and ``ReduceMin`` (two reads, no ``|x|`` tensor written), ``q = round(x / scale) + 128``
    as uint8; the zero point is the constant ``row_q.zero_point``.
    """
    x, (q, scale, _) = node.input[0], node.output
    p = f"{node.name}_row"
    return [
        helper.make_node("ReduceMax", [x], [f"{p}_hi"], name=f"{p}_hi", axes=[-1], keepdims=1),
        helper.make_node("ReduceMin", [x], [f"{p}_lo"], name=f"{p}_lo", axes=[-1], keepdims=1),
        helper.make_node("Neg", [f"{p}_lo"], [f"{p}_neg"], name=f"{p}_neg"),
        helper.make_node(
            "Max", [f"{p}_hi", f"{p}_neg", "row_q.tiny"], [f"{p}_safe"], name=f"{p}_safe"
        ),
        helper.make_node("Div", [f"{p}_safe", "row_q.levels"], [scale], name=f"{p}_scale"),
        helper.make_node("Div", ["row_q.levels", f"{p}_safe"], [f"{p}_inv"], name=f"{p}_inv"),
        helper.make_node("Mul", [x, f"{p}_inv"], [f"{p}_scaled"], name=f"{p}_scaled"),
        helper.make_node(
            "QuantizeLinear",
            [f"{p}_scaled", "row_q.one", "row_q.zero_point"],
            [q],
            name=f"{p}_quantize",
        ),
    ]


def _dequantized_matmul(node: Any, graph: Any, helper: Any) -> Any | None:
    """``MatMulInteger -> Cast -> Mul(Mul(x_scale, w_scale))`` ending at ``node`` as one
    ``MatMulIntegerToFloat`` (com.microsoft) with the per-row ``x_scale`` as ``a_scale``,
    else None. MLAS applies both scales in the GEMM's output stage: no int32 tensor is
    written, cast and scaled in three more passes. No bias is fused (onnxruntime's kernel
    gives wrong results for a per-row ``a_scale`` with a bias; the biases are in the fused
    ``MultiHeadAttention``, ``BiasGelu`` and ``SkipLayerNormalization`` after it anyway)."""
    scales = graph.producer.get(node.input[1]) if len(node.input) == 2 else None
    cast = graph.producer.get(node.input[0]) if node.input else None
    if not (
        node.op_type == "Mul"
        and scales is not None
        and cast is not None
        and scales.op_type == "Mul"
        and cast.op_type == "Cast"
        and cast.input[0] in graph.producer
        and graph.producer[cast.input[0]].op_type == "MatMulInteger"
    ):
        return None
    matmul = graph.producer[cast.input[0]]
    x_scale, w_scale = scales.input
    graph.replaced.update({id(scales), id(cast), id(matmul)})
    a, b = matmul.input[0], matmul.input[1]
    b_zero = matmul.input[3] if len(matmul.input) > 3 else ""
    inputs = [a, b, x_scale, w_scale, "row_q.zero_point", *([b_zero] if b_zero else [])]
    return helper.make_node(
        "MatMulIntegerToFloat", inputs, list(node.output), name=node.name, domain="com.microsoft"
    )


@dataclass
class _Graph:
    producer: dict[str, Any]
    replaced: set[int]


def per_row_activations(path: Path, token_budget: int | None = None) -> None:
    """Rewrite ``quantize_dynamic``'s output at ``path`` to per-row activation scales.

    Each ``DynamicQuantizeLinear`` feeding ``MatMulInteger`` becomes :func:`_row_quantizer`;
    each ``MatMulInteger -> Cast -> Mul(Mul(x_scale, w_scale))`` becomes one
    ``MatMulIntegerToFloat`` taking the per-row ``x_scale`` (:func:`_dequantized_matmul`).

    Raises:
        ModelError: the graph quantizes an activation for anything but ``MatMulInteger``.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    state = _Graph({out: node for node in graph.node for out in node.output}, set())
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    rewritten: list[Any] = []
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            users = {c.op_type for out in node.output for c in consumers.get(out, [])}
            if not users <= {"MatMulInteger", "Mul"}:
                raise ModelError(
                    f"int8: activation {node.input[0]!r} is quantized for {sorted(users)}; "
                    "only MatMulInteger can take per-row scales"
                )
            for user in consumers.get(node.output[0], []):
                user.input[2] = "row_q.zero_point"
            rewritten.extend(_row_quantizer(node, helper))
            continue
        rewritten.append(_dequantized_matmul(node, state, helper) or node)
    kept = [n for n in rewritten if id(n) not in state.replaced]
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(_ROW_ZERO_POINT, np.uint8), "row_q.zero_point"),
            numpy_helper.from_array(np.array(1.0, np.float32), "row_q.one"),
            numpy_helper.from_array(np.array(127.0, np.float32), "row_q.levels"),
            numpy_helper.from_array(np.array(1e-12, np.float32), "row_q.tiny"),
        ]
    )
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    if token_budget:
        helper.set_model_props(model, {TOKEN_BUDGET_KEY: str(token_budget)})
    onnx.save(model, str(path))


def st_onnx_module(st: Any, with_token_types: bool) -> Any:
    """sentence-transformers model -> positional module returning (token, sentence) embeddings."""
    torch = import_build_deps()

    class _Dense(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            feats = {"input_ids": input_ids, "attention_mask": attention_mask}
            if with_token_types:
                feats["token_type_ids"] = token_type_ids
            out = self.st(feats)
            return out["token_embeddings"], out["sentence_embedding"]

    return _Dense()


def hf_hidden_module(model: Any, with_token_types: bool = False) -> Any:
    """HF ``AutoModel`` -> positional module returning ``last_hidden_state``."""
    torch = import_build_deps()

    class _Hidden(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            types = token_type_ids if with_token_types else None
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=types
            ).last_hidden_state

    return _Hidden()


def sparse_module(
    mlm: Any, special_ids: Sequence[int], *, dict_io: bool, with_token_types: bool = False
) -> Any:
    """Masked-LM -> sparse weights ``(B, V)``; ``dict_io`` gives the TorchScript dict form."""
    torch = import_build_deps()
    keep = torch.ones(mlm.config.vocab_size)
    keep[list(special_ids)] = 0.0

    class _Sparse(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.mlm = mlm
            self.register_buffer("keep", keep)

        def weights(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            logits = self.mlm(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits
            values = (logits * attention_mask.unsqueeze(-1).to(logits.dtype)).max(dim=1).values
            return torch.log1p(torch.relu(values)) * self.keep

    class _SparseDict(_Sparse):
        def forward(self, features: dict[str, Any]) -> dict[str, Any]:
            ids, mask = features["input_ids"], features["attention_mask"]
            return {"output": self.weights(ids, mask, torch.zeros_like(ids))}

    class _SparsePositional(_Sparse):
        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            types = token_type_ids if with_token_types else torch.zeros_like(input_ids)
            return self.weights(input_ids, attention_mask, types)

    return _SparseDict() if dict_io else _SparsePositional()


def cross_module(model: Any) -> Any:
    """Sequence classifier -> positional module returning ``logits``."""
    torch = import_build_deps()

    class _Cross(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits

    return _Cross()


def head_module(model: Any, names: Sequence[str], outputs: Sequence[str]) -> Any:
    """A ``transformers`` task model -> positional module over ``names`` returning the
    ``outputs`` fields of its output (``logits``, or ``start_logits`` and ``end_logits``)."""
    torch = import_build_deps()
    wanted = tuple(outputs)
    keys = tuple(names)

    class _Head(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            out = self.model(**dict(zip(keys, tensors, strict=True)))
            values = tuple(getattr(out, name) for name in wanted)
            return values if len(values) > 1 else values[0]

    return _Head()
