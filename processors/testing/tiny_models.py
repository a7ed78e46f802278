"""Tiny random-weight models for tests, built at test time (no hub access).

A small WordPiece ``tokenizer.json`` and three 2-layer BERTs (hidden size 32) saved as HF /
sentence-transformers directories, then built into OpenSearch zips through
:func:`processors.models.build.builder.build_model`, the same path users take for real models:

* ``embed``: sentence-transformers dir (BertModel + mean Pooling + Normalize), TEXT_EMBEDDING;
* ``sparse``: BertForMaskedLM, SPARSE_ENCODING;
* ``cross``: BertForSequenceClassification with one label, TEXT_SIMILARITY;
* ``tokenize``: tokenizer.json + idf.json, SPARSE_TOKENIZE.

Needs the ``build`` extra (torch, transformers, sentence-transformers).

Example:
    >>> zips = build_tiny_zips(tmp_path)  # doctest: +SKIP
    >>> zips["embed-onnx"].registration.model_format.value  # doctest: +SKIP
    'ONNX'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.models.build.builder import BuildResult, build_model
from processors.models.registration import FunctionName, ModelFormat

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a an is are was of to in on and or for with what how why when who this that it "
    "good day night hello world fox dog cat quick brown lazy jumps over flow wing air heat "
    "plate shock wave boundary layer model search vector sparse dense query text doc speed "
    "high low small large number test data paris france capital city river rain"
).split()
SUFFIXES = ["##s", "##ed", "##ing", "##er", "##ly", "##ion"]
HIDDEN = 32
MAX_LENGTH = 24


@dataclass(frozen=True)
class TinySources:
    """Directories of the tiny source models."""

    embed: Path
    sparse: Path
    cross: Path
    tokenize: Path


def tiny_vocab() -> list[str]:
    """Specials, whole words, letters and a few WordPiece continuations."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    punct = list(".,?!'-")
    return [*SPECIALS, *WORDS, *letters, *[f"##{c}" for c in letters], *SUFFIXES, *punct]


def tiny_tokenizer(max_length: int = MAX_LENGTH) -> Any:
    """A BERT-style WordPiece ``tokenizers.Tokenizer`` over :func:`tiny_vocab`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {tok: i for i, tok in enumerate(tiny_vocab())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(SPECIALS)
    tok.enable_truncation(max_length)
    return tok


def _save_tokenizer(dest: Path, tok: Any) -> None:
    tok.save(str(dest / "tokenizer.json"))
    config = {
        "tokenizer_class": "BertTokenizer",
        "model_max_length": MAX_LENGTH,
        "do_lower_case": True,
        "unk_token": "[UNK]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def _bert(kind: str, dest: Path, seed: int) -> None:
    import torch
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForSequenceClassification,
        BertModel,
    )

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=1,  # type: ignore[call-arg]
    )
    cls = {"embed": BertModel, "sparse": BertForMaskedLM, "cross": BertForSequenceClassification}
    cls[kind](config).eval().save_pretrained(str(dest))


def _sentence_transformers_files(dest: Path) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (dest / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (dest / "1_Pooling").mkdir(exist_ok=True)
    pooling = {"word_embedding_dimension": HIDDEN, "pooling_mode_mean_tokens": True}
    (dest / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    (dest / "2_Normalize").mkdir(exist_ok=True)
    st_config = {"max_seq_length": MAX_LENGTH, "do_lower_case": False}
    (dest / "sentence_bert_config.json").write_text(json.dumps(st_config), encoding="utf-8")


def build_tiny_sources(root: Path, seed: int = 0) -> TinySources:
    """Write the tiny source models under ``root`` (idempotent per directory)."""
    tok = tiny_tokenizer()
    dirs = TinySources(root / "embed", root / "sparse", root / "cross", root / "tokenize")
    for i, kind in enumerate(("embed", "sparse", "cross")):
        dest = getattr(dirs, kind)
        if not (dest / "config.json").is_file():
            dest.mkdir(parents=True, exist_ok=True)
            _bert(kind, dest, seed + i)
            _save_tokenizer(dest, tok)
    _sentence_transformers_files(dirs.embed)
    dirs.tokenize.mkdir(parents=True, exist_ok=True)
    tok.save(str(dirs.tokenize / "tokenizer.json"))
    idf = {w: round(1.0 + (i % 7) / 2, 3) for i, w in enumerate(WORDS)}
    (dirs.tokenize / "idf.json").write_text(json.dumps(idf), encoding="utf-8")
    return dirs


def build_tiny_zips(root: Path, *, quantize: bool = False) -> dict[str, BuildResult]:
    """Build every tiny model in both formats; keys like ``embed-onnx``, ``cross-torchscript``.

    With ``quantize``, the embedding and cross-encoder models also get an int8 ONNX build
    (``embed-onnx-int8``, ``cross-onnx-int8``).

    Zips and extraction go to ``root / "models"``; register bodies to ``root / "yaml"``.
    """
    src = build_tiny_sources(root / "sources")
    cache, yamls = root / "models", root / "yaml"
    both = [ModelFormat.ONNX, ModelFormat.TORCH_SCRIPT]
    jobs = [
        ("embed", src.embed, FunctionName.TEXT_EMBEDDING),
        ("sparse", src.sparse, FunctionName.SPARSE_ENCODING),
        ("cross", src.cross, FunctionName.TEXT_SIMILARITY),
    ]
    out: dict[str, BuildResult] = {}
    for key, path, function in jobs:
        quant = "int8" if quantize and function is not FunctionName.SPARSE_ENCODING else None
        for result in build_model(
            path,
            function,
            model_id=f"tiny-{key}",
            formats=both,
            cache_dir=cache,
            yaml_dir=yamls,
            quantize=quant,
        ):
            out[result.model_id.replace("tiny-", "", 1)] = result
    (tokenize,) = build_model(
        src.tokenize,
        FunctionName.SPARSE_TOKENIZE,
        model_id="tiny-tokenizer",
        cache_dir=cache,
        yaml_dir=yamls,
    )
    out["tokenize"] = tokenize
    return out
