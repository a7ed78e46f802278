"""A tiny random sentence highlighting model (OpenSearch's semantic highlighter architecture).

The highlighter is BERT plus one linear layer (two classes) over each sentence's mean token
vector; its weights are those of ``BertForTokenClassification`` (``bert.*``,
``classifier.*``), and its ``config.json`` names ``BertTaggerForSentenceExtractionWithBackoff``,
which is what ``neuralpipe model build --function question_answering`` recognises.

Example:
    >>> source = tiny_highlighter_source(tmp)  # doctest: +SKIP
    >>> json.loads((source / "config.json").read_text())["architectures"]  # doctest: +SKIP
    ['BertTaggerForSentenceExtractionWithBackoff']
"""

from __future__ import annotations

import json
from pathlib import Path

from processors.testing.tiny_task_models import HIDDEN, MAX_LENGTH, fast_tokenizer

ARCHITECTURE = "BertTaggerForSentenceExtractionWithBackoff"


def tiny_highlighter_source(root: Path, seed: int = 0, relevant_bias: float = 0.0) -> Path:
    """Write (once) ``root/sentence-highlighter/``; ``relevant_bias`` is added to the
    relevant class's bias (random weights then mark some sentences, not all)."""
    import torch
    import transformers

    dest = root / "sentence-highlighter"
    if (dest / "config.json").is_file():
        return dest
    tokenizer = fast_tokenizer("wordpiece", token_types=True)
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=37, max_position_embeddings=MAX_LENGTH + 2,
        type_vocab_size=2, initializer_range=0.2, pad_token_id=tokenizer.pad_token_id,
        id2label={0: "LABEL_0", 1: "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1},
    )  # fmt: skip
    model = transformers.BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias[1] += relevant_bias
    dest.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(str(dest))  # type: ignore[no-untyped-call]
    tokenizer.save_pretrained(str(dest))
    path = dest / "config.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved["architectures"] = [ARCHITECTURE]
    path.write_text(json.dumps(saved, indent=2), encoding="utf-8")
    return dest
