"""Plan the export of NLP task heads and DPR encoders (for :mod:`~processors.models.build.builder`).

A task zip holds the ONNX (or TorchScript) graph of the ``transformers`` task model, its
``tokenizer.json`` and the HF ``config.json`` (``id2label``/``label2id`` travel with it); the
``model_config`` keeps ``model_type``, ``model_max_length``, ``all_config`` and, for fill-mask,
``additional_config.mask_token``.

Graph conventions: inputs ``input_ids``, ``attention_mask`` (+ ``token_type_ids`` where the
model has more than one token type); outputs ``logits`` (NER ``(B, L, classes)``, fill-mask
``(B, vocab)``: the LM head over the mask token's vector only, see :func:`masked_lm_module`;
zips of revision ``task1`` have ``(B, L, vocab)``), text and zero-shot classification
``(B, classes)``) or ``start_logits``, ``end_logits`` ``(B, L)`` (question answering). DPR
encoders are TEXT_EMBEDDING models whose one output is the encoder's ``pooler_output``
(``pooling_mode: cls``, not normalized).

Example:
    >>> head_fits({"architectures": ["BertForTokenClassification"]}, FunctionName.NER)
    True
    >>> head_fits({"architectures": ["BertForMaskedLM"]}, FunctionName.NER)
    False
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from processors.errors import ModelError
from processors.models.build import export as ex
from processors.models.registration import FunctionName, ModelFormat
from processors.models.task_runtime import TaskSpec
from processors.models.tokenization import Encoded

Exporter = Callable[[ModelFormat, Path, bool], None]
HEADS: dict[FunctionName, tuple[str, tuple[str, ...]]] = {
    FunctionName.NER: ("AutoModelForTokenClassification", ("ForTokenClassification",)),
    FunctionName.FILL_MASK: ("AutoModelForMaskedLM", ("ForMaskedLM", "ForConditionalGeneration")),
    FunctionName.QUESTION_ANSWERING: (
        "AutoModelForQuestionAnswering",
        ("ForQuestionAnswering", "ForSentenceExtractionWithBackoff"),
    ),
    FunctionName.TEXT_CLASSIFICATION: (
        "AutoModelForSequenceClassification",
        ("ForSequenceClassification",),
    ),
    FunctionName.ZERO_SHOT_CLASSIFICATION: (
        "AutoModelForSequenceClassification",
        ("ForSequenceClassification",),
    ),
}
"""Per task: the ``transformers`` auto class and the architecture name endings that fit."""
DPR_ENCODERS = ("DPRContextEncoder", "DPRQuestionEncoder")
SENTENCE_HIGHLIGHTER = "ForSentenceExtractionWithBackoff"
"""The head of OpenSearch's semantic highlighter (BERT, a linear layer over each sentence's
mean token vector): exported as per-token logits (see
:mod:`processors.models.sentence_highlight`)."""


def is_sentence_highlighter(config: dict[str, Any]) -> bool:
    """Whether ``config["architectures"]`` names the sentence-highlighting head."""
    return any(str(a).endswith(SENTENCE_HIGHLIGHTER) for a in config.get("architectures") or [])


_MASK_TOKENS = ("[MASK]", "<mask>")


def head_fits(config: dict[str, Any], function: FunctionName) -> bool:
    """Whether ``config["architectures"]`` names a head that serves ``function``."""
    endings = HEADS[function][1]
    return any(str(a).endswith(endings) for a in config.get("architectures") or [])


def check_head(config: dict[str, Any], function: FunctionName, source: Path) -> None:
    """Refuse a source whose head does not serve the task, or whose label map cannot.

    Raises:
        ModelError: naming the source, its architectures and what the task needs.
    """
    if not head_fits(config, function):
        wanted = " or ".join(f"*{e}" for e in HEADS[function][1])
        raise ModelError(
            f"{source}: architectures {config.get('architectures') or []} do not fit "
            f"{function.value}, which needs a {wanted} head"
        )
    spec = TaskSpec.from_config(config, function)
    if function is FunctionName.ZERO_SHOT_CLASSIFICATION and not any(
        label.lower().startswith("entail") for label in spec.labels
    ):
        raise ModelError(
            f"{source}: zero-shot classification needs an NLI model whose id2label has an "
            f"'entailment' class; its labels are {list(spec.labels)}"
        )


def mask_token(source: Path, tokenizer_spec: dict[str, Any]) -> str:
    """The mask token: ``tokenizer_config.json``'s ``mask_token``, else ``[MASK]``/``<mask>``."""
    tok_cfg = source / "tokenizer_config.json"
    if tok_cfg.is_file():
        declared = json.loads(tok_cfg.read_text(encoding="utf-8")).get("mask_token")
        if isinstance(declared, dict):
            declared = declared.get("content")
        if isinstance(declared, str):
            return declared
    added = {t.get("content") for t in tokenizer_spec.get("added_tokens", [])}
    found = next((t for t in _MASK_TOKENS if t in added), None)
    if found is None:
        raise ModelError(f"{source}: no mask token in tokenizer_config.json or tokenizer.json")
    return found


def onnx_revision(function: FunctionName) -> str:
    """The ONNX graph revision of a task's zips (part of the build cache key): ``task2``
    for fill-mask (logits of the mask token only), ``task1`` for the others."""
    return "task2" if function is FunctionName.FILL_MASK else "task1"


