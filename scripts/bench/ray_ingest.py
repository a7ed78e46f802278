"""Ingest on Ray vs the single-process indexer, on the same corpus, in one run.

Usage: python scripts/bench/ray_ingest.py [--docs 3000] [--pipeline minilm-dense-int8]
                                          [--ray-address ADDR] [--rounds 1]

Runs, interleaved (``--rounds`` times), into fresh indices of the local node:
* single: ``BulkIndexer`` (one process: a preparing thread + the bulk sender), models with
  ``--threads`` intra-op threads;
* ray-1: ``run_ray_ingest`` with one actor of ``--threads`` CPUs (the same cores as single: the
  overhead of Ray Data itself);
* ray-N: ``--actors`` actors of one CPU each (one model copy per actor).

Ray runs on a local Ray started once for the whole bench (its start is not timed), or on
``--ray-address``. Then it states a model for N machines: per-actor throughput x actors per
machine x N, capped by what the cluster's bulk ingest takes (measured here as documents per
second of the single run's bulk stage). Documents are Cranfield abstracts repeated to --docs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from processors.config.ingest_body import load_ingest_pipeline
from processors.datasets.cranfield import read_cranfield_docs
from processors.indexing.bulk import BulkIndexer
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.ray_ingest import RayIngestJob, RayResources
from processors.indexing.runner import IndexingOptions
from processors.models.binding import model_store
from processors.opensearch.client import make_client, resolve_url
from processors.opensearch.indices import create_index, load_mapping
from processors.pipeline.ingest import IngestPipeline
from processors.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CRAN = REPO / "scripts" / "data" / "cranfield" / "cran.all.1400"


def write_corpus(path: Path, count: int) -> None:
    texts = [d["text"] for d in read_cranfield_docs(CRAN) if d["text"]]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"_id": f"d{i}", "text": texts[i % len(texts)]}) + "\n")


def fresh_index(client: Any, name: str, mapping: dict[str, Any]) -> None:
    client.indices.delete(index=name, ignore=[404])
    create_index(client, name, mapping, embedded=True)


def run_single(
    settings: Settings, client: Any, args: Any, corpus: Path, mapping: dict[str, Any]
) -> dict[str, float]:
    fresh_index(client, "bench-ray-single", mapping)
    store = model_store(settings, spin=False, threads=args.threads)
    spec = load_ingest_pipeline(REPO / "pipelines" / "ingest" / f"{args.pipeline}.yaml")
    pipeline = IngestPipeline(spec, encoders=store.get, client=client)
    fingerprint = pipeline_fingerprint(spec, describe=store.registration)
    for step in spec.steps:  # load the models before timing, as an actor does in __init__
        if isinstance(step.body.get("model_id"), str):
            store.get(step.body["model_id"])
    indexer = BulkIndexer(client, "bench-ray-single", pipeline, fingerprint=fingerprint)
    started = time.monotonic()
    report = indexer.index_files([corpus])
    seconds = time.monotonic() - started
    assert report.ok == args.docs, report.as_dict()
    return {
        "docs_s": args.docs / seconds,
        "bulk_docs_s": args.docs / max(report.seconds["bulk"], 1e-9),
    }


def run_ray(
    settings: Settings,
    client: Any,
    args: Any,
    corpus: Path,
    mapping: dict[str, Any],
    actors: int,
    cpus: float,
    address: str | None,
) -> dict[str, float]:
    from processors.indexing.ray_datasink import run_ray_ingest

    index = f"bench-ray-{actors}x{cpus:g}"
    fresh_index(client, index, mapping)
    spec = load_ingest_pipeline(REPO / "pipelines" / "ingest" / f"{args.pipeline}.yaml")
    store = model_store(settings)
    fingerprint = pipeline_fingerprint(spec, describe=store.registration)
    job = RayIngestJob(
        index=index,
        settings=settings.model_dump(mode="json"),
        pipeline=(spec.pipeline_id, spec.body),
        options=IndexingOptions(),
        threads=max(1, int(cpus)),
    )
    resources = RayResources(actors=actors, cpus_per_actor=cpus)  # writes ask no CPU
    started = time.monotonic()
    report = run_ray_ingest(
        replace(job), [corpus], resources=resources, address=address, fingerprint=fingerprint
    )
    seconds = time.monotonic() - started
    assert report.ok == args.docs, report.as_dict()
    return {"docs_s": args.docs / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--pipeline", default="minilm-dense-int8")
    parser.add_argument("--mapping", default="dense.json")
    parser.add_argument("--threads", type=int, default=2, help="cores of the single run")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--ray-address")
    args = parser.parse_args()

    settings = Settings()
    settings = settings.model_copy(update={"opensearch_url": resolve_url(settings)})
    client = make_client(settings)
    mapping = load_mapping(REPO / "mappings" / args.mapping)
    import ray

    if args.ray_address is None:
        ray.init(
            num_cpus=os.cpu_count(),
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
        )
    else:
        ray.init(address=args.ray_address, logging_level="ERROR", log_to_driver=False)
    runs: dict[str, list[dict[str, float]]] = {"single": [], "ray-1": [], f"ray-{args.actors}": []}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        write_corpus(corpus, args.docs)
        for _ in range(args.rounds):
            runs["single"].append(run_single(settings, client, args, corpus, mapping))
            runs["ray-1"].append(
                run_ray(
                    settings,
                    client,
                    args,
                    corpus,
                    mapping,
                    1,
                    float(args.threads),
                    args.ray_address,
                )
            )
            runs[f"ray-{args.actors}"].append(
                run_ray(settings, client, args, corpus, mapping, args.actors, 1.0, args.ray_address)
            )
    med = {name: statistics.median(r["docs_s"] for r in rs) for name, rs in runs.items()}
    bulk_cap = statistics.median(r["bulk_docs_s"] for r in runs["single"])
    per_actor = med[f"ray-{args.actors}"] / args.actors
    actors_per_machine = os.cpu_count() or 1
    print(
        f"{args.docs} docs, pipeline {args.pipeline}, {args.rounds} round(s), "
        f"{os.cpu_count()} cores (shared machine: numbers are noisy)"
    )
    for name, value in med.items():
        print(f"  {name:>8}: {value:8.1f} docs/s   x single {value / med['single']:.2f}")
    print(
        f"  per actor (ray-{args.actors}): {per_actor:.1f} docs/s; single-process bulk stage "
        f"alone: {bulk_cap:.0f} docs/s"
    )
    print(
        "model for N machines of this size (one 1-CPU actor per core, the cluster's bulk "
        "ingest scaled with its data nodes D):"
    )
    for n in (1, 4, 16, 64):
        inference = n * actors_per_machine * per_actor
        print(
            f"  N={n:>3}: inference {inference:9.0f} docs/s; reached = min(that, "
            f"D x {bulk_cap:.0f} docs/s)"
        )
    print(json.dumps({"docs_s": med, "per_actor": per_actor, "bulk_docs_s": bulk_cap}))


if __name__ == "__main__":
    main()
