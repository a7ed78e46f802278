"""Throughput per NLP task, ours vs the ``transformers`` pipeline on the same model and threads.

Usage: python scripts/bench/tasks.py [--texts 16] [--rounds 3] [--sizes small,base]
       [--tasks ner,fill_mask,question_answering,text_classification,zero_shot_classification,dpr]
       [--batch-sizes 1,8,32] [--threads N] [--token-budget 2048] [--no-int8] [--build-only]
       [--work DIR (default: $NEURALPIPE_HOME/bench-tasks: the built models are kept)]

Models are random-weight BERTs built here from a config (no hub): ``small`` has MiniLM-L6's
shape (hidden 384, 6 layers), ``base`` BERT-base's (hidden 768, 12 layers), both with BERT's
30,522-token vocabulary; the tokenizer is the tiny trained WordPiece of the parity tests, so
both sides see the same tokens. ``dpr`` is a DPR context encoder of the same shape (projection
0: the pooled ``[CLS]`` vector), the bi-encoder row. Sources and zips stay in ``--work``: a
second run builds nothing.

Contenders, each timed once per round on all texts, in an order that rotates round to round:

* ``ours``: ``TaskRuntime.infer`` (``DenseRuntime.embed`` for DPR), the fused fp32 ONNX graph,
  length-sorted batches under a token budget, cut where a row would carry more than 10%
  padding; ``graph_share`` is the part of its time spent inside ONNX Runtime (the rest:
  tokenization, batching, post-processing).
* ``int8`` (unless ``--no-int8``): the same task built with ``--quantize int8``; ``agreement``
  is the share of texts whose decision (entity spans, label, answer span, token; DPR: cosine
  >= 0.99) equals the fp32 build's.
* ``bound``: the fp32 graph alone (``session.run``, nothing else) on rows made only of real
  tokens: as many rows as ours feeds, each of the mean length (so the same tokens or fewer, no
  padding, attention no dearer), at its fastest way through: our fused graph or the same
  model exported unfused (ONNX Runtime's load-time fusions only; a first measurement found it
  5-7 % faster on some MiniLM-shape heads), calls one after the other on all threads or side
  by side (``run_many``, one thread each), 8, 32, all, or the token budget's rows per call
  (picked in a first pass), or ours' own wait on the graph (timed inside ``ours``' runs) where
  that is shorter. Either is ``ours`` without everything but the graph; ``theirs / bound``
  caps what ``ours`` can reach in fp32 with either export.
* theirs: the ``transformers`` pipeline of the task (``token-classification`` with
  ``aggregation_strategy: average``, ``fill-mask`` top 5, ``text-classification`` all classes,
  ``zero-shot-classification`` with 3 labels), as a user calls it, at batch size 1 (its
  default) and at each ``--batch-sizes``. ``transformers`` 5 has no extractive QA pipeline and
  no DPR one: their QA is the tokenizer + model in batches + ``select_starts_ends`` per text
  (the decoding its document QA pipeline uses), their DPR the tokenizer + model in batches
  (``pooler_output``). Both sides return the same result fields (ours asks for the same top-k)
  and use the same threads (``torch.set_num_threads`` = ONNX Runtime's intra-op).

Medians over the rounds; ratios are ``theirs / ours`` against batch size 1 and against their
best batch size. The load average before and after is printed: on a shared machine only the
ratios of one run count. One JSON line per (size, task), then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from processors import load_model
from processors.models.build.builder import build_model
from processors.models.build.quality import task_outcome
from processors.models.build.sources import plan_source
from processors.models.onnx import OnnxRunner
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import DenseRuntime
from processors.models.task_runtime import TaskRuntime
from processors.models.tokenization import input_key
from processors.settings import Settings
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


def load(root: Path, source: Path, task: str, args: Any, quantize: str | None) -> Any:
    """Build (once: the zips stay in ``root``) and load ``source`` as ``task``."""
    built = build_model(source, TASKS[task], model_id=f"bench-{source.name}",
                        formats=[ModelFormat.ONNX], cache_dir=root / "zips", yaml_dir=None,
                        quantize=quantize, model_max_length=512)[-1]  # fmt: skip
    model = load_model(built.zip_path, built.registration, cache_dir=root / "x",
                       threads=args.threads, token_budget=args.token_budget)  # fmt: skip
    if task != "dpr":
        assert isinstance(model, TaskRuntime)
        model.token_budget = args.token_budget
    else:
        assert isinstance(model, DenseRuntime)
    return model


def unfused_graph(root: Path, source: Path, task: str) -> Path:
    """The task's fp32 ONNX graph exported without our fusions (ONNX Runtime fuses what it
    can when it loads it), kept in ``root/unfused``."""
    path = root / "unfused" / f"{source.name}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        plan_source(source, TASKS[task], 512, fuse=False).export(ModelFormat.ONNX, partial, False)
        partial.rename(path)
    return path


def ours_call(model: Any, task: str) -> Timed:
    if task == "dpr":
        return lambda t: model.embed(t)
    options = OPTIONS.get(task, {})
    return lambda t: model.infer(t, options)


class GraphClock:
    """Wraps a runtime's ``runner.run`` and ``runner.run_many``: seconds spent waiting on the
    graph, and the rows and real tokens of every feed (what the bound replays)."""

    def __init__(self, model: Any) -> None:
        self.runner = model.runner
        self.inner = model.runner.run
        self.inner_many = getattr(model.runner, "run_many", None)
        self.seconds = 0.0
        self.rows = 0
        self.tokens = 0
        self._in_many = False  # run_many runs a lone batch through run: counted once
        model.runner.run = self._run
        if self.inner_many is not None:
            model.runner.run_many = self._run_many

    def _count(self, feed: dict[str, Any]) -> dict[str, Any]:
        mask = feed.get("attention_mask")
        if mask is not None:
            self.rows += int(mask.shape[0])
            self.tokens += int(mask.sum())
        return feed

    def _run(self, feed: dict[str, Any]) -> Any:
        if self._in_many:
            return self.inner(feed)
        started = time.perf_counter()
        out = self.inner(feed)
        self.seconds += time.perf_counter() - started
        self._count(feed)
        return out

    def _run_many(self, feeds: Any) -> Any:
        assert self.inner_many is not None
        self._in_many = True
        try:
            outputs = self.inner_many(self._count(f) for f in feeds)
            while True:
                started = time.perf_counter()
                out = next(outputs, None)
                self.seconds += time.perf_counter() - started
                if out is None:
                    return
                yield out
        finally:
            self._in_many = False


Graph = tuple[Callable[..., Any], Callable[..., Any] | None, tuple[str, ...]]
"""A graph's ``run``, ``run_many`` (None: it has none) and input names."""


