"""Throughput of the NLP task runtimes vs the ``transformers`` pipelines, per task and size.

Usage: python scripts/bench/tasks.py [--texts 128] [--sizes small,base] [--tasks ner,...]

Models are random-weight BERTs built here (no hub): ``small`` has MiniLM-L6's shape (hidden
384, 6 layers), ``base`` BERT-base's (hidden 768, 12 layers); the tokenizer is the tiny trained
WordPiece of the parity tests, so both sides see the same tokens. Ours: ``TaskRuntime.infer``
on all texts (length-sorted batches under a token budget, fused ONNX graph); theirs: the
pipeline with ``batch_size`` 32. One warm-up call each, then one timed run; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from processors import load_model
from processors.models.build.builder import build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.task_runtime import TaskRuntime
from processors.testing.tiny_task_models import CORPUS, tiny_task_source

SIZES = {
    "small": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
              "intermediate_size": 1536, "max_position_embeddings": 512},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "max_position_embeddings": 512},
}  # fmt: skip
PIPELINES = {
    FunctionName.NER: ("token-classification", {"aggregation_strategy": "average"}, {}),
    FunctionName.TEXT_CLASSIFICATION: ("text-classification", {"top_k": None}, {}),
    FunctionName.ZERO_SHOT_CLASSIFICATION: (
        "zero-shot-classification", {}, {"candidate_labels": ["sports", "politics", "science"]}),
}  # fmt: skip
OPTIONS = {FunctionName.ZERO_SHOT_CLASSIFICATION: {"labels": ["sports", "politics", "science"]}}


def texts(count: int, seed: int = 7) -> list[str]:
    """Passages of 2-5 corpus sentences (30-80 tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.sample(CORPUS, rng.randint(2, 5))) for _ in range(count)]


def reference(source: Path, function: FunctionName) -> tuple[Any, dict[str, Any]]:
    import transformers

    task, init, call = PIPELINES[function]
    auto = (transformers.AutoModelForTokenClassification if function is FunctionName.NER
            else transformers.AutoModelForSequenceClassification)  # fmt: skip
    model = auto.from_pretrained(str(source)).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
    return transformers.pipeline(task, model=model, tokenizer=tokenizer, **init), call


def run(size: str, function: FunctionName, batch: list[str], root: Path) -> dict[str, Any]:
    source = tiny_task_source(root / "src", "bert", function, size=SIZES[size])
    (built,) = build_model(source, function, model_id=f"bench-{size}", formats=[ModelFormat.ONNX],
                           cache_dir=root / "zips", yaml_dir=None,
                           model_max_length=512)  # fmt: skip
    ours = load_model(built.zip_path, built.registration, cache_dir=root / "x", threads=0)
    assert isinstance(ours, TaskRuntime)
    options = OPTIONS.get(function, {})
    ours.infer(batch[:4], options)
    started = time.perf_counter()
    ours.infer(batch, options)
    ours_s = time.perf_counter() - started
    pipe, call = reference(source, function)
    pipe(batch[:4], batch_size=32, **call)
    started = time.perf_counter()
    pipe(batch, batch_size=32, **call)
    theirs_s = time.perf_counter() - started
    return {
        "size": size, "task": function.value.lower(), "texts": len(batch),
        "ours_texts_per_s": round(len(batch) / ours_s, 1),
        "transformers_texts_per_s": round(len(batch) / theirs_s, 1),
        "ratio": round(theirs_s / ours_s, 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--sizes", default="small,base")
    parser.add_argument("--tasks", default="ner,text_classification,zero_shot_classification")
    args = parser.parse_args()
    batch = texts(args.texts)
    rows = []
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="np-bench-tasks-") as tmp:
        for size in args.sizes.split(","):
            for task in args.tasks.split(","):
                rows.append(run(size, FunctionName(task.upper()), batch, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
