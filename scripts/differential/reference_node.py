#!/usr/bin/env python3
"""A second, *reference* OpenSearch node with the real ml-commons and neural-search plugins.

neuralpipe emulates neural-search + ml-commons in Python; this node runs the real plugins on the
same inputs so the two can be diffed (issue #8). It is started only by the differential check,
never by the main job, and never touches the shared node (``$NEURALPIPE_HOME/nodes/default``).

Everything comes from Maven Central through ``mvn``; nothing is downloaded at run time:

* the main node's layout (minimal distribution + k-NN + assembled modules) through neuralpipe's
  own :class:`~processors.opensearch.distribution.Distribution`, installed under
  ``$NEURALPIPE_HOME/reference/opensearch/<version>/``;
* ``org.opensearch.plugin:opensearch-job-scheduler`` (ml-commons extends it),
  ``org.opensearch.plugin:opensearch-ml-plugin`` and ``org.opensearch.plugin:neural-search``
  (note: *not* ``opensearch-neural-search``, which Maven Central does not have), all ``<v>.0``
  zips, installed with ``bin/opensearch-plugin install --batch``;
* the PyTorch natives that DJL would otherwise fetch from its own download host on the first
  deploy, even of an ONNX model (the ONNX Runtime engine of DJL uses PyTorch as its
  "alternative engine" for NDArray ops): ``ai.djl.pytorch:pytorch-native-cpu:2.5.1`` (classifier
  ``linux-x86_64``) and ``ai.djl.pytorch:pytorch-jni:2.5.1-0.32.0``. ml-commons 2.19 pins
  ``PYTORCH_VERSION=1.13.1`` and ``PYTORCH_PRECXX11=true``, and Maven Central has no JNI for
  1.13.1 + DJL 0.31.1, so the 2.5.1 libtorch and the 0.32.0 JNI are placed in the DJL cache dir
  under the name DJL looks for (``<data>/ml_cache/pytorch/1.13.1-cpu-precxx11-linux-x86_64/``,
  JNI as ``0.31.1-libdjl_torch.so``). DJL does not check the version of a cached libtorch.
  This is the one place where the reference differs from a stock online install (PyTorch 2.5.1
  instead of 1.13.1 for TorchScript models and for pooling ops).

ONNX zips built by neuralpipe stamp every ONNX Runtime domain in ``opset_import`` (for example
``ai.onnx.ml`` version 5), which the ONNX Runtime 1.16.3 inside ml-commons 2.19 refuses
("Opset 5 is under development ... Current official support for domain ai.onnx.ml is till
opset 3"). :func:`compat_zip` rewrites a copy with only the domains the graph uses.

Usage (after ``source scripts/bootstrap.sh``)::

    python scripts/differential/reference_node.py install
    python scripts/differential/reference_node.py start          # prints the URL
    python scripts/differential/reference_node.py register all-minilm-l6-v2-onnx
    python scripts/differential/reference_node.py check          # the first differential check
    python scripts/verify_against_reference.py                   # the whole diff (issue #8 §2)
    python scripts/differential/reference_node.py stop
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from processors.differential.compare import compare_json  # noqa: E402
from processors.opensearch.distribution import Distribution  # noqa: E402
from processors.opensearch.node import LocalNode, NodeInfo  # noqa: E402
from processors.opensearch.prereqs import java_home, maven  # noqa: E402
from processors.settings import Settings, default_home  # noqa: E402


@dataclass(frozen=True)
class ReferenceVersion:
    """What one reference version installs, all from Maven Central."""

    opensearch: str
    plugins: tuple[str, ...]  # group:artifact:version:zip, in install order
    libtorch: str  # pytorch-native jar coordinate (group:artifact:version:jar:classifier)
    jni: str  # pytorch-jni jar coordinate
    djl_dir: str  # the cache dir name DJL looks for under <data>/ml_cache/pytorch/
    djl_api: str  # DJL version of the engine jars in the ml plugin (JNI file prefix)


REFERENCES = {
    "2.19.6": ReferenceVersion(
        opensearch="2.19.6",
        plugins=(
            "org.opensearch.plugin:opensearch-job-scheduler:2.19.6.0:zip",
            "org.opensearch.plugin:opensearch-ml-plugin:2.19.6.0:zip",
            "org.opensearch.plugin:neural-search:2.19.6.0:zip",
        ),
        libtorch="ai.djl.pytorch:pytorch-native-cpu:2.5.1:jar:linux-x86_64",
        jni="ai.djl.pytorch:pytorch-jni:2.5.1-0.32.0:jar",
        djl_dir="1.13.1-cpu-precxx11-linux-x86_64",
        djl_api="0.31.1",
    ),
}
DEFAULT_VERSION = "2.19.6"
DEFAULT_PORT = 9250
DEFAULT_HEAP = "1g"

# Dynamic cluster settings for one offline node with a small heap on 2 cores.
ML_SETTINGS = {
    "plugins.ml_commons.only_run_on_ml_node": False,
    "plugins.ml_commons.native_memory_threshold": 100,
    "plugins.ml_commons.jvm_heap_memory_threshold": 100,
    "plugins.ml_commons.allow_registering_model_via_url": True,
    "plugins.ml_commons.allow_registering_model_via_local_file": True,
    "plugins.ml_commons.model_access_control_enabled": False,
}
CHUNK = 10_000_000  # upload_chunk accepts at most 10 MB a chunk


def reference_home() -> Path:
    return Path(os.environ.get("NEURALPIPE_HOME") or default_home()) / "reference"


class ReferenceNode:
    """Install, start, stop the reference node; register models on it."""

    def __init__(self, version: str = DEFAULT_VERSION, home: Path | None = None) -> None:
        if version not in REFERENCES:
            raise SystemExit(f"no reference recipe for {version}; known: {', '.join(REFERENCES)}")
        self.ref = REFERENCES[version]
        self.home = home or reference_home()
        self.settings = Settings(
            home=self.home, opensearch_url=None, opensearch_version=version,
            node_name=f"ref-{version}", node_heap=DEFAULT_HEAP, node_port=None,
        )  # fmt: skip
        self.node = LocalNode(self.settings)
        self.dist: Distribution = self.node.distribution
        self.downloads = self.home / "downloads" / version
        self.marker = self.dist.install_dir / ".neuralpipe-reference.json"

    # -- install -----------------------------------------------------------------------
    def install(self) -> dict[str, Any]:
        if self.marker.exists():
            record: dict[str, Any] = json.loads(self.marker.read_text())
            return record
        started = time.monotonic()
        self.dist.ensure_installed()
        coords = [*self.ref.plugins, self.ref.libtorch, self.ref.jni]
        self._mvn_copy(coords)
        env = {"PATH": "/usr/bin:/bin", "JAVA_HOME": str(java_home())}
        plugins_dir = self.dist.install_dir / "plugins"
        for coordinate in self.ref.plugins:
            zip_path = self.downloads / _file_name(coordinate)
            with zipfile.ZipFile(zip_path) as zf:
                props = zf.read("plugin-descriptor.properties").decode()
            name = _prop(props, "name")
            if (plugins_dir / name).exists():
                continue
            cmd = [str(self.dist.install_dir / "bin" / "opensearch-plugin"), "install", "--batch",
                   zip_path.as_uri()]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                raise SystemExit(f"installing {coordinate} failed:\n{done.stdout}{done.stderr}")
        self._extract_djl()
        record = {
            "version": self.ref.opensearch,
            "plugins": list(self.ref.plugins),
            "djl": [self.ref.libtorch, self.ref.jni],
            "install_s": round(time.monotonic() - started, 1),
        }
        self.marker.write_text(json.dumps(record, indent=2))
        return record

    def _mvn_copy(self, coordinates: list[str]) -> None:
        if all((self.downloads / _file_name(c)).exists() for c in coordinates):
            return
        self.downloads.mkdir(parents=True, exist_ok=True)
        repo = self.home / "maven-repo"
        for coordinate in coordinates:
            if (self.downloads / _file_name(coordinate)).exists():
                continue
            cmd = [maven(), "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}",
                   f"-DoutputDirectory={self.downloads}", f"-Dmaven.repo.local={repo}"]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"mvn could not fetch {coordinate}:\n{done.stdout[-3000:]}")

    @property
    def _djl_cache(self) -> Path:
        return self.home / "djl" / f"{self.ref.djl_dir}-{_file_name(self.ref.jni)}"

    def _extract_djl(self) -> None:
        target = self._djl_cache
        if (target / "libtorch.so").exists():
            return
        tmp = Path(tempfile.mkdtemp(dir=self.home, prefix=".djl-"))
        with zipfile.ZipFile(self.downloads / _file_name(self.ref.libtorch)) as zf:
            for info in zf.infolist():
                if info.filename.startswith("pytorch/cpu/linux-x86_64/") and not info.is_dir():
                    (tmp / Path(info.filename).name).write_bytes(zf.read(info))
        with zipfile.ZipFile(self.downloads / _file_name(self.ref.jni)) as zf:
            lib = zf.read("jnilib/linux-x86_64/cpu/libdjl_torch.so")  # the cxx11 ABI, like libtorch
            (tmp / f"{self.ref.djl_api}-libdjl_torch.so").write_bytes(lib)
        for entry in tmp.iterdir():
            entry.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(target)

    def _seed_ml_cache(self) -> None:
        dest = self.node.state_dir / "data" / "ml_cache" / "pytorch" / self.ref.djl_dir
        if (dest / "libtorch.so").exists():
            return
        dest.mkdir(parents=True, exist_ok=True)
        for entry in self._djl_cache.iterdir():
            try:
                os.link(entry, dest / entry.name)
            except OSError:
                shutil.copy2(entry, dest / entry.name)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, port: int | None = DEFAULT_PORT, heap: str = DEFAULT_HEAP) -> NodeInfo:
        running = self.node.running()
        if running:
            return running
        self.install()
        self._seed_ml_cache()  # _prepare_state (in start) chowns the state dir to the node user
        info = self.node.start(port=_settled_port(port), heap=heap, timeout=240)
        done = requests.put(f"{info.url}/_cluster/settings",
                            json={"persistent": ML_SETTINGS}, timeout=30)  # fmt: skip
        done.raise_for_status()
        return info

    def stop(self) -> bool:
        return self.node.stop()

    def url(self) -> str:
        info = self.node.running()
        if not info:
            raise SystemExit("the reference node is not running: run `start` first")
        return info.url

    # -- models ------------------------------------------------------------------------
    def register(self, model: str, pipelines_dir: Path = REPO / "pipelines") -> str:
        """Register + deploy ``pipelines/models/<model>.yaml``'s zip via upload_chunk (no
        network); idempotent per zip content. Returns the reference node's model id."""
        url = self.url()
        body = yaml.safe_load((pipelines_dir / "models" / f"{model}.yaml").read_text())
        if body.get("function_name") == "SPARSE_ENCODING":
            # ml-commons 2.19 parses any model_config as a TextEmbeddingModelConfig and refuses
            # one without embedding_dimension ("embedding dimension is null"); neuralpipe's
            # registry accepts it (a known difference, see verify_against_reference.py).
            body.pop("model_config", None)
        zip_name = str(body.pop("url")).removeprefix("file:")
        models_home = Path(os.environ.get("NEURALPIPE_HOME") or default_home()) / "models"
        zip_path = Path(zip_name) if Path(zip_name).is_absolute() else models_home / zip_name
        data = compat_zip(zip_path.read_bytes()) if body.get("model_format") == "ONNX" else (
            zip_path.read_bytes())  # fmt: skip
        digest = hashlib.sha256(data).hexdigest()
        known = self._models()
        entry = known.get(model)
        if entry and entry.get("sha256") == digest and self._ensure_ready(url, entry["model_id"]):
            return str(entry["model_id"])
        body.update(
            model_content_hash_value=digest, model_content_size_in_bytes=len(data),
            total_chunks=(len(data) + CHUNK - 1) // CHUNK,
        )  # fmt: skip
        # _register_meta, not _register: a `name` that matches an OpenSearch pretrained model
        # makes _register fetch it from the pretrained-model host (fails offline).
        meta = requests.post(f"{url}/_plugins/_ml/models/_register_meta", json=body, timeout=60)
        meta.raise_for_status()
        model_id = meta.json()["model_id"]
        for i in range(body["total_chunks"]):
            chunk = data[i * CHUNK : (i + 1) * CHUNK]
            # upload_chunk takes the raw bytes; the REST layer only accepts a JSON/YAML/CBOR/
            # SMILE content type (application/octet-stream: 406), so JSON it is.
            up = requests.post(f"{url}/_plugins/_ml/models/{model_id}/upload_chunk/{i}",
                               data=chunk, headers={"Content-Type": "application/json"},
                               timeout=120)  # fmt: skip
            up.raise_for_status()
        self._deploy(url, model_id)
        known[model] = {"model_id": model_id, "sha256": digest}
        (self.node.state_dir / "models.json").write_text(json.dumps(known, indent=2))
        return str(model_id)

    def _models(self) -> dict[str, dict[str, str]]:
        path = self.node.state_dir / "models.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _ensure_ready(self, url: str, model_id: str, wait: float = 180) -> bool:
        """True once ``model_id`` answers ``_predict`` (deploying it again if needed); False if
        the node does not know it. After a restart ml-commons redeploys on its own
        (``DEPLOYING``) and the model index may still say ``DEPLOYED`` before the model is
        loaded, so readiness is judged by a real prediction."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            got = requests.get(f"{url}/_plugins/_ml/models/{model_id}", timeout=30)
            if got.status_code != 200:
                return False
            probe = requests.post(f"{url}/_plugins/_ml/models/{model_id}/_predict",
                                  json={"text_docs": ["ok"]}, timeout=60)  # fmt: skip
            if probe.status_code == 200:
                return True
            if got.json().get("model_state") != "DEPLOYING":
                # may fail with "Duplicate deploy model task" while the node's own redeploy
                # runs; the next round's probe decides
                self._deploy(url, model_id, must=False)
            time.sleep(2)
        raise SystemExit(f"model {model_id} not ready after {wait}s")

    @staticmethod
    def _deploy(url: str, model_id: str, timeout: float = 300, must: bool = True) -> bool:
        task = requests.post(f"{url}/_plugins/_ml/models/{model_id}/_deploy", timeout=60)
        if task.status_code != 200 and not must:
            return False
        task.raise_for_status()
        task_id = task.json()["task_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = requests.get(f"{url}/_plugins/_ml/tasks/{task_id}", timeout=30).json()
            if state.get("state") == "COMPLETED":
                return True
            if state.get("state") in ("FAILED", "COMPLETED_WITH_ERROR"):
                if not must:
                    return False
                raise SystemExit(f"deploying {model_id} failed: {state.get('error')}")
            time.sleep(1)
        raise SystemExit(f"deploying {model_id}: task {task_id} not done after {timeout}s")


def _settled_port(port: int | None, wait: float = 5) -> int:
    """``port`` once it can be bound, else a free one; never None, which would let the
    reference node take 9200. After a stop, server-side TIME_WAIT sockets keep ``port``
    unbindable for up to 60 s by LocalNode's probe (no SO_REUSEADDR), so don't wait that long:
    the URL in use is in the node's state.json either way."""
    deadline = time.monotonic() + wait
    while port is not None and time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return port
            except OSError:
                time.sleep(1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        free: int = sock.getsockname()[1]
        return free


def compat_zip(data: bytes) -> bytes:
    """The model zip with each ``*.onnx`` keeping only the opset imports its nodes use.

    Deterministic (fixed timestamps, sorted names) so the hash is stable."""
    import onnx

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in sorted(src.namelist()):
            payload = src.read(name)
            if name.endswith(".onnx"):
                model = onnx.load_from_string(payload)
                used = {node.domain for node in model.graph.node}
                keep = [o for o in model.opset_import if o.domain in used or o.domain == ""]
                del model.opset_import[:]
                model.opset_import.extend(keep)
                payload = model.SerializeToString()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, payload)
    return out.getvalue()