def bound_call(graph: Graph, side_by_side: bool, rows: int, length: int, per_call: int) -> Timed:
    """``rows`` rows of ``length`` real tokens through ``graph``, ``per_call`` rows a call: one
    call after the other on all intra-op threads, or ``side_by_side`` (``run_many``: one batch
    per thread)."""
    run, run_many, names = graph
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 2000, size=(per_call, length), dtype=np.int64)
    arrays = {"input_ids": ids, "attention_mask": np.ones_like(ids),
              "token_type_ids": np.zeros_like(ids)}  # fmt: skip
    calls = [per_call] * (rows // per_call) + ([rows % per_call] if rows % per_call else [])
    feeds = [{k: arrays[input_key(k)][:n] for k in names} for n in calls]

    def go(_texts: list[str]) -> None:
        if side_by_side and run_many is not None:
            for _ in run_many(iter(feeds)):
                pass
        else:
            for feed in feeds:
                run(feed)

    return go


def pick_bound(clock_: GraphClock, graphs: dict[str, Graph], args: Any) -> tuple[str, Timed]:
    """The bound's fastest way through the graph, from one pass of each: every graph of
    ``graphs`` (the fused one of ours, the unfused export), calls one after the other or side
    by side, at 8, 32, all rows, or the token budget's rows per call."""
    rows, length = clock_.rows, max(clock_.tokens // max(clock_.rows, 1), 1)
    shapes = sorted({b for b in (8, 32, rows, args.token_budget // length)
                     if 1 <= b <= rows})  # fmt: skip
    timed = {}
    for label, graph in graphs.items():
        for side in (False, True) if graph[1] is not None else (False,):
            for b in shapes:
                fn = bound_call(graph, side, rows, length, b)
                fn([])
                name = f"{label}{' side by side' if side else ''} {rows}x{length} by {b}"
                timed[name] = (clock(fn, []), fn)
    best = min(timed, key=lambda n: timed[n][0])
    return best, timed[best][1]


def agreement(task: str, a: Any, b: Any) -> float:
    """Share of texts whose decision is the same in two results lists (DPR: cosine >= 0.99)."""
    if task == "dpr":
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1),
                                          1e-12)  # fmt: skip
        return float(np.mean(cos >= 0.99))
    same = [task_outcome(x)[0] == task_outcome(y)[0] for x, y in zip(a, b, strict=True)]
    return sum(same) / len(same)


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


SETTLE = 0.2
"""Seconds of pause before each timed call: the worker threads of the contender before (ONNX
Runtime's intra-op pools, torch's OpenMP team) spin-wait a while after their work, and on 2
cores that spinning taxes the next contender (two sessions alternating call by call: each call
~60 % slower, measured)."""


def clock(fn: Timed, texts: list[str]) -> float:
    time.sleep(SETTLE)
    started = time.perf_counter()
    fn(texts)
    return time.perf_counter() - started


def run(size: str, task: str, base_texts: list[str], root: Path, args: Any) -> dict[str, Any]:
    source = source_dir(root / "src", size, task)
    texts = masked(base_texts, "[MASK]") if task == "fill_mask" else base_texts
    model = load(root, source, task, args, None)
    contenders: dict[str, Timed] = {"ours": ours_call(model, task)}
    graph = GraphClock(model)
    quality = None
    if args.int8:
        int8 = load(root, source, task, args, "int8")
        contenders["int8"] = ours_call(int8, task)
        quality = agreement(task, contenders["ours"](texts), contenders["int8"](texts))
    for b, fn in theirs_calls(source, task, args.batch_sizes).items():
        contenders[f"bs{b}"] = fn
    for fn in contenders.values():  # warm-up: sessions, allocators, lazy imports
        fn(texts[:8])
    graph.rows = graph.tokens = 0
    contenders["ours"](texts)
    unfused = OnnxRunner(unfused_graph(root, source, task), threads=args.threads)
    graphs: dict[str, Graph] = {
        "fused": (graph.inner, graph.inner_many, model.runner.input_names),
        "unfused": (unfused.run, unfused.run_many, unfused.input_names),
    }
    bound_shape, contenders["bound"] = pick_bound(graph, graphs, args)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    in_graph: list[float] = []  # ours' own graph calls, each round
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            graph.seconds = 0.0
            times[name].append(clock(contenders[name], texts))
            if name == "ours":
                in_graph.append(graph.seconds)
    med = {name: statistics.median(t) for name, t in times.items()}
    # the bound: the faster of the real-token rows and ours' own wait on the graph
    med["bound"] = min(med["bound"], statistics.median(in_graph))
    theirs = {name: t for name, t in med.items() if name.startswith("bs")}
    best = min(theirs, key=lambda n: theirs[n])
    count = len(texts)
    row = {
        "size": size, "task": task, "texts": count, "rounds": args.rounds,
        "ours_texts_per_s": round(count / med["ours"], 2),
        "graph_share": round(sum(in_graph) / sum(times["ours"]), 3),
        "transformers_bs1_texts_per_s": round(count / med.get("bs1", float("nan")), 2),
        "transformers_best_bs": int(best[2:]),
        "transformers_best_texts_per_s": round(count / theirs[best], 2),
        "ratio_vs_bs1": round(med.get("bs1", float("nan")) / med["ours"], 2),
        "ratio_vs_best": round(theirs[best] / med["ours"], 2),
        "bound_shape": bound_shape,
        "bound_ratio_vs_best": round(theirs[best] / med["bound"], 2),
        "all_texts_per_s": {n: round(count / t, 2) for n, t in med.items()},
    }  # fmt: skip
    if args.int8:
        row["int8_ratio_vs_best"] = round(theirs[best] / med["int8"], 2)
        row["int8_vs_ours"] = round(med["ours"] / med["int8"], 2)
        row["int8_agreement"] = quality
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| shape | task | ours texts/s | in graph | transformers bs=1 | x bs=1 | transformers best "
        "(bs) | x best | fp32 graph-only bound x best | int8 x best (agreement) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        int8 = (f"{r['int8_ratio_vs_best']} ({r['int8_agreement']:.2f})"
                if "int8_ratio_vs_best" in r else "-")  # fmt: skip
        lines.append(
            f"| {r['size']} | {r['task']} | {r['ours_texts_per_s']} | "
            f"{r['graph_share']:.0%} | {r['transformers_bs1_texts_per_s']} | "
            f"{r['ratio_vs_bs1']} | {r['transformers_best_texts_per_s']} "
            f"({r['transformers_best_bs']}) | {r['ratio_vs_best']} | "
            f"{r['bound_ratio_vs_best']} | {int8} |"
        )
    return "\n".join(lines)


