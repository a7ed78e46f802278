"""Proxy benchmark (issue #7 §4): ``neuralpipe serve`` against its baselines, in the same run.

Usage: python scripts/bench/proxy.py [--docs 1000] [--requests 2000] [--threads 8]
                                     [--rounds 3] [--clients 16] [--neural-queries 2000]
                                     [--slots N] [--max-batch 64] [--model-threads 1]
                                     [--skip passthrough|neural] [--workers N]
       python scripts/bench/proxy.py --transport h1|aiohttp|httpx [--ab-requests 400]
                                     [--rounds 3] [--docs 1000]

The machine is shared and noisy, so only ratios between numbers measured side by side mean
anything. The script starts its own proxies (``create_app`` under uvicorn with
``server_options()``, as ``neuralpipe serve`` runs it, in threads of this process, on free
ports, in front of the running node: ``NEURALPIPE_OPENSEARCH_URL``, else the local one) and
deletes its indices at the end. The load comes from unmodified opensearch-py clients
(keep-alive) in a separate process, as a real client would be: in this process their threads
would share the proxy's GIL. Direct and proxied requests come from the same clients, threads
and bodies.

1. Passthrough ``_search``: a plain ``match`` query (the shipped queries, in turn) on an index
   of ``--docs`` notes of ``scripts/data/corpus/aero-notes.jsonl`` repeated, no pipeline.
   p50: ``--requests`` sequential requests, each one sent to the node and to the proxy in turn
   (alternating which goes first). Throughput: ``--threads`` threads sending ``--requests``
   requests, direct and through the proxy alternately for ``--rounds`` rounds.
   Targets: throughput >= 80 % of direct, p50 overhead <= 1 ms.
2. ``neural`` queries (all-MiniLM-L6-v2 ONNX, ``text_embedding`` of ``mappings/combined.json``;
   the corpus indexed with vectors through ``pipelines/ingest/demo-embed.yaml``) from
   ``--clients`` concurrent clients, to a proxy with micro-batching and to one without (same
   model instance, each its own LRU cache), alternately for two rounds. The query texts are
   distinct (words of the corpus combined), so the cache never answers. Both proxies have the
   same ``--slots`` (model calls at once) and ``--model-threads`` (intra-op threads, 0: one
   per core), the defaults of ``neuralpipe serve``: without micro-batching each model call
   embeds one query, with it the queries waiting for a slot share the next call.
   Target: >= 1.5x. The model alone is timed on the same texts, one per call, as many per call
   as the merged calls held, and 16: what merging saves in the model itself (the rest of a
   request, client, proxy and node, costs about the same in both modes).
3. With ``--workers N``: the same ``neural`` load through two real ``neuralpipe serve``
   processes, ``--workers 1`` and ``--workers N`` (query cache off), alternately for two rounds.

With ``--transport``, only the A/B of the proxy's upstream client runs (``upstream_ab.py``):
passthrough GET/POST ``_search`` and ``_bulk`` through a proxy relaying with our ``H1Transport``
and through one relaying with the candidate (aiohttp or httpx's own transport), the node direct
beside them; p50/p99 and q/s at 1 and 16 clients, ratios vs h1 measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import random
import re
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from load import client_for, threaded  # the sibling module (scripts/bench/ is sys.path[0])

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "scripts" / "data" / "corpus"
DENSE = "all-minilm-l6-v2-onnx"
NO_VECTORS = {"excludes": ["text_embedding", "text_sparse"]}
PLAIN_MAPPING = {
    "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        "properties": {
            "title": {"type": "text"},
            "text": {"type": "text"},
            "topic": {"type": "keyword"},
        }
    },
}
Body = dict[str, Any]


# -- the load generator (runs in a child process) ------------------------------------------


def sequential(urls: list[str], index: str, bodies: list[Body]) -> dict[str, list[float]]:
    """Each body sent to every URL in turn (the order alternating); ms per request per URL."""
    clients = [(url, client_for(url)) for url in urls]
    times: dict[str, list[float]] = {url: [] for url in urls}
    for number, body in enumerate(bodies):
        for url, client in clients if number % 2 == 0 else clients[::-1]:
            start = time.perf_counter()
            client.search(index=index, body=body)
            times[url].append((time.perf_counter() - start) * 1000)
    return times


def concurrent(url: str, index: str, bodies: list[Body], threads: int) -> dict[str, Any]:
    """``bodies`` sent from ``threads`` threads (each its share, in order); seconds, ms each."""
    search = client_for(url).search

    def check(body: Body, response: Any) -> None:
        if not response["hits"]["hits"]:
            raise AssertionError(f"no hits for {body}")

    return threaded(bodies, threads, lambda body: search(index=index, body=body), check)


# -- setup ---------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[Body]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def index_plain(client: Any, index: str, count: int) -> None:
    from opensearchpy import helpers

    notes = read_jsonl(CORPUS / "aero-notes.jsonl")
    client.indices.create(index=index, body=PLAIN_MAPPING)
    actions = (
        {"_index": index, "_id": f"d{i}", "_source": {k: v for k, v in notes[i % len(notes)].items()
                                                      if k != "_id"}}
        for i in range(count)
    )  # fmt: skip
    helpers.bulk(client, actions, chunk_size=500, refresh=True)
    client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=300)


def index_neural(client: Any, settings: Any, index: str) -> None:
    """The corpus with vectors, as ``scripts/demo.py`` indexes it."""
    from processors import (
        BulkIndexer,
        IngestPipeline,
        create_index,
        load_ingest_pipeline,
        load_mapping,
        model_store,
        pipeline_fingerprint,
    )

    store = model_store(settings)
    create_index(client, index, load_mapping(REPO / "mappings/combined.json"), embedded=True)
    spec = load_ingest_pipeline(REPO / "pipelines/ingest/demo-embed.yaml")
    indexer = BulkIndexer(
        client, index, IngestPipeline(spec, encoders=store.get, client=client),
        fingerprint=pipeline_fingerprint(spec, describe=store.registration),
        token_stats=store.token_stats,
    )  # fmt: skip
    report = indexer.index_files([CORPUS / "aero-notes.jsonl"])
    if report.failed or not report.ok:
        raise RuntimeError(f"indexing the corpus failed: {report.ok} ok, {report.failed} failed")


def distinct_texts(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct query texts of 4-9 words drawn from the corpus."""
    notes = read_jsonl(CORPUS / "aero-notes.jsonl")
    words = sorted({w for n in notes for w in re.findall(r"[a-z]{3,}", n["text"].lower())})
    rng = random.Random(seed)
    texts: dict[str, None] = {}
    while len(texts) < count:
        texts[" ".join(rng.sample(words, rng.randint(4, 9)))] = None
    return list(texts)