# -- the differential check ------------------------------------------------------------------
@dataclass
class Case:
    name: str
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


PREDICT_TEXTS = [
    "hello world",
    "Café déjà vu — naïve ünïcödé 東京",
    "The quick brown fox jumps over the lazy dog.",
    "word " * 400,  # past model_max_length: truncation
]
INGEST_DOCS = [
    {"_index": "idx", "_id": "1", "_source": {"text": "hello world", "n": 1}},
    {"_index": "idx", "_id": "2", "_source": {"text": "OpenSearch neural search", "tags": ["a"]}},
    {"_index": "idx", "_id": "3", "_source": {"other": "no text field here"}},
]

# Found different on 2026-11 (neural-search 2.19.6 rejects empty and blank strings with
# "map type field [text] has empty string value, cannot process it"; neuralpipe passes the
# document through unembedded). Run with `check --extra` until neuralpipe matches.
EXTRA_INGEST_DOCS = [
    {"_index": "idx", "_id": "empty", "_source": {"text": ""}},
    {"_index": "idx", "_id": "blank", "_source": {"text": "  "}},
    {"_index": "idx", "_id": "number", "_source": {"text": 5}},
]


def _neuralpipe(*args: str) -> Any:
    done = subprocess.run(["neuralpipe", *args], capture_output=True, text=True, cwd=REPO,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"neuralpipe {' '.join(args)[:80]}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def run_checks(reference: ReferenceNode, extra: bool = False) -> list[Case]:
    """MiniLM ONNX: ``_predict`` vs ``neuralpipe model predict``, and the ``text_embedding``
    processor through the node's ``_simulate`` vs ``neuralpipe pipeline simulate``."""
    url = reference.url()
    model_id = reference.register("all-minilm-l6-v2-onnx")
    cases: list[Case] = []
    for text in PREDICT_TEXTS:
        case = Case(f"predict all-minilm-l6-v2-onnx {text[:24]!r}")
        ref = requests.post(f"{url}/_plugins/_ml/_predict/text_embedding/{model_id}",
                            json={"text_docs": [text]}, timeout=60)  # fmt: skip
        if ref.status_code != 200:
            case.differences.append(f"reference answered {ref.status_code}: {ref.text[:300]}")
        else:
            ours = _neuralpipe("model", "predict", "all-minilm-l6-v2-onnx", text)
            case.differences += compare_json(ref.json(), ours)
        cases.append(case)

    pipeline = yaml.safe_load((REPO / "pipelines" / "ingest" / "minilm-dense.yaml").read_text())
    ref_pipeline = json.loads(
        json.dumps(pipeline).replace('"all-minilm-l6-v2-onnx"', json.dumps(model_id))
    )
    docs = INGEST_DOCS + (EXTRA_INGEST_DOCS if extra else [])
    simulate_body = {"pipeline": ref_pipeline, "docs": docs}
    ref = requests.post(f"{url}/_ingest/pipeline/_simulate", json=simulate_body, timeout=120)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"docs": docs}, fh)
    try:
        ours = _neuralpipe("pipeline", "simulate", "minilm-dense", "--docs", fh.name)
    finally:
        os.unlink(fh.name)
    for i, doc in enumerate(docs):
        case = Case(f"ingest minilm-dense _simulate doc {doc['_id']}")
        if ref.status_code != 200:
            case.differences.append(f"reference answered {ref.status_code}: {ref.text[:300]}")
        else:
            case.differences += compare_json(ref.json()["docs"][i], ours["docs"][i])
        cases.append(case)
    return cases


