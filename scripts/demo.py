"""The main job: index a corpus through a YAML ingest pipeline with real models, then search it.

1. create the index from ``mappings/combined.json`` (knn_vector + rank_features);
2. index the corpus through ``pipelines/ingest/demo-embed.yaml`` (a core ``set`` run by the
   node, all-MiniLM-L6-v2 ONNX vectors, bert-uncased IDF token weights) with the bulk indexer;
3. search it four ways -- BM25 ``match``, ``neural`` (dense), ``neural_sparse`` (doc-only
   tokenizer) and ``hybrid`` (through ``pipelines/search/hybrid-minmax.yaml``) -- print the top
   hits of a few queries and, when the queries carry judgements, MRR@10 of each way.

The default corpus ships in ``scripts/data/corpus`` (150 original notes, Apache-2.0).
Usage: python scripts/demo.py [--corpus FILE.jsonl] [--queries FILE.jsonl] [--index NAME]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from processors import (
    BulkIndexer,
    IngestPipeline,
    SearchPipeline,
    Settings,
    create_index,
    load_ingest_pipeline,
    load_mapping,
    load_search_pipeline,
    make_client,
    model_store,
    pipeline_fingerprint,
)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "scripts" / "data" / "corpus"
DENSE, SPARSE = "all-minilm-l6-v2-onnx", "bert-uncased-tokenizer"


def queries_for(text: str) -> dict[str, dict[str, Any]]:
    match = {"match": {"text": text}}
    neural = {"neural": {"text_embedding": {"query_text": text, "model_id": DENSE, "k": 10}}}
    sparse = {"neural_sparse": {"text_sparse": {"query_text": text, "model_id": SPARSE}}}
    return {
        "bm25": match,
        "neural": neural,
        "neural_sparse": sparse,
        "hybrid": {"hybrid": {"queries": [match, neural]}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS / "aero-notes.jsonl")
    parser.add_argument("--queries", type=Path, default=CORPUS / "queries.jsonl")
    parser.add_argument("--index", default="neuralpipe-demo")
    parser.add_argument("--show", type=int, default=3, help="Queries whose top hits are printed.")
    args = parser.parse_args()
    settings = Settings()
    client, store = make_client(settings), model_store(settings)

    client.indices.delete(index=args.index, ignore=[404])
    create_index(client, args.index, load_mapping(REPO / "mappings/combined.json"), embedded=True)
    spec = load_ingest_pipeline(REPO / "pipelines/ingest/demo-embed.yaml")
    indexer = BulkIndexer(
        client, args.index, IngestPipeline(spec, encoders=store.get, client=client),
        fingerprint=pipeline_fingerprint(spec, describe=store.registration),
        token_stats=store.token_stats,
    )  # fmt: skip
    report = indexer.index_files([args.corpus])
    # one segment: the approximate k-NN then searches one HNSW graph, the same every run
    client.indices.forcemerge(index=args.index, params={"max_num_segments": 1})
    client.indices.refresh(index=args.index)
    seconds = report.seconds["total"]
    print(f"indexed {report.ok} documents from {args.corpus.name} into {args.index} "
          f"({report.failed} failed, {report.tokens} tokens, {seconds:.1f} s)")  # fmt: skip

    plain = SearchPipeline(None, models=store.get, client=client)
    hybrid = SearchPipeline(
        load_search_pipeline(REPO / "pipelines/search/hybrid-minmax.yaml"),
        models=store.get, client=client,
    )  # fmt: skip
    queries = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    mrr: dict[str, list[float]] = {}
    for number, query in enumerate(queries):
        for way, dsl in queries_for(query["text"]).items():
            runner = hybrid if way == "hybrid" else plain
            hits = runner.search(args.index, {"size": 10, "query": dsl})["hits"]["hits"]
            relevant = set(query.get("relevant") or ())
            rank = next((i for i, h in enumerate(hits, 1) if h["_id"] in relevant), None)
            mrr.setdefault(way, []).append(1 / rank if rank else 0.0)
            if number < args.show:
                if way == "bm25":
                    print(f"\nquery {query['_id']}: {query['text']!r}")
                top = ", ".join(f"{h['_id']} {h['_score']:.3f}" for h in hits[:3])
                title = hits[0]["_source"].get("title", "") if hits else ""
                print(f"  {way:14} {top}   | {title}")
    if any(q.get("relevant") for q in queries):
        print(f"\nMRR@10 over {len(queries)} judged queries: " + ", ".join(
            f"{way} {sum(v) / len(v):.3f}" for way, v in mrr.items()))  # fmt: skip


if __name__ == "__main__":
    main()
