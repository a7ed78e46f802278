"""Ingest on Ray vs the single-process indexer, on the same corpus, in one run.

Usage: python scripts/bench/ray_ingest.py [--docs 3000] [--rounds 2] [--actors 2] [--threads 2]
                                          [--pipeline minilm-dense-int8] [--ray-address ADDR]

Each round runs three configurations into fresh indices of the node in use
(NEURALPIPE_OPENSEARCH_URL, else the local node), in an order that rotates from round to round
so a drift of the machine's load favours none; the medians of the rounds are compared:

* single: ``BulkIndexer`` (one process: a preparing thread + the bulk sender), models with
  ``--threads`` intra-op threads;
* ray-1: ``run_ray_ingest`` with one actor of ``--threads`` CPUs (the same cores as single: the
  overhead of Ray Data itself);
* ray-N: ``--actors`` actors of one CPU each (one model copy per actor: the cluster layout);
* with ``--niced``, also ray-N at Ray's default worker niceness (15), as before the fix.

Every run is timed from nothing loaded to a refreshed index: the single process loads its
models inside the time, as each Ray actor does. Ray itself (a local one, or ``--ray-address``)
is started once before the rounds and not timed. Besides the ratios it prints what Ray's
overhead is (a run's wall time minus its actors' busy time over the actors), the per-actor
throughput (documents over actor-busy seconds) and a model of N machines of this size, with the
numbers it rests on. Documents are Cranfield abstracts repeated to ``--docs``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.config.ingest_body import IngestPipelineSpec, load_ingest_pipeline
from processors.datasets.cranfield import read_cranfield_docs
from processors.indexing.bulk import BulkIndexer
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.ray_ingest import RayIngestJob, RayResources
from processors.indexing.runner import IndexReport
from processors.models.binding import model_store
from processors.opensearch.client import make_client, resolve_url
from processors.opensearch.indices import create_index, load_mapping
from processors.pipeline.ingest import IngestPipeline
from processors.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CRAN = REPO / "scripts" / "data" / "cranfield" / "cran.all.1400"
PREFIX = "bench-ray-"


@dataclass
class Bench:
    """What every run of the bench shares: the node, the corpus, the pipeline, the mapping."""

    settings: Settings
    client: Any
    corpus: Path
    docs: int
    spec: IngestPipelineSpec
    mapping: dict[str, Any]
    address: str | None

    def fresh_index(self, name: str) -> str:
        self.client.indices.delete(index=PREFIX + name, ignore=[404])
        create_index(self.client, PREFIX + name, self.mapping, embedded=True)
        return PREFIX + name

    def fingerprint(self, store: Any) -> dict[str, Any]:
        return pipeline_fingerprint(self.spec, describe=store.registration)

    def result(self, report: IndexReport, seconds: float, busy_units: int) -> dict[str, float]:
        assert report.ok == self.docs, report.as_dict()
        prepare = report.seconds["prepare"]
        return {
            "docs_s": self.docs / seconds,
            "wall_s": seconds,
            "prepare_s": prepare,
            "idle_s": max(0.0, seconds - prepare / busy_units),
            "bulk_docs_s": self.docs / max(report.seconds["bulk"], 1e-9),
        }


def write_corpus(path: Path, count: int) -> None:
    texts = [d["text"] for d in read_cranfield_docs(CRAN) if d["text"]]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"_id": f"d{i}", "text": texts[i % len(texts)]}) + "\n")


def run_single(bench: Bench, threads: int) -> dict[str, float]:
    index = bench.fresh_index("single")
    started = time.monotonic()
    store = model_store(bench.settings, spin=False, threads=threads, truncation="count")
    for step in bench.spec.steps:  # load them now, as an actor does before its first batch
        if isinstance(step.body.get("model_id"), str):
            store.get(step.body["model_id"])
    pipeline = IngestPipeline(bench.spec, encoders=store.get, client=bench.client)
    indexer = BulkIndexer(bench.client, index, pipeline, fingerprint=bench.fingerprint(store))
    report = indexer.index_files([bench.corpus])
    # the preparing thread's time is its batches' (one thread driving the model's threads)
    return bench.result(report, time.monotonic() - started, 1)


def run_ray(bench: Bench, actors: int, cpus: float) -> dict[str, float]:
    from processors.indexing.ray_datasink import run_ray_ingest

    index = bench.fresh_index(f"{actors}x{cpus:g}")
    job = RayIngestJob(
        index=index,
        settings=bench.settings.model_dump(mode="json"),
        pipeline=(bench.spec.pipeline_id, bench.spec.body),
        threads=max(1, int(cpus)),
    )
    started = time.monotonic()
    report = run_ray_ingest(
        job,
        [bench.corpus],
        resources=RayResources(actors=actors, cpus_per_actor=cpus),
        address=bench.address,
        fingerprint=bench.fingerprint(model_store(bench.settings)),
    )
    return bench.result(report, time.monotonic() - started, actors)


def run_ray_niced(bench: Bench, actors: int) -> dict[str, float]:
    """ray-N with Ray's default worker niceness (15): the A/B of the niceness fix."""
    from processors.indexing import ray_datasink, ray_ingest

    kept = ray_ingest.NOT_NICED
    ray_ingest.NOT_NICED = ray_datasink.NOT_NICED = {"env_vars": {"RAY_worker_niceness": "15"}}
    try:
        return run_ray(bench, actors, 1.0)
    finally:
        ray_ingest.NOT_NICED = ray_datasink.NOT_NICED = kept


