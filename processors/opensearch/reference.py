"""The *reference* node: OpenSearch with the real ml-commons and neural-search plugins (issue #8).

neuralpipe emulates neural-search + ml-commons in Python; this second node runs the real
plugins on the same inputs so the two can be diffed (:mod:`tests.differential.harness`). It is
started only by the differential check (``neuralpipe opensearch start --reference``,
``scripts/verify_against_reference.py``, ``pytest -m differential``), never by the main job, and
never touches the main node's state (``$NEURALPIPE_HOME/nodes/default``): everything lives under
``$NEURALPIPE_HOME/reference/``.

Everything comes from Maven Central through ``mvn``; nothing is downloaded at run time:

* the main node's layout (minimal distribution + k-NN + assembled modules) through
  :class:`~processors.opensearch.distribution.Distribution`;
* ``org.opensearch.plugin:opensearch-job-scheduler`` (ml-commons extends it),
  ``org.opensearch.plugin:opensearch-ml-plugin`` and ``org.opensearch.plugin:neural-search``
  (not ``opensearch-neural-search``, which Maven Central does not have), all ``<v>.0`` zips,
  installed with ``bin/opensearch-plugin install --batch``;
* the PyTorch natives that DJL would otherwise fetch from its own download host on the first
  deploy, even of an ONNX model (DJL's ONNX Runtime engine uses PyTorch for NDArray ops):
  ``ai.djl.pytorch:pytorch-native-cpu:2.5.1`` (``linux-x86_64``) and
  ``ai.djl.pytorch:pytorch-jni:2.5.1-0.32.0``, put in the DJL cache dir under the names DJL
  looks for (``<data>/ml_cache/pytorch/<version>-cpu-precxx11-linux-x86_64/``, JNI as
  ``0.31.1-libdjl_torch.so``; ml-commons sets ``PYTORCH_PRECXX11``). Both lines ship DJL 0.31.1.
  ml-commons 2.19 pins PyTorch 1.13.1, for which Maven Central has no JNI, so there the 2.5.1
  libtorch sits in the ``1.13.1-...`` directory (DJL does not check a cached libtorch's
  version). ml-commons 3.6 no longer pins 1.13.1: DJL asks for its own default, 2.5.1, so the
  same files sit in ``2.5.1-...`` and the 3.6 reference runs the libtorch an online install
  would fetch. Maven Central has no JNI built by DJL 0.31.1 for 2.5.1; the 0.32.0 one loads.

Models are registered with :mod:`processors.opensearch.reference_models`.

Example:
    >>> node = ReferenceNode.from_settings(Settings())   # doctest: +SKIP
    >>> node.start().url                                  # doctest: +SKIP
    'http://127.0.0.1:9250'
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from processors.errors import NodeError
from processors.opensearch.node import LocalNode, NodeInfo, free_port, port_free
from processors.opensearch.prereqs import java_home, maven
from processors.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceVersion:
    """What one reference version installs, all from Maven Central."""

    opensearch: str
    plugins: tuple[str, ...]  # group:artifact:version:zip, in install order
    libtorch: str  # pytorch-native jar (group:artifact:version:jar:classifier)
    jni: str  # pytorch-jni jar
    djl_dir: str  # the cache dir name DJL looks for under <data>/ml_cache/pytorch/
    djl_api: str  # DJL version of the engine jars in the ml plugin (JNI file prefix)


REFERENCES = {
    "3.6.0": ReferenceVersion(
        opensearch="3.6.0",
        plugins=(
            "org.opensearch.plugin:opensearch-job-scheduler:3.6.0.0:zip",
            "org.opensearch.plugin:opensearch-ml-plugin:3.6.0.0:zip",
            "org.opensearch.plugin:neural-search:3.6.0.0:zip",
        ),
        libtorch="ai.djl.pytorch:pytorch-native-cpu:2.5.1:jar:linux-x86_64",
        jni="ai.djl.pytorch:pytorch-jni:2.5.1-0.32.0:jar",
        djl_dir="2.5.1-cpu-precxx11-linux-x86_64",
        djl_api="0.31.1",
    ),
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
DEFAULT_VERSION = "3.6.0"
DEFAULT_PORT = 9250
DEFAULT_HEAP = "2g"
DEFAULT_TIMEOUT = 240.0

ML_SETTINGS = {
    "plugins.ml_commons.only_run_on_ml_node": False,
    "plugins.ml_commons.native_memory_threshold": 100,
    "plugins.ml_commons.jvm_heap_memory_threshold": 100,
    "plugins.ml_commons.allow_registering_model_via_url": True,
    "plugins.ml_commons.allow_registering_model_via_local_file": True,
    "plugins.ml_commons.model_access_control_enabled": False,
}
"""Dynamic cluster settings for one offline node with a small heap on few cores."""

NODE_SETTINGS = {"indices.breaker.total.use_real_memory": False}
"""Static settings of the reference node. ml-commons' chunked uploads and deploys leave
garbage that the real-memory parent breaker counts until the next GC: on a fresh reference
state a 2 GB heap refused a chunk at 1.9 GB. Counting only tracked reservations lets the GC
reclaim it; the node's REST behaviour, which the reference judges, is unchanged."""


