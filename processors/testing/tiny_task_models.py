"""Tiny random task models of every architecture of Elastic's third-party list (no hub).

Each is a ``transformers`` model made from a config (hidden size 32, 2 layers) with a tokenizer
trained here with ``tokenizers`` on a few sentences: WordPiece (BERT, DistilBERT, ELECTRA,
MobileBERT, MPNet, DPR, DeBERTa v2), byte-level BPE (RoBERTa, BART) or Unigram (XLM-RoBERTa,
DeBERTa v3). Weights are drawn with ``initializer_range`` 0.2 so that classes are well apart
(random heads at the default 0.02 give near-ties that float rounding could reorder).

RetriBERT is not among them: ``transformers`` 5 no longer ships it.

Example:
    >>> path = tiny_task_source(tmp, "bert", FunctionName.NER)  # doctest: +SKIP
    >>> (path / "tokenizer.json").is_file()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.models.registration import FunctionName

HIDDEN = 32
MAX_LENGTH = 64
CORPUS = [
    "Waldo is in Paris with Anna and the river flows to the sea.",
    "Elastic is headquartered in Mountain View, California.",
    "The capital of France is Paris and the weather is good today.",
    "What is the speed of sound in air at high altitude?",
    "Sound travels at about three hundred meters per second in cold air.",
    "A quick brown fox jumps over the lazy dog near the city.",
    "This example is about sports, politics, science or travel.",
    "John Smith works for the United Nations in New York.",
]
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
TC_LABELS = ["negative", "neutral", "positive"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]
TASKS = (
    FunctionName.NER,
    FunctionName.FILL_MASK,
    FunctionName.QUESTION_ANSWERING,
    FunctionName.TEXT_CLASSIFICATION,
    FunctionName.ZERO_SHOT_CLASSIFICATION,
)


@dataclass(frozen=True)
class Arch:
    """One architecture: its ``transformers`` prefix, config class, tokenizer family, tasks."""

    name: str
    prefix: str
    config: str
    tokenizer: str  # wordpiece | mpnet | bpe | unigram | unigram-cls
    tasks: tuple[FunctionName, ...] = TASKS
    extra: tuple[tuple[str, Any], ...] = ()


ARCHS = {
    a.name: a
    for a in (
        Arch("bert", "Bert", "BertConfig", "wordpiece"),
        Arch("distilbert", "DistilBert", "DistilBertConfig", "wordpiece"),
        Arch("electra", "Electra", "ElectraConfig", "wordpiece", extra=(("embedding_size", 32),)),
        Arch("mobilebert", "MobileBert", "MobileBertConfig", "wordpiece",
             extra=(("embedding_size", 32), ("intra_bottleneck_size", 32),
                    ("true_hidden_size", 32), ("num_feedforward_networks", 1))),
        Arch("mpnet", "MPNet", "MPNetConfig", "mpnet"),
        Arch("roberta", "Roberta", "RobertaConfig", "bpe"),
        Arch("xlm-roberta", "XLMRoberta", "XLMRobertaConfig", "unigram"),
        Arch("deberta-v2", "DebertaV2", "DebertaV2Config", "wordpiece"),
        Arch("deberta-v3", "DebertaV2", "DebertaV2Config", "unigram-cls"),
        Arch("bart", "Bart", "BartConfig", "bpe", tasks=(
            FunctionName.FILL_MASK, FunctionName.QUESTION_ANSWERING,
            FunctionName.TEXT_CLASSIFICATION, FunctionName.ZERO_SHOT_CLASSIFICATION)),
    )
}  # fmt: skip
"""The architectures of the seed list with a task head in ``transformers`` (DPR: see
:func:`tiny_dpr_source`)."""

SEGMENTS = ("bert", "electra", "mobilebert")
"""Architectures built with two token types (their graphs take ``token_type_ids``)."""
_HEAD = {
    FunctionName.NER: "ForTokenClassification",
    FunctionName.FILL_MASK: "ForMaskedLM",
    FunctionName.QUESTION_ANSWERING: "ForQuestionAnswering",
    FunctionName.TEXT_CLASSIFICATION: "ForSequenceClassification",
    FunctionName.ZERO_SHOT_CLASSIFICATION: "ForSequenceClassification",
}


def _specials(family: str) -> dict[str, str]:
    if family in ("wordpiece", "unigram-cls"):
        return {"cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"}
    return {"cls": "<s>", "sep": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"}


def train_tokenizer(family: str) -> Any:
    """A ``tokenizers.Tokenizer`` of the family, trained on :data:`CORPUS`."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    sp = _specials(family)
    order = ["pad", "unk", "cls", "sep", "mask"] if sp["cls"] == "[CLS]" else [
        "cls", "pad", "sep", "unk", "mask"]  # fmt: skip
    specials = [sp[k] for k in order]
    if family in ("wordpiece", "mpnet"):
        tok = Tokenizer(models.WordPiece(unk_token=sp["unk"]))
        tok.normalizer = normalizers.BertNormalizer(lowercase=family == "wordpiece")
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer: Any = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    elif family == "bpe":
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=500,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=300, special_tokens=specials, unk_token=sp["unk"]
        )
    tok.train_from_iterator(CORPUS * 3, trainer)
    cls_id, sep_id = tok.token_to_id(sp["cls"]), tok.token_to_id(sp["sep"])
    assert cls_id is not None and sep_id is not None
    if family == "bpe":
        tok.post_processor = processors.RobertaProcessing(
            (sp["sep"], sep_id), (sp["cls"], cls_id), trim_offsets=True, add_prefix_space=False
        )
    elif family in ("wordpiece", "unigram-cls"):
        tok.post_processor = processors.TemplateProcessing(
            single=f"{sp['cls']} $A {sp['sep']}",
            pair=f"{sp['cls']} $A {sp['sep']} $B:1 {sp['sep']}:1",
            special_tokens=[(sp["cls"], cls_id), (sp["sep"], sep_id)],
        )
    else:  # mpnet, xlm-roberta: <s> A </s> </s> B </s>
        tok.post_processor = processors.TemplateProcessing(
            single=f"{sp['cls']} $A {sp['sep']}",
            pair=f"{sp['cls']} $A {sp['sep']} {sp['sep']} $B {sp['sep']}",
            special_tokens=[(sp["cls"], cls_id), (sp["sep"], sep_id)],
        )
    return tok