def start_ray(address: str | None) -> None:
    import ray

    if address is None:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False, object_store_memory=512 * 1024**2)  # fmt: skip
    else:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pipeline", default="minilm-dense-int8")
    parser.add_argument("--mapping", default="dense.json")
    parser.add_argument("--threads", type=int, default=2, help="cores of single and ray-1")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--ray-address")
    parser.add_argument("--niced", action="store_true", help="also ray-N at niceness 15")
    args = parser.parse_args()

    settings = Settings()
    settings = settings.model_copy(update={"opensearch_url": resolve_url(settings)})
    client = make_client(settings, timeout=120)
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    start_ray(args.ray_address)
    many = f"ray-{args.actors}"
    runs: dict[str, list[dict[str, float]]] = {"single": [], "ray-1": [], many: []}
    configs = {
        "single": lambda b: run_single(b, args.threads),
        "ray-1": lambda b: run_ray(b, 1, float(args.threads)),
        many: lambda b: run_ray(b, args.actors, 1.0),
    }
    if args.niced:
        configs[f"{many}-nice15"] = lambda b: run_ray_niced(b, args.actors)
        runs[f"{many}-nice15"] = []
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(settings, client, Path(tmp) / "corpus.jsonl", args.docs,
                      load_ingest_pipeline(REPO / "pipelines" / "ingest" / f"{args.pipeline}.yaml"),
                      load_mapping(REPO / "mappings" / args.mapping), args.ray_address)  # fmt: skip
        write_corpus(bench.corpus, args.docs)
        names = list(configs)
        try:
            for r in range(args.rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    runs[name].append(configs[name](bench))
                done = ", ".join(f"{n} {runs[n][-1]['docs_s']:.1f} docs/s" for n in names)
                print(f"round {r + 1} ({' -> '.join(order)}): {done}", flush=True)
        finally:
            client.indices.delete(index=f"{PREFIX}*", ignore=[404])
    report(args, runs, many, load_before, time.monotonic() - began)


def report(
    args: Any, runs: dict[str, list[dict[str, float]]], many: str, load: float, took: float
) -> None:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    single = med("single", "docs_s")
    cores = os.cpu_count() or 1
    print(f"\n{args.docs} docs, pipeline {args.pipeline}, {args.rounds} interleaved round(s), "
          f"{cores} cores, load average {load:.1f} before / {os.getloadavg()[0]:.1f} after, "
          f"{took:.0f} s in all")  # fmt: skip
    for name in runs:
        pairs = zip(runs[name], runs["single"], strict=True)
        ratios = ", ".join(f"{r['docs_s'] / s['docs_s']:.2f}" for r, s in pairs)
        print(f"  {name:>7}: {med(name, 'docs_s'):7.1f} docs/s (median)  x single "
              f"{med(name, 'docs_s') / single:.2f} (per round {ratios})"
              f"; wall {med(name, 'wall_s'):.1f} s, of it not busy preparing "
              f"{med(name, 'idle_s'):.1f} s")  # fmt: skip

    def steady(name: str) -> float:  # docs/s once started: the run's fixed part taken out
        return args.docs / max(1e-9, med(name, "wall_s") - med(name, "idle_s"))

    print("projection, if the part not busy preparing is a fixed cost per run (actor start):")
    for name in list(runs)[1:]:
        fixed_s, rate = med(name, "idle_s"), steady(name)
        at = [(n, (med("single", "idle_s") + n / steady("single")) / (fixed_s + n / rate))
              for n in (10_000, 100_000)]  # fmt: skip
        print(f"  {name:>7}: steady {rate:.1f} docs/s x single {rate / steady('single'):.2f}; "
              f"fixed {fixed_s:.1f} s vs single's {med('single', 'idle_s'):.1f} s; x single at "
              + ", ".join(f"{n:,} docs {x:.2f}" for n, x in at))  # fmt: skip
    docs, busy = args.docs, med(many, "prepare_s")
    per_actor = docs / busy
    bulk = med("single", "bulk_docs_s")
    fixed = med(many, "idle_s")
    per_machine = cores * per_actor
    print(f"per actor ({many}, 1 CPU each): {per_actor:.1f} docs/s = {docs} docs / {busy:.1f} "
          f"actor-busy s; Ray's fixed cost per run (start of the actors, the last bulk): "
          f"{fixed:.1f} s")  # fmt: skip
    print(f"the node's bulk stage alone (single run): {bulk:.0f} docs/s")
    print(f"model, N machines of this size ({cores} one-CPU actors each, {per_machine:.0f} docs/s "
          f"of inference each) writing to a cluster of D data nodes like this one:")  # fmt: skip
    for n in (1, 4, 16, 64):
        inference = n * per_machine
        need = inference / bulk
        print(f"  N={n:>3}: inference {inference:8.0f} docs/s; reached = min(that, D x {bulk:.0f}"
              f" docs/s), so D >= {need:.1f} data nodes keep up; 1M documents then take "
              f"{(1e6 / inference + fixed) / 60:.1f} min")  # fmt: skip
    print(json.dumps({"docs_s": {n: med(n, "docs_s") for n in runs}, "per_actor": per_actor,
                      "bulk_docs_s": bulk, "ray_fixed_s": fixed, "runs": runs}))  # fmt: skip


if __name__ == "__main__":
    main()