def reference_home(home: Path) -> Path:
    """The reference node's own tree under a neuralpipe home."""
    return home / "reference"


class ReferenceNode:
    """Install, start, stop the reference node (a :class:`LocalNode` with the ML plugins).

    Args:
        home: Its own tree (``$NEURALPIPE_HOME/reference``).
        version: A key of :data:`REFERENCES`.

    Raises:
        NodeError: no recipe for ``version``.

    Example:
        >>> ReferenceNode(Path("/tmp/ref")).node.settings.node_name
        'ref-3.6.0'
    """

    def __init__(self, home: Path, version: str = DEFAULT_VERSION) -> None:
        if version not in REFERENCES:
            raise NodeError(
                f"no reference node recipe for OpenSearch {version}; known: {', '.join(REFERENCES)}"
            )
        self.ref = REFERENCES[version]
        self.home = home
        self.settings = Settings(
            home=home, opensearch_url=None, opensearch_version=version,
            node_name=f"ref-{version}", node_heap=DEFAULT_HEAP, node_port=None,
        )  # fmt: skip
        self.node = LocalNode(self.settings, NODE_SETTINGS)
        self.downloads = home / "downloads" / version
        self.marker = self.node.distribution.install_dir / ".neuralpipe-reference.json"

    @classmethod
    def from_settings(cls, settings: Settings) -> ReferenceNode:
        """The reference node of ``settings.home``, at ``settings.reference_version``."""
        return cls(reference_home(settings.home), settings.reference_version)

    @property
    def state_dir(self) -> Path:
        return self.node.state_dir

    # -- install -----------------------------------------------------------------------
    def install(self) -> dict[str, Any]:
        """Install the distribution, the three plugins and the DJL natives (idempotent).

        Raises:
            NodeError: a download or a plugin install failed (with the tool's output).
        """
        if self.marker.exists() and self.node.distribution.is_installed():
            record: dict[str, Any] = json.loads(self.marker.read_text())
            return record
        # (a distribution whose layout changed is installed again below, before the plugins:
        # reinstalling it later, at start, would drop them)
        started = time.monotonic()
        self.node.distribution.ensure_installed()
        install_dir = self.node.distribution.install_dir
        self._mvn_copy([*self.ref.plugins, self.ref.libtorch, self.ref.jni])
        env = {"PATH": "/usr/bin:/bin", "JAVA_HOME": str(java_home(self.ref.opensearch))}
        for coordinate in self.ref.plugins:
            zip_path = self.downloads / file_name(coordinate)
            with zipfile.ZipFile(zip_path) as zf:
                name = _prop(zf.read("plugin-descriptor.properties").decode(), "name")
            if (install_dir / "plugins" / name).exists():
                continue
            cmd = [str(install_dir / "bin" / "opensearch-plugin"), "install", "--batch",
                   zip_path.as_uri()]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                raise NodeError(f"installing {coordinate} failed:\n{done.stdout}{done.stderr}")
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
        missing = [c for c in coordinates if not (self.downloads / file_name(c)).exists()]
        if not missing:
            return
        self.downloads.mkdir(parents=True, exist_ok=True)
        for coordinate in missing:
            cmd = [maven(), "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}",
                   f"-DoutputDirectory={self.downloads}",
                   f"-Dmaven.repo.local={self.home / 'maven-repo'}"]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise NodeError(f"mvn could not fetch {coordinate}:\n{done.stdout[-3000:]}")

    @property
    def _djl_cache(self) -> Path:
        return self.home / "djl" / f"{self.ref.djl_dir}-{file_name(self.ref.jni)}"

    def _extract_djl(self) -> None:
        target = self._djl_cache
        if (target / "libtorch.so").exists():
            return
        tmp = Path(tempfile.mkdtemp(dir=self.home, prefix=".djl-"))
        with zipfile.ZipFile(self.downloads / file_name(self.ref.libtorch)) as zf:
            for info in zf.infolist():
                if info.filename.startswith("pytorch/cpu/linux-x86_64/") and not info.is_dir():
                    (tmp / Path(info.filename).name).write_bytes(zf.read(info))
        with zipfile.ZipFile(self.downloads / file_name(self.ref.jni)) as zf:
            lib = zf.read("jnilib/linux-x86_64/cpu/libdjl_torch.so")  # cxx11 ABI, like libtorch
            (tmp / f"{self.ref.djl_api}-libdjl_torch.so").write_bytes(lib)
        for entry in tmp.iterdir():
            entry.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(target)

    def _seed_ml_cache(self) -> None:
        dest = self.state_dir / "data" / "ml_cache" / "pytorch" / self.ref.djl_dir
        if (dest / "libtorch.so").exists():
            return
        dest.mkdir(parents=True, exist_ok=True)
        for entry in self._djl_cache.iterdir():
            try:
                os.link(entry, dest / entry.name)
            except OSError:
                shutil.copy2(entry, dest / entry.name)

    # -- lifecycle ---------------------------------------------------------------------
    def running(self) -> NodeInfo | None:
        """The node if it runs and answers, else None."""
        return self.node.running()

    def start(
        self,
        port: int | None = DEFAULT_PORT,
        heap: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> NodeInfo:
        """Install if needed, start (or reuse) the node and apply :data:`ML_SETTINGS`.

        Raises:
            NodeError: install failed; NodeStartError: the node did not come up.
        """
        info = self.node.running()
        if not info:
            self.install()
            # before start: _prepare_state chowns the state dir to the node user
            self._seed_ml_cache()
            info = self.node.start(
                port=settled_port(port), heap=heap or DEFAULT_HEAP, timeout=timeout
            )
        # also on a reused node: a start that timed out on a loaded machine never applied them
        answer = requests.put(
            f"{info.url}/_cluster/settings",
            # archived.*: settings a start without the plugins could not read (they block every
            # later settings update until cleared)
            json={"persistent": {"archived.*": None, **ML_SETTINGS}},
            timeout=30,
        )
        if answer.status_code != 200:
            raise NodeError(f"the reference node refused the ML settings: {answer.text[:500]}")
        return info

    def stop(self, timeout: float = 30) -> bool:
        """Stop the node; False when it was not running."""
        return self.node.stop(timeout=timeout)

    def url(self) -> str:
        """The running node's URL.

        Raises:
            NodeError: the node is not running.
        """
        info = self.node.running()
        if not info:
            raise NodeError(
                "the reference node is not running: `neuralpipe opensearch start --reference`"
            )
        return info.url


def settled_port(port: int | None, wait: float = 5) -> int:
    """``port`` once it is free (:func:`~processors.opensearch.node.port_free`), else a free
    one; never None (which would let the reference node take 9200)."""
    deadline = time.monotonic() + wait
    while port is not None:
        if port_free(port):
            return port
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    return free_port()


def file_name(coordinate: str) -> str:
    """The file ``mvn dependency:copy`` writes for ``group:artifact:version[:type[:classifier]]``.

    >>> file_name("ai.djl.pytorch:pytorch-native-cpu:2.5.1:jar:linux-x86_64")
    'pytorch-native-cpu-2.5.1-linux-x86_64.jar'
    """
    parts = coordinate.split(":")
    ext = parts[3] if len(parts) > 3 else "jar"
    classifier = f"-{parts[4]}" if len(parts) > 4 else ""
    return f"{parts[1]}-{parts[2]}{classifier}.{ext}"


def _prop(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip()
    raise NodeError(f"plugin descriptor without {key!r}")