def neural_body(text: str) -> Body:
    query = {"neural": {"text_embedding": {"query_text": text, "model_id": DENSE, "k": 10}}}
    return {"size": 10, "_source": NO_VECTORS, "query": query}


def match_body(text: str) -> Body:
    return {"size": 10, "query": {"match": {"text": text}}}


def model_calls(app: Any) -> tuple[int, int]:
    """``(model calls, texts)`` of the query models of ``app`` (private counters)."""
    batchers = app.state.neuralpipe.query_models._batchers.values()
    return sum(b.calls for b in batchers), sum(b.texts for b in batchers)


def model_alone(model: Any, texts: list[str], sizes: list[int]) -> dict[int, float]:
    """Texts/s of the model alone on ``texts``, for each number of texts per call in ``sizes``.

    What merging saves in the model itself; the rest of a neural request (client, proxy,
    node) costs about the same with or without micro-batching.
    """
    model.embed(texts[: max(sizes)])  # warm
    rates: dict[int, float] = {}
    for size in sizes:
        start = time.perf_counter()
        for first in range(0, len(texts), size):
            model.embed(texts[first : first + size])
        rates[size] = len(texts) / (time.perf_counter() - start)
    return rates


# -- the benchmark -------------------------------------------------------------------------


def passthrough(pool: Any, direct: str, proxy: str, index: str, args: Any) -> list[str]:
    texts = [q["text"] for q in read_jsonl(CORPUS / "queries.jsonl")]
    bodies = [match_body(texts[i % len(texts)]) for i in range(args.requests)]
    pool.submit(sequential, [direct, proxy], index, bodies[:100]).result()  # warm-up
    seq = pool.submit(sequential, [direct, proxy], index, bodies).result()
    paired = [p - d for d, p in zip(seq[direct], seq[proxy], strict=True)]
    p50 = {url: statistics.median(values) for url, values in seq.items()}
    runs: dict[str, list[float]] = {direct: [], proxy: []}
    for rnd in range(args.rounds):
        for url in (direct, proxy) if rnd % 2 == 0 else (proxy, direct):
            result = pool.submit(concurrent, url, index, bodies, args.threads).result()
            runs[url].append(result["seconds"])
    rps = {url: args.requests * len(s) / sum(s) for url, s in runs.items()}
    ratio = rps[proxy] / rps[direct]
    overhead = p50[proxy] - p50[direct]
    each = {url: " ".join(f"{args.requests / s:.0f}" for s in runs[url]) for url in runs}
    return [
        f"1. passthrough _search (match, {args.docs} docs, no pipeline)",
        f"   {'':34} {'direct':>10} {'proxy':>10} {'ratio/diff':>11}  target",
        f"   {f'p50 ms, {args.requests} sequential':34} {p50[direct]:10.2f} {p50[proxy]:10.2f} "
        f"{overhead:+10.2f}   <= +1 ms  {'ok' if overhead <= 1 else 'MISSED'}",
        f"   {'  (median of paired differences)':34} {'':10} {'':10} "
        f"{statistics.median(paired):+10.2f}",
        f"   {f'req/s, {args.threads} threads x {args.rounds} rounds':34} {rps[direct]:10.0f} "
        f"{rps[proxy]:10.0f} {ratio:10.0%}   >= 80 %   {'ok' if ratio >= 0.8 else 'MISSED'}",
        f"   {'  (per round)':34} direct {each[direct]}; proxy {each[proxy]}",
    ]