def fast_tokenizer(family: str, token_types: bool = False) -> Any:
    """The trained tokenizer wrapped for ``transformers`` (what its pipelines take);
    ``token_types`` for models with segment embeddings (BERT, ELECTRA, MobileBERT, DPR)."""
    from transformers import PreTrainedTokenizerFast

    sp = _specials(family)
    names = ["input_ids", *(["token_type_ids"] if token_types else []), "attention_mask"]
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=train_tokenizer(family),
        model_input_names=names,
        model_max_length=MAX_LENGTH,
        cls_token=sp["cls"],
        sep_token=sp["sep"],
        pad_token=sp["pad"],
        unk_token=sp["unk"],
        mask_token=sp["mask"],
        bos_token=sp["cls"],
        eos_token=sp["sep"],
    )


def _config(arch: Arch, function: FunctionName | None, tokenizer: Any) -> Any:
    import transformers

    labels = {
        FunctionName.NER: NER_LABELS,
        FunctionName.TEXT_CLASSIFICATION: TC_LABELS,
        FunctionName.ZERO_SHOT_CLASSIFICATION: NLI_LABELS,
    }.get(function or FunctionName.FILL_MASK, ["LABEL_0", "LABEL_1"])
    common: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "max_position_embeddings": MAX_LENGTH + 2,
        "initializer_range": 0.2,
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
    }
    if arch.name == "bart":
        common.update(d_model=HIDDEN, encoder_layers=2, decoder_layers=2,
                      encoder_attention_heads=2, decoder_attention_heads=2,
                      encoder_ffn_dim=37, decoder_ffn_dim=37, init_std=0.2,
                      decoder_start_token_id=tokenizer.sep_token_id,
                      forced_eos_token_id=None)  # fmt: skip
    elif arch.name == "distilbert":
        common.update(dim=HIDDEN, n_layers=2, n_heads=2, hidden_dim=37)
    else:
        common.update(hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=37)  # fmt: skip
    if arch.name.startswith("deberta"):
        common.update(relative_attention=True, position_buckets=16, max_relative_positions=-1,
                      pos_att_type=["p2c", "c2p"], type_vocab_size=0)  # fmt: skip
    if arch.name in SEGMENTS:
        common["type_vocab_size"] = 2
    common.update(dict(arch.extra))
    return getattr(transformers, arch.config)(**common)


