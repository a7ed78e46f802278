"""``neural_sparse`` on a ``sparse_vector`` field vs on a plain ``rank_features`` field.

Usage: python scripts/bench/sparse_vector.py [--docs 10000,100000] [--queries 200]
                                             [--tokens 40] [--keep-index]

Synthetic documents (no model: the search is what is measured): each holds ``--tokens``
distinct token ids drawn Zipf-like from a 30,522-token vocabulary with random weights, the
shape of a pruned SPLADE map. The same documents go into three indices of the local node (the
two sparse_vector ones copied by ``_reindex``), each merged to one segment:

* ``plain``: ``rank_features``, searched with ``neural_sparse`` ``query_tokens``;
* ``sparse_vector``: a SEISMIC ``sparse_vector`` field as the proxy creates it, searched with
  ``method_parameters`` (``k`` 10); below the default ``approximate_threshold`` (1,000,000),
  so exact, as the plugin's fallback;
* ``sparse_vector ann``: the same with ``approximate_threshold: 0``, where the plugin would
  run SEISMIC and neuralpipe finds the exact top ``k`` first (one more search).

Queries (10 token ids each, same distribution) go through :class:`SearchPipeline` (as the proxy
runs them), the three variants interleaved query by query so drift hits all alike; p50 per
variant and its ratio to ``plain``, from the same run. The machine is shared: only the ratios
mean anything.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from opensearchpy import helpers

from processors.config.sparse_vector_mapping import to_node_body
from processors.opensearch.client import make_client
from processors.pipeline.search import SearchPipeline
from processors.settings import Settings

VOCAB = 30522
PREFIX = "bench-sparse-vector"


def _token(rng: random.Random) -> str:
    return str(min(VOCAB - 1, int(rng.paretovariate(0.8) * 50)) + rng.randrange(100))


def _vector(rng: random.Random, size: int) -> dict[str, float]:
    found: dict[str, float] = {}
    while len(found) < size:
        found[_token(rng)] = round(rng.uniform(0.05, 3.0), 4)
    return found


def _sparse_vector_body(threshold: int | None) -> dict[str, Any]:
    parameters = {} if threshold is None else {"approximate_threshold": threshold}
    method = {"name": "seismic", "parameters": parameters}
    return to_node_body({
        "settings": {"index.sparse": True, "number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {"emb": {"type": "sparse_vector", "method": method}}},
    })  # fmt: skip


def load(client: Any, docs: int, tokens: int) -> dict[str, str]:
    """The three indices with ``docs`` documents; ``{variant: index}``."""
    names = {
        "plain": f"{PREFIX}-plain-{docs}",
        "sparse_vector": f"{PREFIX}-sv-{docs}",
        "sparse_vector ann": f"{PREFIX}-sv-ann-{docs}",
    }
    for name in names.values():
        client.indices.delete(index=name, ignore_unavailable=True)
    client.indices.create(index=names["plain"], body={
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"},
        "mappings": {"properties": {"emb": {"type": "rank_features"}}},
    })  # fmt: skip
    client.indices.create(index=names["sparse_vector"], body=_sparse_vector_body(None))
    client.indices.create(index=names["sparse_vector ann"], body=_sparse_vector_body(0))
    rng = random.Random(17)
    actions = ({"_index": names["plain"], "_id": str(i), "emb": _vector(rng, tokens)}
               for i in range(docs))  # fmt: skip
    started = time.perf_counter()
    helpers.bulk(client, actions, chunk_size=2000, request_timeout=300)
    for name in names.values():
        if name != names["plain"]:
            client.reindex(body={"source": {"index": names["plain"]}, "dest": {"index": name}},
                           request_timeout=600, refresh=True)  # fmt: skip
    for name in names.values():
        client.indices.put_settings(index=name, body={"refresh_interval": "1s"})
        client.indices.refresh(index=name)
        client.indices.forcemerge(index=name, max_num_segments=1, request_timeout=600)
    print(f"loaded {docs} documents x 3 indices in {time.perf_counter() - started:.0f} s")
    return names


def measure(client: Any, names: dict[str, str], queries: int) -> dict[str, float]:
    """p50 ms per variant, interleaved query by query."""
    pipeline = SearchPipeline(None, models=lambda model_id: None, client=client)
    rng = random.Random(3)
    times: dict[str, list[float]] = {v: [] for v in names}
    for number in range(queries + 10):
        tokens = _vector(rng, 10)
        variants = list(names.items())
        rng.shuffle(variants)
        for variant, index in variants:
            params: dict[str, Any] = {"query_tokens": tokens}
            if variant != "plain":
                params["method_parameters"] = {"k": 10}
            body = {"size": 10, "query": {"neural_sparse": {"emb": params}}}
            started = time.perf_counter()
            pipeline.search(index, body)
            elapsed = (time.perf_counter() - started) * 1000
            if number >= 10:  # warm-up
                times[variant].append(elapsed)
    return {v: statistics.median(t) for v, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--keep-index", action="store_true")
    args = parser.parse_args()
    client = make_client(Settings())
    rows = []
    for docs in (int(d) for d in args.docs.split(",")):
        names = load(client, docs, args.tokens)
        try:
            p50 = measure(client, names, args.queries)
        finally:
            if not args.keep_index:
                for name in names.values():
                    client.indices.delete(index=name, ignore_unavailable=True)
        for variant, value in p50.items():
            rows.append((docs, variant, value, value / p50["plain"]))
    print("| docs | variant | p50 ms | x plain |\n|---|---|---|---|")
    for docs, variant, value, ratio in rows:
        print(f"| {docs:,} | {variant} | {value:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
