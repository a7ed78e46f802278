"""Throughput per NLP task, ours vs the ``transformers`` pipeline on the same model and threads.

Usage: python scripts/bench/tasks.py [--texts 48] [--rounds 3] [--sizes small,base]
       [--tasks ner,fill_mask,question_answering,text_classification,zero_shot_classification,dpr]
       [--batch-sizes 1,8,32] [--threads N] [--token-budget 2048]

Models are random-weight BERTs built here from a config (no hub): ``small`` has MiniLM-L6's
shape (hidden 384, 6 layers), ``base`` BERT-base's (hidden 768, 12 layers), both with BERT's
30,522-token vocabulary; the tokenizer is the tiny trained WordPiece of the parity tests, so
both sides see the same tokens. ``dpr`` is a DPR context encoder of the same shape (projection
0: the pooled ``[CLS]`` vector), the bi-encoder row.

Ours: ``TaskRuntime.infer`` (``DenseRuntime.embed`` for DPR) on all texts: length-sorted
batches under a token budget, the fused ONNX graph. Theirs: the ``transformers`` pipeline of
the task (``token-classification`` with ``aggregation_strategy: average``, ``fill-mask`` top 5,
``text-classification`` all classes, ``zero-shot-classification`` with 3 labels), run once per
``--batch-sizes`` entry (1 is the pipeline's default). ``transformers`` 5 has no extractive QA
pipeline and no DPR one: their QA is the tokenizer + model in batches + ``select_starts_ends``
per text (the decoding its document QA pipeline uses), their DPR the tokenizer + model in
batches (``pooler_output``). Both sides get the same results fields (ours asks for the same
top-k) and the same number of threads (``torch.set_num_threads`` = ONNX Runtime's intra-op).

Each round times every contender once, in an order that rotates round to round; medians are
printed with the ratio ``theirs / ours`` for batch size 1 and for their best batch size. The
load average before and after is printed: on a shared machine only the ratios of one run
count. One JSON line per (size, task), then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from processors import load_model
from processors.models.build.builder import build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import DenseRuntime
from processors.models.task_runtime import TaskRuntime
from processors.testing.tiny_task_models import CORPUS, tiny_dpr_source, tiny_task_source

VOCAB = 30522
SIZES = {
    "small": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
              "intermediate_size": 1536, "max_position_embeddings": 512, "vocab_size": VOCAB},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "max_position_embeddings": 512, "vocab_size": VOCAB},
}  # fmt: skip
LABELS = ["sports", "politics", "science"]
QUESTION = "What is the speed of sound?"
TASKS = {
    "ner": FunctionName.NER,
    "fill_mask": FunctionName.FILL_MASK,
    "question_answering": FunctionName.QUESTION_ANSWERING,
    "text_classification": FunctionName.TEXT_CLASSIFICATION,
    "zero_shot_classification": FunctionName.ZERO_SHOT_CLASSIFICATION,
    "dpr": FunctionName.TEXT_EMBEDDING,
}
OPTIONS: dict[str, dict[str, Any]] = {
    "fill_mask": {"num_top_classes": 5},
    "question_answering": {"question": QUESTION},
    "text_classification": {"num_top_classes": -1},
    "zero_shot_classification": {"labels": LABELS},
}
PIPELINES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "ner": ("token-classification", {"aggregation_strategy": "average"}, {}),
    "fill_mask": ("fill-mask", {"top_k": 5}, {}),
    "text_classification": ("text-classification", {"top_k": None}, {}),
    "zero_shot_classification": ("zero-shot-classification", {}, {"candidate_labels": LABELS}),
}
Timed = Callable[[list[str]], Any]


def passages(count: int, seed: int = 7) -> list[str]:
    """Passages of 2-5 corpus sentences (30-80 tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.sample(CORPUS, rng.randint(2, 5))) for _ in range(count)]


def masked(texts: list[str], mask: str, seed: int = 7) -> list[str]:
    """Each text with one word replaced by the mask token."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        words[rng.randrange(len(words))] = mask
        out.append(" ".join(words))
    return out


def source_dir(root: Path, size: str, task: str) -> Path:
    if task == "dpr":
        return tiny_dpr_source(root, "ctx", size={**SIZES[size], "projection_dim": 0})
    return tiny_task_source(root, "bert", TASKS[task], size=SIZES[size])


def ours_call(root: Path, source: Path, task: str, args: Any) -> Timed:
    (built,) = build_model(source, TASKS[task], model_id=f"bench-{source.name}",
                           formats=[ModelFormat.ONNX], cache_dir=root / "zips", yaml_dir=None,
                           model_max_length=512)  # fmt: skip
    model = load_model(built.zip_path, built.registration, cache_dir=root / "x",
                       threads=args.threads, token_budget=args.token_budget)  # fmt: skip
    if task == "dpr":
        assert isinstance(model, DenseRuntime)
        return lambda t: model.embed(t)
    assert isinstance(model, TaskRuntime)
    model.token_budget = args.token_budget
    options = OPTIONS.get(task, {})
    return lambda t: model.infer(t, options)


def theirs_calls(source: Path, task: str, sizes: list[int]) -> dict[int, Timed]:
    """One callable per batch size: the pipeline (or, for QA and DPR, what it would do)."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
    if task in PIPELINES:
        name, init, call = PIPELINES[task]
        auto = {"ner": transformers.AutoModelForTokenClassification,
                "fill_mask": transformers.AutoModelForMaskedLM}.get(
            task, transformers.AutoModelForSequenceClassification)  # fmt: skip
        model = auto.from_pretrained(str(source)).eval()
        pipe = transformers.pipeline(name, model=model, tokenizer=tokenizer, **init)
        return {b: (lambda t, b=b: pipe(t, batch_size=b, **call)) for b in sizes}
    if task == "dpr":
        dpr = transformers.DPRContextEncoder.from_pretrained(str(source)).eval()
        return {b: (lambda t, b=b: _dpr(dpr, tokenizer, t, b)) for b in sizes}
    qa = transformers.AutoModelForQuestionAnswering.from_pretrained(str(source)).eval()
    return {b: (lambda t, b=b: _qa(qa, tokenizer, t, b)) for b in sizes}