def neural(pool: Any, on: tuple[str, Any], off: tuple[str, Any], index: str,
           args: Any, model: Any) -> list[str]:  # fmt: skip
    rounds = 2
    per_run = args.neural_queries // rounds
    texts = distinct_texts(per_run * rounds + 2 * args.clients)
    warm, texts = texts[: 2 * args.clients], texts[2 * args.clients :]
    for url, _ in (on, off):  # loads the model, warms both paths (texts not reused)
        pool.submit(concurrent, url, index, [neural_body(t) for t in warm], args.clients).result()
    before = {mode: model_calls(app) for mode, (_, app) in (("on", on), ("off", off))}
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for rnd in range(rounds):
        bodies = [neural_body(t) for t in texts[rnd * per_run : (rnd + 1) * per_run]]
        order = [("on", on[0]), ("off", off[0])]
        for mode, url in order if rnd % 2 == 0 else order[::-1]:
            runs[mode].append(pool.submit(concurrent, url, index, bodies, args.clients).result())
    calls = {mode: [a - b for a, b in zip(model_calls(app), before[mode], strict=True)]
             for mode, (_, app) in (("on", on), ("off", off))}  # fmt: skip
    qps = {m: per_run * len(r) / sum(x["seconds"] for x in r) for m, r in runs.items()}
    p50 = {m: statistics.median([ms for x in r for ms in x["ms"]]) for m, r in runs.items()}
    ratio = qps["on"] / qps["off"]
    misses = {m: app.state.neuralpipe.query_models.cache_info() for m, (_, app) in
              (("on", on), ("off", off))}  # fmt: skip
    each = {m: " ".join(f"{per_run / x['seconds']:.1f}" for x in r) for m, r in runs.items()}
    texts_per_call = calls["on"][1] / max(calls["on"][0], 1)
    sizes = sorted({1, max(2, round(texts_per_call)), 16})
    alone = model_alone(model, texts[:480], sizes)
    return [
        f"2. neural queries ({DENSE}, {args.clients} concurrent clients, "
        f"{per_run * rounds} distinct texts x 2 modes)",
        f"   {'':34} {'batch off':>10} {'batch on':>10} {'ratio':>11}  target",
        f"   {'queries/s':34} {qps['off']:10.1f} {qps['on']:10.1f} {ratio:10.2f}x   >= 1.5x"
        f"    {'ok' if ratio >= 1.5 else 'MISSED'}",
        f"   {'p50 ms under load':34} {p50['off']:10.1f} {p50['on']:10.1f}",
        f"   {'  (per round, queries/s)':34} off {each['off']}; on {each['on']}",
        f"   model calls (texts): on {calls['on'][0]} ({calls['on'][1]}), "
        f"{texts_per_call:.1f} texts per call; off {calls['off'][0]} "
        f"({calls['off'][1]}); cache hits: on {misses['on']['hits']}, off {misses['off']['hits']}",
        f"   model alone (same texts, {args.model_threads or 'default'} thread(s)), texts/s by "
        f"texts per call: "
        + ", ".join(f"{n}: {rate:.1f} ({rate / alone[1]:.2f}x)" for n, rate in alone.items()),
    ]