def masked_lm_module(model: Any, names: Sequence[str], mask_id: int) -> Any | None:
    """A masked-LM model -> positional module over ``names`` returning ``(B, vocab)``: the LM
    head applied to the vector of each row's mask token only (``None`` where the head does
    not read the encoder's ``last_hidden_state``).

    The pipeline's graph scores every token against the whole vocabulary, although only the
    mask token's row is read: with BERT's 30,522 tokens that vocabulary product costs about as
    much as a 384 x 6 encoder. Here a forward hook on the base model keeps one vector per row,
    ``one_hot(input_ids == mask_id) @ hidden`` (exact: the other rows are multiplied by 0), so
    the head's transform and vocabulary product run once per text. A row must hold exactly
    one mask token (the runtime checks it).
    """
    torch = ex.import_build_deps()
    keys = tuple(names)
    base = model.base_model

    class _MaskedHead(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            inputs = dict(zip(keys, tensors, strict=True))
            pick = (inputs["input_ids"] == mask_id).unsqueeze(1)

            def only_mask(_module: Any, _args: Any, output: Any) -> Any:
                hidden = output["last_hidden_state"]
                output["last_hidden_state"] = torch.matmul(pick.to(hidden.dtype), hidden)
                return output

            hook = base.register_forward_hook(only_mask)
            try:
                logits = self.model(**inputs).logits
            finally:
                hook.remove()
            return logits[:, 0, :]

    module = _MaskedHead()
    probe = torch.tensor([[mask_id, mask_id + 1 if mask_id == 0 else 0, mask_id]])
    probe_inputs = {"input_ids": probe, "attention_mask": torch.ones_like(probe)}
    if "token_type_ids" in keys:
        probe_inputs["token_type_ids"] = torch.zeros_like(probe)
    with torch.no_grad():
        shape = model(**probe_inputs).logits.shape
        hook_fits = module(*(probe_inputs[k] for k in keys)).shape == (1, shape[-1])
    return module if hook_fits and shape[1] == probe.shape[1] else None


def _input_names(model: Any, config: dict[str, Any]) -> list[str]:
    params = inspect.signature(model.forward).parameters
    types = "token_type_ids" in params and int(config.get("type_vocab_size") or 0) > 1
    return ["input_ids", "attention_mask", *(["token_type_ids"] if types else [])]


def task_exporter(
    source: Path,
    function: FunctionName,
    config: dict[str, Any],
    batch: Encoded,
    fusion: ex.Fusion | None,
    mask_id: int | None = None,
) -> Exporter:
    """Export the task model of ``source`` (loaded on first use) for ``function``
    (fill-mask: with ``mask_id``, the graph of :func:`masked_lm_module`)."""
    highlighter = is_sentence_highlighter(config)
    auto_name = "AutoModelForTokenClassification" if highlighter else HEADS[function][0]

    def load() -> Any:
        ex.import_build_deps()
        import transformers

        auto = getattr(transformers, auto_name)
        with warnings.catch_warnings():  # e.g. MobileBERT's zero-size MLM projection
            warnings.simplefilter("ignore")
            return auto.from_pretrained(str(source), attn_implementation="eager")

    model = functools.cache(load)
    outputs = (
        ["start_logits", "end_logits"]
        if function is FunctionName.QUESTION_ANSWERING and not highlighter
        else ["logits"]
    )
    per_token = function in (
        FunctionName.NER,
        FunctionName.FILL_MASK,
        FunctionName.QUESTION_ANSWERING,
    )

    def export(fmt: ModelFormat, path: Path, for_int8: bool = False) -> None:
        names = _input_names(model(), config)
        masked = None
        if function is FunctionName.FILL_MASK and mask_id is not None:
            masked = masked_lm_module(model(), names, mask_id)
        module = masked or ex.head_module(model(), names, outputs)
        if fmt is ModelFormat.TORCH_SCRIPT:
            ex.trace_torchscript(module, batch, path, dict_input=False, names=names)
        else:
            sequence = outputs if per_token and masked is None else ()
            # int8: Q/K/V stay plain MatMuls (MultiHeadAttention), which quantize
            fused = dataclasses.replace(fusion, multi_head=True) if fusion and for_int8 else fusion
            ex.export_onnx(module, batch, path, names, outputs, fused, sequence_outputs=sequence)

    return export


def is_dpr(config: dict[str, Any]) -> bool:
    """A DPR context or question encoder (``config.json`` of a ``transformers`` DPR model)."""
    return config.get("model_type") == "dpr" and any(
        a in DPR_ENCODERS for a in config.get("architectures") or []
    )


def dpr_exporter(
    source: Path, config: dict[str, Any], batch: Encoded, fuse: bool = True
) -> Exporter:
    """DPR encoder -> one output ``sentence_embedding`` ``(B, H)``: its ``pooler_output`` (the
    ``[CLS]`` vector, projected when ``projection_dim`` > 0), what DPR scores by dot product;
    the ONNX graph fused as BERT's."""
    arch = next(a for a in config.get("architectures") or [] if a in DPR_ENCODERS)

    def load() -> Any:
        ex.import_build_deps()
        import transformers

        return getattr(transformers, arch).from_pretrained(str(source), attn_implementation="eager")

    model = functools.cache(load)
    # a DPR encoder is a BertModel: fused as BERT (revision dpr2; dpr1 zips were not fused)
    fusion = ex.Fusion.from_config({**config, "model_type": "bert"}) if fuse else None

    def export(fmt: ModelFormat, path: Path, for_int8: bool = False) -> None:
        names = _input_names(model(), config)
        module = ex.head_module(model(), names, ["pooler_output"])
        if fmt is ModelFormat.TORCH_SCRIPT:
            ex.trace_torchscript(module, batch, path, dict_input=False, names=names)
        else:
            # int8: Q/K/V stay plain MatMuls (MultiHeadAttention), which quantize
            fused = dataclasses.replace(fusion, multi_head=True) if fusion and for_int8 else fusion
            ex.export_onnx(module, batch, path, names, ["sentence_embedding"], fused)

    return export