def _dpr(model: Any, tokenizer: Any, texts: list[str], batch: int) -> list[Any]:
    import torch

    out = []
    with torch.inference_mode():
        for at in range(0, len(texts), batch):
            enc = tokenizer(texts[at : at + batch], padding=True, truncation=True,
                            return_tensors="pt")  # fmt: skip
            out.append(model(**enc).pooler_output.numpy())
    return out


def _qa(model: Any, tokenizer: Any, texts: list[str], batch: int) -> list[Any]:
    import numpy as np
    import torch
    from transformers.pipelines.document_question_answering import select_starts_ends

    answers = []
    with torch.inference_mode():
        for at in range(0, len(texts), batch):
            chunk = texts[at : at + batch]
            enc = tokenizer([QUESTION] * len(chunk), chunk, padding=True, truncation=True,
                            return_offsets_mapping=True, return_tensors="pt")  # fmt: skip
            offsets = enc.pop("offset_mapping").tolist()
            out = model(**enc)
            for row, text in enumerate(chunk):
                p_mask = np.array([[s != 1 for s in enc.sequence_ids(row)]], dtype=int)
                p_mask[0, enc["input_ids"][row].numpy() == tokenizer.cls_token_id] = 0
                starts, ends, scores, _ = select_starts_ends(
                    out.start_logits[row : row + 1].numpy(), out.end_logits[row : row + 1].numpy(),
                    p_mask, enc["attention_mask"][row : row + 1].numpy(), top_k=1,
                    max_answer_len=15)  # fmt: skip
                s, e = offsets[row][int(starts[0])][0], offsets[row][int(ends[0])][1]
                answers.append({"answer": text[s:e], "score": float(scores[0])})
    return answers


def clock(fn: Timed, texts: list[str]) -> float:
    started = time.perf_counter()
    fn(texts)
    return time.perf_counter() - started


def run(size: str, task: str, base_texts: list[str], root: Path, args: Any) -> dict[str, Any]:
    source = source_dir(root / "src", size, task)
    texts = masked(base_texts, "[MASK]") if task == "fill_mask" else base_texts
    contenders: dict[str, Timed] = {"ours": ours_call(root, source, task, args)}
    for b, fn in theirs_calls(source, task, args.batch_sizes).items():
        contenders[f"bs{b}"] = fn
    for fn in contenders.values():  # warm-up: sessions, allocators, lazy imports
        fn(texts[:8])
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(clock(contenders[name], texts))
    med = {name: statistics.median(t) for name, t in times.items()}
    theirs = {name: t for name, t in med.items() if name != "ours"}
    best = min(theirs, key=lambda n: theirs[n])
    count = len(texts)
    return {
        "size": size, "task": task, "texts": count, "rounds": args.rounds,
        "ours_texts_per_s": round(count / med["ours"], 2),
        "transformers_bs1_texts_per_s": round(count / med.get("bs1", float("nan")), 2),
        "transformers_best_bs": int(best[2:]),
        "transformers_best_texts_per_s": round(count / theirs[best], 2),
        "ratio_vs_bs1": round(med.get("bs1", float("nan")) / med["ours"], 2),
        "ratio_vs_best": round(theirs[best] / med["ours"], 2),
        "all_texts_per_s": {n: round(count / t, 2) for n, t in med.items()},
    }  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| shape | task | ours texts/s | transformers bs=1 | x bs=1 | transformers best (bs) "
        "| x best |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['task']} | {r['ours_texts_per_s']} | "
            f"{r['transformers_bs1_texts_per_s']} | {r['ratio_vs_bs1']} | "
            f"{r['transformers_best_texts_per_s']} ({r['transformers_best_bs']}) | "
            f"{r['ratio_vs_best']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--texts", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="small,base")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--token-budget", type=int, default=2048)
    parser.add_argument("--work", type=Path, help="keep sources and zips here (default: temp)")
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    import torch

    torch.set_num_threads(args.threads)
    texts = passages(args.texts)
    print(json.dumps({"threads": args.threads, "load_average": os.getloadavg()}), flush=True)
    rows = []
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="np-bench-tasks-") as tmp:
        work = args.work or Path(tmp)
        for size in args.sizes.split(","):
            for task in args.tasks.split(","):
                rows.append(run(size, task, texts, work, args))
                print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"load_average": os.getloadavg()}), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