def workers(pool: Any, upstream: str, index: str, args: Any) -> list[str]:
    """``neural`` at ``--clients`` through ``neuralpipe serve --workers 1`` and ``--workers N``
    (real processes under uvicorn's process manager, query cache off), alternately, 2 rounds."""
    import subprocess
    import sys

    import httpx

    from processors.opensearch.node import free_port

    counts = (1, args.workers)
    texts = distinct_texts(args.neural_queries + 4 * args.clients, seed=11)
    warm, texts = texts[: 4 * args.clients], texts[4 * args.clients :]
    servers: dict[int, tuple[str, Any]] = {}
    try:
        for count in counts:
            port = free_port()
            command = [str(Path(sys.executable).parent / "neuralpipe"), "serve", "--port",
                       str(port), "--upstream", upstream, "--workers", str(count),
                       "--query-cache", "0", "--log-level", "warning",
                       "--pipelines-dir", str(REPO / "pipelines")]  # fmt: skip
            servers[count] = (f"http://127.0.0.1:{port}", subprocess.Popen(command))
        for url, proc in servers.values():
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{url}/", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"neuralpipe serve at {url} did not start") from None
                time.sleep(0.5)
            # every worker loads the model on its first query: enough warm-up for each
            pool.submit(concurrent, url, index, [neural_body(t) for t in warm],
                        args.clients).result()  # fmt: skip
        per_run = len(texts) // 2
        runs: dict[int, list[dict[str, Any]]] = {c: [] for c in counts}
        for rnd in range(2):
            bodies = [neural_body(t) for t in texts[rnd * per_run : (rnd + 1) * per_run]]
            for count in counts if rnd == 0 else counts[::-1]:
                url = servers[count][0]
                runs[count].append(pool.submit(concurrent, url, index, bodies,
                                               args.clients).result())  # fmt: skip
    finally:
        for _, proc in servers.values():
            proc.terminate()
            proc.wait(60)
    qps = {c: per_run * len(r) / sum(x["seconds"] for x in r) for c, r in runs.items()}
    p50 = {c: statistics.median([ms for x in r for ms in x["ms"]]) for c, r in runs.items()}
    each = {c: " ".join(f"{per_run / x['seconds']:.1f}" for x in r) for c, r in runs.items()}
    n = args.workers
    return [
        f"3. neural through `neuralpipe serve --workers 1` vs `--workers {n}` ({DENSE}, "
        f"{args.clients} clients, {per_run * 2} distinct texts each, query cache off)",
        f"   {'':34} {'1 worker':>10} {f'{n} workers':>10} {'ratio':>11}",
        f"   {'queries/s':34} {qps[1]:10.1f} {qps[n]:10.1f} {qps[n] / qps[1]:10.2f}x",
        f"   {'p50 ms under load':34} {p50[1]:10.1f} {p50[n]:10.1f}",
        f"   {'  (per round, queries/s)':34} 1: {each[1]}; {n}: {each[n]}",
        f"   ({multiprocessing.cpu_count()} cores here, shared with the node and the clients)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=1000, help="passthrough index size")
    parser.add_argument("--requests", type=int, default=2000, help="passthrough requests per run")
    parser.add_argument("--threads", type=int, default=8, help="passthrough client threads")
    parser.add_argument("--rounds", type=int, default=3, help="passthrough throughput rounds")
    parser.add_argument("--clients", type=int, default=16, help="concurrent neural clients")
    parser.add_argument("--neural-queries", type=int, default=2000, help="distinct neural texts")
    parser.add_argument("--slots", type=int, default=None,
                        help="model calls at once, both modes (default: serve's)")  # fmt: skip
    parser.add_argument("--max-batch", type=int, default=64, help="texts per merged model call")
    parser.add_argument("--model-threads", type=int, default=1, help="intra-op threads (0: all)")
    parser.add_argument("--skip", choices=["passthrough", "neural"], help="leave a part out")
    parser.add_argument("--transport", choices=["h1", "aiohttp", "httpx"],
                        help="only the upstream-client A/B: h1 against this one")  # fmt: skip
    parser.add_argument("--ab-requests", type=int, default=400, help="requests per A/B cell")
    parser.add_argument("--workers", type=int, default=0,
                        help="also: neural, serve --workers 1 vs N")  # fmt: skip
    args = parser.parse_args()

    from processors import Settings, make_client
    from processors.opensearch.client import resolve_url
    from processors.proxy.app import (
        ProxySettings,
        create_app,
        default_models,
        default_slots,
        server_options,
    )
    from processors.testing.serving import serve

    settings = Settings()
    settings = settings.model_copy(update={"pipelines_dir": REPO / "pipelines"})
    url = resolve_url(settings)
    if settings.opensearch_username is not None:
        raise SystemExit("the load generator sends no credentials: use a node without auth")
    client = make_client(settings)
    run = uuid.uuid4().hex[:8]
    if args.transport is not None:
        return transport_main(args, settings, url, client, run)
    plain, vectors = f"bench-proxy-plain-{run}", f"bench-proxy-neural-{run}"
    args.slots = args.slots or default_slots()
    common = {"warm_models": False, "inference_slots": args.slots, "max_batch": args.max_batch,
              "model_threads": args.model_threads or None}  # fmt: skip
    on_settings = ProxySettings.from_settings(settings, url, micro_batch=True, **common)
    off_settings = ProxySettings.from_settings(settings, url, micro_batch=False, **common)
    models = default_models(on_settings)  # one model instance for both proxies
    on_app = create_app(on_settings, models=models)
    off_app = create_app(off_settings, models=models)
    spawn = multiprocessing.get_context("spawn")
    try:
        index_plain(client, plain, args.docs)
        index_neural(client, settings, vectors)
        print(f"node {url}: {plain} ({args.docs} docs), {vectors} "
              f"({client.count(index=vectors)['count']} docs with vectors)")  # fmt: skip
        with (
            serve(on_app) as on_url,
            serve(off_app) as off_url,
            ProcessPoolExecutor(1, mp_context=spawn) as pool,
        ):
            options = server_options()
            lines = [f"uvicorn loop={options['loop']} http={options['http']}; upstream "
                     f"{type(on_app.state.neuralpipe.upstream.transport).__name__}; "
                     f"inference slots {args.slots}, max batch {args.max_batch}, "
                     f"model threads {args.model_threads or 'default'}", ""]  # fmt: skip
            if args.skip != "passthrough":
                lines += [*passthrough(pool, url, on_url, plain, args), ""]
            if args.skip != "neural":
                model = models(DENSE)
                lines += neural(pool, (on_url, on_app), (off_url, off_app), vectors, args, model)
            if args.workers > 1:
                lines += ["", *workers(pool, url, vectors, args)]
    finally:
        for index in (plain, vectors):
            client.indices.delete(index=index, ignore=[404])
    print("\n" + "\n".join(lines))


def transport_main(args: Any, settings: Any, url: str, client: Any, run: str) -> None:
    """``--transport``: the upstream-client A/B alone (see ``upstream_ab.py``)."""
    from upstream_ab import transport_ab, use_transport

    from processors.proxy.app import ProxySettings, create_app
    from processors.testing.serving import serve

    plain = f"bench-proxy-plain-{run}"
    names = ["h1"] if args.transport == "h1" else ["h1", args.transport]
    apps = {}
    for name in names:
        proxy = ProxySettings.from_settings(settings, url, warm_models=False)
        apps[name] = create_app(proxy, with_registry=False)
        use_transport(apps[name], name)
    texts = [q["text"] for q in read_jsonl(CORPUS / "queries.jsonl")]
    spawn = multiprocessing.get_context("spawn")
    try:
        index_plain(client, plain, args.docs)
        print(f"node {url}: {plain} ({args.docs} docs)")
        with contextlib.ExitStack() as stack:
            targets = {"direct": url}
            for name, app in apps.items():
                targets[name] = stack.enter_context(serve(app))
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=spawn))
            lines = transport_ab(pool, targets, plain, texts, args)
    finally:
        for index in (plain, f"{plain}-bulk"):
            client.indices.delete(index=index, ignore=[404])
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
