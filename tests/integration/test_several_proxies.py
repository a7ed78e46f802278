"""Several proxies in front of one node share pipelines and models through it.

Two proxy processes (``tests.integration.proxy_child``: fake models, no weights) and one
``neuralpipe serve --workers 2``: a pipeline PUT on one proxy is used by the other within the
pipeline cache's refresh interval; a model registered and deployed through one serves
``neural`` on the other; one proxy killed mid-load, the other keeps answering.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import OpenSearch

from processors.opensearch.indices import load_mapping
from processors.opensearch.node import free_port
from tests.integration.proxy_child import CACHE_TTL
from tests.integration.proxy_server import (
    ALLOW_MODEL_FILES,
    drop_proxy_indices,
    stop_process,
    tiny_model_body,
    wait_answering,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:8]
ML = "/_plugins/_ml"
PREFIX, STORE = f".nptest-{RUN}-ml", f".nptest-{RUN}-pipelines"
DOCS = {"1": "wing lift at high angle of attack", "2": "boundary layer over a flat plate",
        "3": "shock waves in a supersonic nozzle"}  # fmt: skip


@pytest.fixture(scope="module")
def proxies(
    opensearch_url: str, client: Any, tmp_path_factory: pytest.TempPathFactory, model_files: Path
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for name in ("a", "b"):
            port, home = free_port(), tmp_path_factory.mktemp(f"proxy-{name}")
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.proxy_child", opensearch_url, str(port),
                 str(home), PREFIX, STORE, str(model_files)], cwd=REPO,
            )  # fmt: skip
            started.append((f"http://127.0.0.1:{port}", proc))
        for url, proc in started:
            wait_answering(url, proc)
        yield started
    finally:
        for _, proc in started:
            stop_process(proc)
        drop_proxy_indices(client, PREFIX, STORE)


@pytest.fixture(scope="module")
def corpus(proxies: list[tuple[str, Any]], client: Any) -> Iterator[str]:
    name = f"test-{RUN}"
    a = OpenSearch(hosts=[proxies[0][0]], timeout=60)
    a.ingest.put_pipeline(id=f"p-{RUN}", body={"processors": [
        {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}}]})  # fmt: skip
    a.indices.create(index=name, body=load_mapping(REPO / "mappings" / "dense.json"))
    lines: list[dict[str, Any]] = []
    for doc_id, text in DOCS.items():
        lines += [{"index": {"_index": name, "_id": doc_id}}, {"text": text}]
    assert not a.bulk(body=lines, params={"pipeline": f"p-{RUN}", "refresh": "true"})["errors"]
    yield name
    client.indices.delete(index=name, ignore=[404])
    client.ingest.delete_pipeline(id=f"p-{RUN}", ignore=[404])


def test_a_pipeline_put_on_one_proxy_is_used_by_the_other(
    proxies: list[tuple[str, Any]], corpus: str, client: Any
) -> None:
    a, b = (OpenSearch(hosts=[url], timeout=60) for url, _ in proxies)
    pipeline = f"p-{RUN}"
    b.index(index=corpus, id="x1", body={"text": "first"}, params={"pipeline": pipeline})
    assert "text_embedding" in client.get(index=corpus, id="x1")["_source"]  # b knows v1
    changed = {"processors": [{"set": {"field": "version", "value": 2}},
               {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}}]}  # fmt: skip
    assert a.ingest.put_pipeline(id=pipeline, body=changed) == {"acknowledged": True}
    put_at = time.monotonic()
    while True:
        b.index(index=corpus, id="x2", body={"text": "second"}, params={"pipeline": pipeline})
        if client.get(index=corpus, id="x2")["_source"].get("version") == 2:
            break
        assert time.monotonic() - put_at < CACHE_TTL + 2, "b still runs the old pipeline"
        time.sleep(0.1)
    assert b.ingest.get_pipeline(id=pipeline) == {pipeline: changed}
    for doc_id in ("x1", "x2"):
        client.delete(index=corpus, id=doc_id, refresh=True)


def test_a_model_deployed_through_one_proxy_serves_neural_on_the_other(
    proxies: list[tuple[str, Any]], corpus: str, model_files: Path
) -> None:
    a, b = (OpenSearch(hosts=[url], timeout=60).transport.perform_request for url, _ in proxies)
    a("PUT", "/_cluster/settings", body={"transient": ALLOW_MODEL_FILES})
    group = a("POST", f"{ML}/model_groups/_register", body={"name": f"g-{RUN}"})
    body = tiny_model_body(model_files, f"m-{RUN}", group["model_group_id"])
    task = a("POST", f"{ML}/models/_register", body=body, params={"deploy": "true"})
    model_id = a("GET", f"{ML}/tasks/{task['task_id']}")["model_id"]
    assert b("GET", f"{ML}/models/{model_id}")["model_state"] == "DEPLOYED"
    query = {"neural": {"text_embedding": {"query_text": "supersonic nozzle shock",
                                           "model_id": model_id, "k": 3}}}  # fmt: skip
    hits = b("POST", f"/{corpus}/_search", body={"query": query})["hits"]["hits"]
    assert hits[0]["_id"] == "3"


def test_one_proxy_killed_mid_load_the_other_keeps_answering(
    proxies: list[tuple[str, Any]], corpus: str
) -> None:
    (url_a, proc_a), (url_b, _) = proxies
    query = {"query": {"neural": {"text_embedding": {"query_text": "flat plate",
                                                     "model_id": "dense", "k": 3}}}}  # fmt: skip
    answers: dict[str, list[int]] = {url_a: [], url_b: []}
    stop = threading.Event()

    def load(url: str) -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                try:
                    answers[url].append(
                        http.post(f"{url}/{corpus}/_search", json=query).status_code
                    )
                except httpx.TransportError:
                    answers[url].append(-1)

    threads = [threading.Thread(target=load, args=(u,)) for u in (url_a, url_b, url_b)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.kill(proc_a.pid, signal.SIGKILL)
    killed_at = len(answers[url_b])
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert proc_a.wait(10) == -signal.SIGKILL
    assert answers[url_a] and answers[url_a][-1] == -1  # a is gone
    assert len(answers[url_b]) > killed_at + 2 and set(answers[url_b]) == {200}


def test_serve_workers_runs_processes_and_replaces_a_dead_one(opensearch_url: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "neuralpipe"), "serve", "--workers", "2", "--no-warm",
         "--port", str(port), "--upstream", opensearch_url, "--log-level", "warning"], cwd=REPO,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_answering(url, proc)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        assert httpx.get(f"{url}/_cluster/health").json()["status"] in ("green", "yellow")
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(live := _children(proc.pid)) < 2 or workers[0] in live:
            assert time.monotonic() < deadline, "uvicorn did not replace the dead worker"
            time.sleep(0.5)
        assert {httpx.get(f"{url}/").status_code for _ in range(6)} == {200}
    finally:
        stop_process(proc)
    assert not _children(proc.pid)


def _children(pid: int) -> list[int]:
    """Live worker processes (multiprocessing's spawned children) of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid and stat[0] != "Z":
            with contextlib.suppress(OSError):
                if b"spawn_main" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return sorted(found)