def cpu_name() -> str:
    """The CPU model and its AVX-512 / VNNI / BF16 flags (Linux), for the record."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                 if ln.startswith("model name")), "unknown")  # fmt: skip
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines()
                  if ln.startswith("flags")), [])  # fmt: skip
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    return f"{name} ({', '.join(f for f in wanted if f in flags)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--texts", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="small,base")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--token-budget", type=int, default=2048)
    parser.add_argument("--no-int8", dest="int8", action="store_false")
    parser.add_argument("--build-only", action="store_true",
                        help="build (or find) every model in --work, time nothing")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Settings().home / "bench-tasks",
                        help="sources and zips are kept here")  # fmt: skip
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    import torch

    torch.set_num_threads(args.threads)
    texts = passages(args.texts)
    started = time.perf_counter()
    print(json.dumps({"threads": args.threads, "load_average": os.getloadavg(),
                      "cpu": cpu_name()}), flush=True)  # fmt: skip
    rows = []
    warnings.simplefilter("ignore")
    for size in args.sizes.split(","):
        for task in args.tasks.split(","):
            if args.build_only:
                source = source_dir(args.work / "src", size, task)
                for quantize in (None, "int8") if args.int8 else (None,):
                    load(args.work, source, task, args, quantize)
                unfused_graph(args.work, source, task)
                print(json.dumps({"built": [size, task]}), flush=True)
                continue
            rows.append(run(size, task, texts, args.work, args))
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"load_average": os.getloadavg(),
                      "seconds": round(time.perf_counter() - started)}), flush=True)  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