def tiny_task_source(
    root: Path,
    arch_name: str,
    function: FunctionName,
    seed: int = 0,
    size: dict[str, Any] | None = None,
) -> Path:
    """Write (once) ``root/<arch>-<task>/`` with the model, ``tokenizer.json`` and configs.

    ``size`` overrides config values (e.g. ``hidden_size``, ``num_hidden_layers``) for
    benchmarks with real-size shapes; the directory name then carries them.
    """
    import torch
    import transformers

    arch = ARCHS[arch_name]
    shape = "-" + "-".join(f"{k}{v}" for k, v in sorted(size.items())) if size else ""
    dest = root / f"{arch_name}-{function.value.lower()}{shape}"
    if (dest / "config.json").is_file():
        return dest
    tokenizer = fast_tokenizer(arch.tokenizer, arch.name in SEGMENTS)
    torch.manual_seed(seed)
    bart_lm = arch.name == "bart" and function is FunctionName.FILL_MASK
    head = "ForConditionalGeneration" if bart_lm else _HEAD[function]
    with warnings.catch_warnings():  # MobileBERT's MLM head has a zero-size extra projection
        warnings.simplefilter("ignore")
        config = _config(arch, function, tokenizer)
        for key, value in (size or {}).items():
            setattr(config, key, value)
        model = getattr(transformers, f"{arch.prefix}{head}")(config)
    if function is FunctionName.NER:  # fewer "O" tags: random heads still find entities
        with torch.no_grad():
            model.classifier.bias[0] = -1.0
    dest.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    return dest


def tiny_dpr_source(
    root: Path, kind: str, seed: int = 0, size: dict[str, Any] | None = None
) -> Path:
    """A tiny ``DPRContextEncoder`` (``kind="ctx"``) or ``DPRQuestionEncoder`` (``"question"``);
    ``size`` overrides config values as in :func:`tiny_task_source`."""
    import torch
    import transformers

    shape = "-" + "-".join(f"{k}{v}" for k, v in sorted(size.items())) if size else ""
    dest = root / f"dpr-{kind}{shape}"
    if (dest / "config.json").is_file():
        return dest
    tokenizer = fast_tokenizer("wordpiece", token_types=True)
    torch.manual_seed(seed)
    config = transformers.DPRConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=37, max_position_embeddings=MAX_LENGTH + 2,
        pad_token_id=tokenizer.pad_token_id, projection_dim=16 if kind == "ctx" else 0,
    )  # fmt: skip
    for key, value in (size or {}).items():
        setattr(config, key, value)
    cls = transformers.DPRContextEncoder if kind == "ctx" else transformers.DPRQuestionEncoder
    dest.mkdir(parents=True, exist_ok=True)
    cls(config).eval().save_pretrained(str(dest))  # type: ignore[no-untyped-call]
    tokenizer.save_pretrained(str(dest))
    (dest / "tiny.json").write_text(json.dumps({"kind": kind}), encoding="utf-8")
    return dest
