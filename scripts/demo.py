"""The main job, for now: index a small corpus with vectors and token maps into the local
node's combined index, then run a k-NN query and a rank_feature (sparse) query.

Vectors come from the deterministic hash encoder until the model runtime lands.
Usage: python scripts/demo.py [--index NAME] [--corpus FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from opensearchpy import helpers

from processors.opensearch.client import make_client
from processors.opensearch.indices import create_index, load_mapping
from processors.settings import Settings
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

REPO = Path(__file__).resolve().parent.parent

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--index", default="neuralpipe-demo")
parser.add_argument("--corpus", type=Path, default=REPO / "scripts/data/demo_docs.jsonl")
parser.add_argument("--query", default="supersonic flow through a nozzle")
args = parser.parse_args()

settings = Settings()
client = make_client(settings)
client.indices.delete(index=args.index, ignore=[404])
create_index(client, args.index, load_mapping(REPO / "mappings/combined.json"), embedded=True)
docs = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]
texts = [d["text"] for d in docs]
vectors, token_maps = HashEmbedder().embed(texts), CountSparseEncoder().encode(texts)
actions = [
    {
        "_index": args.index,
        "_id": d.pop("_id"),
        "_source": {**d, "text_embedding": v.tolist(), "text_sparse": t},
    }
    for d, v, t in zip(docs, vectors, token_maps, strict=True)
]
ok, _ = helpers.bulk(client, actions, refresh=True)
print(f"indexed {ok} documents into {args.index} at {client.transport.hosts[0]}")

query_vector = HashEmbedder().embed([args.query])[0].tolist()
query_tokens = CountSparseEncoder().encode([args.query])[0]
searches = {
    "knn (dense)": {"knn": {"text_embedding": {"vector": query_vector, "k": 3}}},
    "rank_feature (sparse)": {"bool": {"should": [
        {"rank_feature": {"field": f"text_sparse.{t}", "linear": {}, "boost": w}}
        for t, w in query_tokens.items()
    ]}},
}  # fmt: skip
for label, query in searches.items():
    hits = client.search(index=args.index, body={"size": 3, "query": query})["hits"]["hits"]
    print(f"\n{label}: {args.query!r}")
    for hit in hits:
        print(f"  {hit['_score']:.4f}  {hit['_id']}  {hit['_source']['title']}")
