"""``neuralpipe index bulk --ray`` on a real local Ray cluster (a head and a second node).

The cluster is two ``ray start --block`` processes on 127.0.0.1 that this module starts and
stops itself (by their process groups, never ``ray stop``, which would stop anyone's Ray). The
ingest runs in a CLI subprocess (its own Ray driver) into the real node, with a real model
(the bundled bert-uncased SPARSE_TOKENIZE zip: fast enough for 20k documents on two cores).
One 20k run does it all (two-node cluster, bad lines dead-lettered, an actor killed mid-run),
then one ``--resume`` re-run: three Ray jobs of 20k would take minutes more on two cores.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOCS = 20_000
# Ray's token authentication, with a token of this module's own (not ~/.ray/auth_token, which a
# fresh machine lacks): the head, the worker node and every driver get it
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
PIPELINE = (
    "processors:\n"
    "  - sparse_encoding:\n"
    "      model_id: bert-uncased-tokenizer\n"
    "      field_map:\n"
    "        text: text_sparse\n"
)
MAPPING = {
    "settings": {"index": {"number_of_shards": 2, "number_of_replicas": 0}},
    "mappings": {
        "properties": {"text": {"type": "text"}, "text_sparse": {"type": "rank_features"}}
    },
}
WORDS = "wing air heat plate shock wave boundary layer flow speed high low model".split()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _descends_from(pid: int, roots: set[int]) -> bool:
    while pid > 1:
        if pid in roots:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def _ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


class LocalRay:
    """A head and one worker node, each a ``ray start --block`` in its own process group."""

    def __init__(self) -> None:
        self.temp = tempfile.mkdtemp(prefix="np-ray-", dir="/tmp")
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _start(self, *args: str) -> Path:
        log = Path(self.temp) / f"start-{len(self.procs)}.log"
        with log.open("wb") as out:
            self.procs.append(
                subprocess.Popen(
                    [_ray_bin(), "start", "--block", "--node-ip-address=127.0.0.1",
                     "--num-cpus=2", "--object-store-memory=150000000",
                     "--disable-usage-stats", *args],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=RAY_ENV,
                )
            )  # fmt: skip
        return log

    def start(self) -> None:
        # `ray start` gives a new raylet 30 s (fixed) to register with the GCS; on a loaded
        # two-core machine that can pass, so each node gets a few tries
        self._start_node("--head", f"--port={self.port}", "--include-dashboard=false",
                         f"--temp-dir={self.temp}")  # fmt: skip
        self._start_node(f"--address={self.address}")

    def _start_node(self, *args: str, tries: int = 3) -> None:
        for attempt in range(tries):
            try:
                self._wait_started(self._start(*args))
                return
            except AssertionError:
                if attempt == tries - 1:
                    raise

    def _wait_started(self, log: Path, timeout: float = 600) -> None:
        """Until ``ray start`` says the runtime started (its processes are up and joined)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if "Ray runtime started" in text:
                return
            if self.procs[-1].poll() is not None:
                break
            time.sleep(1)
        raise AssertionError(f"ray start did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def worker_pids(self, name: str) -> list[int]:
        """Processes under this cluster's ``ray start`` processes whose title names ``name``
        (Ray sets ``ray::<actor>``; workers may run in their own sessions, so by ancestry)."""
        roots = {p.pid for p in self.procs}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if name in title and _descends_from(int(entry.name), roots):
                found.append(int(entry.name))
        return found

    def stop(self) -> None:
        """SIGTERM each process group (a failed start may have left its raylet), then wait."""
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[LocalRay]:
    cluster = LocalRay()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def corpus(path: Path, count: int, bad: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(3 + i % 9))
            handle.write(json.dumps({"_id": f"d{i}", "text": f"{words} number {i}"}) + "\n")
        for i in range(bad):
            handle.write(f'{{"_id": "broken{i}", "text": \n')
    return path


def bulk(ray: LocalRay, url: str, index: str, path: Path, pipeline: Path, *args: str) -> Any:
    """``neuralpipe index bulk INDEX PATH --ray`` (two actors) as a subprocess: its own driver."""
    command = [str(Path(sys.executable).with_name("neuralpipe")), "index", "bulk", index,
               str(path), "--ray", "--ray-address", ray.address, "--actors", "2",
               "--no-progress", "--pipeline", str(pipeline), *args]  # fmt: skip
    env = {**RAY_ENV, "NEURALPIPE_OPENSEARCH_URL": url}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


def finish(proc: Any, timeout: float = 600) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    return proc.returncode, json.loads(lines[-1]) if lines else {}, err


def lost_and_extra(client: Any, index: str, expected: int) -> tuple[int, int, int]:
    """(indexed, lost, duplicated): ids missing, and documents beyond the expected ids."""
    client.indices.refresh(index=index)
    indexed = client.count(index=index)["count"]
    missing = 0
    for start in range(0, expected, 5000):
        ids = [f"d{i}" for i in range(start, min(start + 5000, expected))]
        docs = client.mget(index=index, body={"ids": ids}, params={"_source": "false"})["docs"]
        missing += sum(1 for d in docs if not d.get("found"))
    return indexed, missing, indexed - (expected - missing)


def kill_an_actor_once(ray: LocalRay, client: Any, index: str, proc: Any, at: int) -> list[int]:
    """In a thread: SIGKILL one model actor once ``at`` documents are indexed; the count then.

    The tokenizer model prepares 20k short documents in seconds: the actors are done long
    before the bulk requests are, so the kill comes as soon as the first documents are in.
    """
    killed: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            count = client.count(index=index)["count"]
            pids = ray.worker_pids("PrepareDocuments")
            if count >= at and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(count)
                return
            time.sleep(0.3)

    threading.Thread(target=watch, daemon=True).start()
    return killed


def test_20k_documents_through_two_ray_nodes_with_an_actor_killed_mid_run(
    local_ray: LocalRay, opensearch_url: str, client: Any, index_name: str, tmp_path: Path
) -> None:
    """20k documents and 3 bad lines; a model actor SIGKILLed once the first are indexed:
    every document indexed once, the bad lines dead-lettered; a --resume re-run sends nothing."""
    pipeline = tmp_path / "sparse.yaml"
    pipeline.write_text(PIPELINE)
    client.indices.create(index=index_name, body=MAPPING)
    path, dead = corpus(tmp_path / "a.jsonl", DOCS, bad=3), tmp_path / "dead.jsonl"
    run = functools.partial(bulk, local_ray, opensearch_url, index_name, path, pipeline)
    proc = run("--dead-letter", str(dead), "--batch-size", "200")
    killed = kill_an_actor_once(local_ray, client, index_name, proc, at=1)
    code, report, err = finish(proc)
    assert killed and killed[0] < DOCS, f"no actor was killed mid-run: {err[-2000:]}"
    reruns = 0
    if not (code == 1 and "3 document(s) failed" in err):
        # the run gave up (Ray ran out of retries): --resume sends what was not acknowledged
        # (the driver writes dead letters at the end: the given-up run wrote none)
        reruns = 1
        code, report, err = finish(run("--resume", "--dead-letter", str(dead)))
    assert code == 1 and "3 document(s) failed" in err, err[-3000:]
    indexed, lost, duplicated = lost_and_extra(client, index_name, DOCS)
    print(
        f"\nray fault test: sent {DOCS}, killed an actor at {killed[0]} indexed, re-runs "
        f"{reruns}, indexed {indexed}, lost {lost}, duplicated {duplicated}"
    )
    assert (indexed, lost, duplicated) == (DOCS, 0, 0)
    records = [json.loads(line) for line in dead.read_text().splitlines()]
    assert len(records) == 3 and all("not valid JSON" in r["reason"] for r in records)
    assert report["failed"] == 3 and report["seconds"]["prepare"] > 0
    stored = client.get(index=index_name, id="d11")["_source"]
    assert stored["text_sparse"]["number"] > 0  # an IDF weight (SPARSE_TOKENIZE)
    meta = client.indices.get_mapping(index=index_name)[index_name]["mappings"]["_meta"]
    assert meta["neuralpipe"]["fingerprint"]["digest"] == report["fingerprint"]
    # a re-run with --resume finds every id acknowledged: nothing embedded or sent again
    code, again, err = finish(run("--resume"))
    assert (again["ok"], again["unchanged"], again["failed"]) == (0, DOCS, 3), err[-3000:]