def print_table(cases: Iterable[Case]) -> int:
    cases = list(cases)
    same = sum(c.identical for c in cases)
    width = max(len(c.name) for c in cases)
    for c in cases:
        first = "" if c.identical else c.differences[0]
        print(f"{c.name:<{width}}  {'identical' if c.identical else 'DIFFERENT'}  {first}")
    print(f"\ncases: {len(cases)}, identical: {same}, different: {len(cases) - same}")
    return len(cases) - same


def _file_name(coordinate: str) -> str:
    parts = coordinate.split(":")
    ext = parts[3] if len(parts) > 3 else "jar"
    classifier = f"-{parts[4]}" if len(parts) > 4 else ""
    return f"{parts[1]}-{parts[2]}{classifier}.{ext}"


def _prop(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip()
    raise KeyError(key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION, choices=sorted(REFERENCES))
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install")
    start = sub.add_parser("start")
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    start.add_argument("--heap", default=DEFAULT_HEAP)
    sub.add_parser("stop")
    sub.add_parser("status")
    reg = sub.add_parser("register")
    reg.add_argument("models", nargs="+", help="ids of pipelines/models/<id>.yaml")
    check = sub.add_parser("check")
    check.add_argument("--extra", action="store_true", help="also the known-different cases")
    args = parser.parse_args(argv)
    ref = ReferenceNode(args.version)
    if args.cmd == "install":
        print(json.dumps(ref.install(), indent=2))
    elif args.cmd == "start":
        print(ref.start(port=args.port, heap=args.heap).url)
    elif args.cmd == "stop":
        print("stopped" if ref.stop() else "not running")
    elif args.cmd == "status":
        running = ref.node.running()
        print(json.dumps({"running": bool(running), "url": running.url if running else None,
                          "home": str(ref.home), "models": ref._models()}, indent=2))  # fmt: skip
    elif args.cmd == "register":
        for model in args.models:
            print(model, ref.register(model))
    elif args.cmd == "check":
        return 1 if print_table(run_checks(ref, extra=args.extra)) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
