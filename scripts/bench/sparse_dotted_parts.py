"""Doc-only ``neural_sparse`` with dotted tokens: the plugins against neuralpipe and its parts.

Usage: python scripts/bench/sparse_dotted_parts.py [--ref-url URL] [--node-url URL]
                                                   [--proxy-url URL] [--queries 100] [--rounds 3]

Needs what ``scripts/bench/vs_plugins.py --only query`` leaves behind: the reference node with
its ``vs-plugins-q`` index and a deployed ``bert-uncased`` tokenizer, neuralpipe's node with
``vs-neuralpipe-q`` (created by ``neuralpipe index create``: its dotted-feature mirror mapped),
and a proxy (``neuralpipe serve``) in front of that node. One thread; for each Cranfield query in
turn (so load swings hit every row alike): the plugins' doc-only query on the reference node,
the same through neuralpipe's proxy, the query neuralpipe sends to its node alone, the
dotted-token probe alone (``.`` in the field and in its mirror), an empty ``size: 0`` search on
the node and the same through the proxy (their difference is the proxy hop). Prints the p50 of
every row over all rounds but the first (a warm-up), and the ratio neuralpipe / plugins.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from opensearchpy import OpenSearch  # noqa: E402

from processors.datasets.cranfield import read_cranfield_queries  # noqa: E402
from processors.models.binding import model_store  # noqa: E402
from processors.pipeline.search import SearchPipeline  # noqa: E402
from processors.search.sparse_dotted import probe_body  # noqa: E402
from processors.settings import Settings  # noqa: E402

TOKENIZER = "bert-uncased-tokenizer"
OURS, THEIRS, FIELD = "vs-neuralpipe-q", "vs-plugins-q", "text_sparse"


def reference_tokenizer(ref: OpenSearch) -> str:
    """The id of the deployed ``bert-uncased`` SPARSE_TOKENIZE model on the reference node."""
    body = {"size": 100, "query": {"bool": {"must_not": {"exists": {"field": "chunk_number"}}}}}
    hits = ref.transport.perform_request("POST", "/_plugins/_ml/models/_search", body=body)
    for hit in hits["hits"]["hits"]:
        source = hit["_source"]
        if source.get("algorithm") == "SPARSE_TOKENIZE" and source.get("model_state") == "DEPLOYED":
            return str(hit["_id"])
    raise SystemExit("no deployed SPARSE_TOKENIZE model on the reference node (run vs_plugins)")


def doc_only(text: str, model_id: str) -> dict[str, Any]:
    query = {FIELD: {"query_text": text, "model_id": model_id}}
    return {"size": 10, "query": {"neural_sparse": query}}


def timed(client: OpenSearch, index: str, body: dict[str, Any]) -> float:
    """Milliseconds of one search (the body copied first: the client must not see it reused)."""
    body = json.loads(json.dumps(body))
    started = time.perf_counter()
    client.search(index=index, body=body)
    return 1000 * (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-url", default="http://127.0.0.1:9250")
    parser.add_argument("--node-url", default="http://127.0.0.1:9200")
    parser.add_argument("--proxy-url", default="http://127.0.0.1:9201")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ref, node, proxy = (OpenSearch(u, timeout=60) for u in
                        (args.ref_url, args.node_url, args.proxy_url))  # fmt: skip
    queries = read_cranfield_queries(REPO / "scripts" / "data" / "cranfield" / "cran.qry")
    texts = [q["text"] if isinstance(q, dict) else q[1] for q in queries[: args.queries]]
    theirs = reference_tokenizer(ref)
    pipeline = SearchPipeline(None, models=model_store(Settings()).get, client=node)
    sent = [pipeline.rewrite(doc_only(t, TOKENIZER), OURS) for t in texts]
    scans = sum("script_score" in json.dumps(s) for s in sent)
    print(f"{len(texts)} queries; {scans} rewritten to the script scan (the rest: rank_feature)")
    probe = probe_body([(FIELD, "."), (f"{FIELD}__np_dotted", "%2E")])
    empty = {"size": 0, "track_total_hits": False}
    rows: dict[str, list[float]] = {}
    for number in range(args.rounds):
        for i, text in enumerate(texts):
            parts: dict[str, tuple[OpenSearch, str, dict[str, Any]]] = {
                "plugins, doc-only (reference node)": (ref, THEIRS, doc_only(text, theirs)),
                "neuralpipe, doc-only (proxy)": (proxy, OURS, doc_only(text, TOKENIZER)),
                "  the rewritten query alone (node)": (node, OURS, sent[i]),
                "  the dotted-token probe alone (node)": (node, OURS, probe),
                "  empty size 0 (node)": (node, OURS, empty),
                "  empty size 0 (proxy)": (proxy, OURS, empty),
            }
            for name, (client, index, body) in parts.items():
                took = timed(client, index, body)
                if number > 0:
                    rows.setdefault(name, []).append(took)
    p50 = {name: statistics.median(times) for name, times in rows.items()}
    for name, value in p50.items():
        print(f"{name}: p50 {value:.2f} ms")
    ours, plugins = p50["neuralpipe, doc-only (proxy)"], p50["plugins, doc-only (reference node)"]
    hop = p50["  empty size 0 (proxy)"] - p50["  empty size 0 (node)"]
    print(f"proxy hop {hop:.2f} ms; neuralpipe / plugins p50: {ours / plugins:.2f}")


if __name__ == "__main__":
    main()
