"""The embedded single-node OpenSearch: start, reuse, stop, status, logs.

The node binds 127.0.0.1 only, keeps its config, data and logs under
``<home>/nodes/<name>-<version>/`` and runs as an unprivileged ``neuralpipe`` system user when
started by root (OpenSearch refuses to run as root).

Example:
    >>> node = LocalNode(Settings())        # doctest: +SKIP
    >>> node.start().url                    # doctest: +SKIP
    'http://127.0.0.1:9200'
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.errors import NodeError, NodeStartError
from processors.opensearch.distribution import Distribution
from processors.opensearch.prereqs import java_home
from processors.settings import Settings, is_3x

CLUSTER_PREFIX = "neuralpipe-"
"""Every node and cluster neuralpipe starts is named ``neuralpipe-<name>``."""

log = logging.getLogger(__name__)

NODE_USER = "neuralpipe"
DEFAULT_PORT = 9200


@dataclass(frozen=True)
class NodeInfo:
    """A running node: where it listens and whether this call started it."""

    url: str
    pid: int
    port: int
    reused: bool
    start_s: float = 0.0


class LocalNode:
    """One embedded node, identified by ``settings.node_name``."""

    def __init__(self, settings: Settings, node_settings: Mapping[str, Any] | None = None) -> None:
        self.settings = settings
        self.node_settings = dict(node_settings or {})
        """Static settings added to ``opensearch.yml`` (e.g. the reference node's breaker)."""
        self.distribution = Distribution(settings.home, settings.opensearch_version)
        # One state dir per name and version: a 3.x data dir cannot be opened by 2.19.
        version = settings.opensearch_version
        name = settings.node_name
        dir_name = name if version in name else f"{name}-{version}"
        self.state_dir = settings.home / "nodes" / dir_name
        self.cluster_name = f"{CLUSTER_PREFIX}{settings.node_name}"

    @property
    def default_heap(self) -> str:
        """``settings.node_heap``, else 1g on 3.x and 512m on 2.19."""
        if self.settings.node_heap:
            return self.settings.node_heap
        return "1g" if is_3x(self.settings.opensearch_version) else "512m"

    # -- paths -------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.cluster_name}.log"

    # -- public API ----------------------------------------------------------------------
    def running(self) -> NodeInfo | None:
        """The node if its process is alive and its HTTP port answers, else None."""
        state = self._read_state()
        if not state or not _pid_alive(int(state["pid"])):
            return None
        url = f"http://127.0.0.1:{state['port']}"
        if _health(url) is None:
            return None
        return NodeInfo(url=url, pid=int(state["pid"]), port=int(state["port"]), reused=True)

    def start(
        self, port: int | None = None, heap: str | None = None, timeout: float = 180
    ) -> NodeInfo:
        """Start the node, or reuse it when it already runs; wait for yellow or green."""
        current = self.running()
        if current:
            return current
        self.distribution.ensure_installed()
        http_port = _choose_port(port if port is not None else self.settings.node_port)
        transport_port = free_port()
        self._prepare_state(http_port, transport_port, heap or self.default_heap)
        started = time.monotonic()
        pid = self._launch(timeout)
        self._write_state({"pid": pid, "port": http_port, "transport_port": transport_port})
        url = f"http://127.0.0.1:{http_port}"
        self._wait_healthy(url, pid, timeout)
        return NodeInfo(
            url, pid, http_port, reused=False, start_s=round(time.monotonic() - started, 1)
        )

    def reset(self, timeout: float = 30) -> bool:
        """Stop the node and delete its state (every index, its config and logs); the install
        stays, and the next start is an empty node. False when there was no state.

        The way back for a node that no longer starts, e.g. one whose shard holds a segment its
        k-NN build cannot read (a ``faiss`` field written to a node without the native library).

        Example:
            >>> import tempfile
            >>> node = LocalNode(Settings(home=Path(tempfile.mkdtemp()), opensearch_url=None))
            >>> node.reset()
            False
        """
        self.stop(timeout=timeout)
        if not self.state_dir.exists():
            return False
        shutil.rmtree(self.state_dir)
        return True

    def stop(self, timeout: float = 30) -> bool:
        """Stop gracefully (SIGTERM), then SIGKILL after ``timeout``. False if not running."""
        state = self._read_state()
        if not state or not _pid_alive(int(state["pid"])):
            self._state_file.unlink(missing_ok=True)
            return False
        pid = int(state["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            log.warning("node pid %s ignored SIGTERM for %ss; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.1)
        self._state_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the node's log (or of its launcher output)."""
        for path in (self.log_file, self.state_dir / "logs" / "launcher.log"):
            if path.exists() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    # -- internals -----------------------------------------------------------------------
    def _read_state(self) -> dict[str, int] | None:
        state: dict[str, int] | None = read_json(self._state_file)
        return state

    def _write_state(self, state: dict[str, int]) -> None:
        self._state_file.write_text(json.dumps(state))

    def _prepare_state(self, http_port: int, transport_port: int, heap: str) -> None:
        config = self.state_dir / "config"
        for sub in ("data", "logs"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        if config.exists():
            shutil.rmtree(config)
        shutil.copytree(self.distribution.install_dir / "config", config)
        jvm = config / "jvm.options"
        logs, data = self.state_dir / "logs", self.state_dir / "data"
        kept = [
            # The launcher runs from the install dir: make GC log, error file and heap dumps
            # land in this node's own (writable) state dir.
            ln.replace("file=logs/", f"file={logs}/")
            .replace("ErrorFile=logs/", f"ErrorFile={logs}/")
            .replace("HeapDumpPath=data", f"HeapDumpPath={data}")
            for ln in jvm.read_text().splitlines()
            if not ln.startswith(("-Xms", "-Xmx"))
        ]
        jvm.write_text("\n".join(kept) + "\n")
        (config / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
        settings = {
            "cluster.name": self.cluster_name,
            "node.name": self.settings.node_name,
            "network.host": "127.0.0.1",
            "http.port": http_port,
            "transport.port": transport_port,
            "discovery.type": "single-node",
            "path.data": str(self.state_dir / "data"),
            "path.logs": str(self.state_dir / "logs"),
            # A developer machine's disk may be fuller than the default watermarks allow.
            "cluster.routing.allocation.disk.threshold_enabled": False,
            **self.node_settings,
        }
        (config / "opensearch.yml").write_text(json.dumps(settings, indent=2) + "\n")
        if _is_root():
            _ensure_node_user()
            _chown_tree(self.state_dir)
            for path in (self.distribution.install_dir, self.state_dir):
                closed = closed_ancestor(path)
                if closed is not None:
                    raise NodeStartError(
                        f"the node runs as user {NODE_USER!r}, which cannot enter {closed} "
                        f"(mode {closed.stat().st_mode & 0o777:04o}): make it searchable "
                        f"(chmod o+x {closed}) or put NEURALPIPE_HOME elsewhere"
                    )

    def _launch(self, timeout: float = 180) -> int:
        """Run the launcher in daemon mode; the JVM's pid once it has written it.

        On a loaded machine the JVM may take longer than a minute to write its pid file, so
        the wait is the start's whole ``timeout``; a JVM still starting when the wait ends is
        stopped (found by its config dir), so it cannot hold the node lock against a retry.
        """
        install = self.distribution.install_dir
        pid_file = self.state_dir / "node.pid"
        pid_file.unlink(missing_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "JAVA_HOME": str(java_home(self.settings.opensearch_version)),
            "OPENSEARCH_PATH_CONF": str(self.state_dir / "config"),
        }
        launcher_log = self.state_dir / "logs" / "launcher.log"
        with launcher_log.open("wb") as out:
            done = subprocess.run(
                [str(install / "bin" / "opensearch"), "-d", "-p", str(pid_file)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.state_dir,
                check=False, timeout=120, **_as_node_user(),
            )  # fmt: skip
        deadline = time.monotonic() + max(60.0, timeout)
        while not (text := _read_pid(pid_file)):  # created empty, then written: wait for both
            if time.monotonic() > deadline or done.returncode != 0:
                _kill_jvms_of(self.state_dir / "config")
                raise NodeStartError("the node did not start (no pid file)", self.log_tail())
            time.sleep(0.1)
        return int(text)

    def _wait_healthy(self, url: str, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                self._state_file.unlink(missing_ok=True)
                raise NodeStartError(f"the node died while starting (pid {pid})", self.log_tail())
            health = _health(url)
            if health and health.get("status") in ("green", "yellow"):
                return
            time.sleep(0.25)
        raise NodeStartError(f"the node at {url} was not healthy after {timeout}s", self.log_tail())


def _kill_jvms_of(config_dir: Path) -> None:
    """SIGKILL every process whose command line names ``config_dir`` as its path.conf."""
    marker = f"-Dopensearch.path.conf={config_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def is_neuralpipe_node(url: str, timeout: float = 2.0) -> bool | None:
    """Whether the OpenSearch at ``url`` is one neuralpipe started, whatever URL names it
    (``--url http://127.0.0.1:<its port>`` included): its cluster is named ``neuralpipe-*`` and
    its k-NN has no native libraries. ``None`` when nothing answers there; a cluster that
    answers with an error (401 of a security plugin...) is not one: neuralpipe's nodes run
    without security.

    >>> is_neuralpipe_node("http://127.0.0.1:1") is None
    True
    """
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, OSError, ValueError):
        return None
    name = body.get("cluster_name") if isinstance(body, dict) else None
    return isinstance(name, str) and name.startswith(CLUSTER_PREFIX)


def read_json(path: Path) -> Any:
    """The JSON object in ``path``; None when it is missing or unreadable (a state file)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _health(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=2) as resp:
            body: dict[str, object] = json.loads(resp.read())
            return body
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def port_free(port: int) -> bool:
    """Whether a server could listen on ``127.0.0.1:port``. SO_REUSEADDR as the JVM sets it,
    so sockets of a stopped node in TIME_WAIT don't count as in use; a listener still does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _choose_port(requested: int | None) -> int:
    if requested is not None:
        if not port_free(requested):
            raise NodeStartError(
                f"port {requested} on 127.0.0.1 is in use: stop what listens there, "
                "pick another with --port, or point --url at that cluster if it is OpenSearch"
            )
        return requested
    return DEFAULT_PORT if port_free(DEFAULT_PORT) else free_port()


def closed_ancestor(path: Path) -> Path | None:
    """The nearest folder above ``path`` that other users cannot enter (no ``o+x``), if any.

    Example:
        >>> closed_ancestor(Path("/usr/bin/env")) is None
        True
    """
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _as_node_user() -> dict[str, Any]:
    """``subprocess`` options that run the node as :data:`NODE_USER` when we are root: its
    user *and* its group, with no supplementary groups (``user=`` alone keeps root's group,
    so a folder of group root without ``g+x`` shuts the node out even when it has ``o+x``)."""
    if not _is_root():
        return {}
    return {"user": NODE_USER, "group": NODE_USER, "extra_groups": []}


def _ensure_node_user() -> None:
    if subprocess.run(["id", "-u", NODE_USER], capture_output=True, check=False).returncode == 0:
        return
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NODE_USER]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NodeError(
            f"OpenSearch cannot run as root and creating user {NODE_USER!r} failed: {done.stderr}"
        )


def _chown_tree(path: Path) -> None:
    for entry in [path, *path.rglob("*")]:
        shutil.chown(entry, NODE_USER, NODE_USER)


def _read_pid(pid_file: Path) -> str:
    """The pid file's number, or ``""`` while it is missing or not written yet."""
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return ""
    return text if text.isdigit() else ""
