"""A local multi-node OpenSearch cluster: N nodes on 127.0.0.1 that discover each other.

Each node is a :class:`~processors.opensearch.node.LocalNode` with its own state dir
(``<home>/nodes/<name>-c<i>-<version>``), HTTP and transport ports; instead of
``discovery.type: single-node`` they list every node's transport address in
``discovery.seed_hosts`` and bootstrap the first election with
``cluster.initial_cluster_manager_nodes`` (all nodes are cluster-manager eligible and data
nodes). Every node's ``http.port`` and ``transport.port`` are pinned: picked together when the
layout is written (distinct, outside the kernel's ephemeral range, free at that moment; HTTP from
``--port`` or 9400 up, transport from 9500 up), kept in ``<home>/nodes/<name>-cluster.json`` and
written into each node's ``opensearch.yml``, so the seed list names exactly the ports the nodes
bind, and a node stopped and started again (:meth:`LocalCluster.start_node`) rejoins at the same
address. A start with no node running picks the ports again if one of them was taken meanwhile.

Example:
    >>> cluster = LocalCluster(Settings(), nodes=3)   # doctest: +SKIP
    >>> cluster.start().url                           # doctest: +SKIP
    'http://127.0.0.1:9200'
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.errors import NodeStartError
from processors.opensearch.node import (
    CLUSTER_PREFIX,
    LocalNode,
    NodeInfo,
    _health,
    port_free,
    read_json,
)
from processors.settings import Settings

DEFAULT_CLUSTER_HEAP = "512m"
FIRST_HTTP_PORT = 9400
FIRST_TRANSPORT_PORT = 9500


class ClusterNode(LocalNode):
    """One node of a :class:`LocalCluster`: cluster discovery instead of single-node."""

    def __init__(
        self,
        settings: Settings,
        *,
        cluster_name: str,
        index: int,
        seeds: list[str],
        names: list[str],
    ) -> None:
        super().__init__(settings)
        self.cluster_name = cluster_name
        self.index = index
        self.seeds, self.names = seeds, names

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.cluster_name}.log"

    def _prepare_state(self, http_port: int, transport_port: int, heap: str) -> None:
        super()._prepare_state(http_port, transport_port, heap)
        path = self.state_dir / "config" / "opensearch.yml"
        config: dict[str, Any] = json.loads(path.read_text())
        config.pop("discovery.type", None)
        config.update(
            {
                "cluster.name": self.cluster_name,
                "discovery.seed_hosts": self.seeds,
                "cluster.initial_cluster_manager_nodes": self.names,
                "node.roles": ["cluster_manager", "data", "ingest"],
            }
        )
        path.write_text(json.dumps(config, indent=2) + "\n")


@dataclass(frozen=True)
class ClusterInfo:
    """A running cluster: the first node's URL and every node's."""

    url: str
    urls: list[str]
    reused: bool
    start_s: float = 0.0


class LocalCluster:
    """``nodes`` local nodes forming one cluster named ``neuralpipe-<name>-cluster``."""

    def __init__(
        self, settings: Settings, nodes: int | None = None, heap: str | None = None
    ) -> None:
        self.settings = settings
        self.name = f"{settings.node_name}-cluster"
        self.cluster_name = f"{CLUSTER_PREFIX}{self.name}"
        self.layout_file = settings.home / "nodes" / f"{self.name}.json"
        layout = self._read_layout()
        if nodes is None:
            nodes = len(layout["nodes"]) if layout else 0
        if layout and len(layout["nodes"]) != nodes:
            layout = None  # another size: new ports (the state dirs of the first ones stay)
        self.heap = heap or (layout or {}).get("heap") or DEFAULT_CLUSTER_HEAP
        self.layout = layout or {"nodes": self._new_nodes(nodes), "heap": self.heap}
        self._build_nodes()

    def _build_nodes(self) -> None:
        settings = self.settings
        names = [n["name"] for n in self.layout["nodes"]]
        seeds = [f"127.0.0.1:{n['transport_port']}" for n in self.layout["nodes"]]
        self.nodes = [
            ClusterNode(
                settings.model_copy(update={"node_name": name}),
                cluster_name=self.cluster_name,
                index=i,
                seeds=seeds,
                names=names,
            )
            for i, name in enumerate(names)
        ]

    def _new_nodes(self, count: int) -> list[dict[str, Any]]:
        base = self.settings.node_name
        if count == 0:
            return []
        http = pick_ports(count, self.settings.node_port or FIRST_HTTP_PORT, exact=bool(
            self.settings.node_port))  # fmt: skip
        transport = pick_ports(count, max(FIRST_TRANSPORT_PORT, max(http) + 1), taken=set(http))
        return [
            {"name": f"{base}-c{i + 1}", "http_port": h, "transport_port": t}
            for i, (h, t) in enumerate(zip(http, transport, strict=True))
        ]

    def _ports_taken(self) -> list[int]:
        return [
            port
            for spec in self.layout["nodes"]
            for port in (spec["http_port"], spec["transport_port"])
            if not port_free(port)
        ]

    def _read_layout(self) -> dict[str, Any] | None:
        layout: dict[str, Any] | None = read_json(self.layout_file)
        return layout

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{n['http_port']}" for n in self.layout["nodes"]]

    def running(self) -> ClusterInfo | None:
        """The cluster when at least one of its nodes answers, else None."""
        alive = [n.running() for n in self.nodes]
        urls = [info.url for info in alive if info is not None]
        if not urls:
            return None
        return ClusterInfo(url=urls[0], urls=urls, reused=True)

    def start(self, timeout: float = 300) -> ClusterInfo:
        """Start every node not running (in parallel), wait until all joined and health is
        yellow or green."""
        if not self.nodes:
            raise NodeStartError("a cluster needs at least one node (--nodes N)")
        started = time.monotonic()
        if self.running() is None and self._ports_taken():
            self.layout["nodes"] = self._new_nodes(len(self.nodes))
            self._build_nodes()
        self.layout["heap"] = self.heap
        self.layout_file.parent.mkdir(parents=True, exist_ok=True)
        self.layout_file.write_text(json.dumps(self.layout, indent=2))
        reused = all(n.running() is not None for n in self.nodes)
        pending = [i for i, n in enumerate(self.nodes) if n.running() is None]
        taken = [
            port
            for i in pending
            for port in (self.layout["nodes"][i]["http_port"],
                         self.layout["nodes"][i]["transport_port"])
            if not port_free(port)
        ]  # fmt: skip
        if taken:
            raise NodeStartError(
                f"cluster {self.cluster_name}: port(s) {taken} on 127.0.0.1 are in use while "
                "other nodes of the cluster run with them in their seed list; stop the cluster "
                "(neuralpipe opensearch stop) and start it again to pick new ports"
            )
        # The launchers run side by side: each waits until its node started, and a node's
        # start waits for the cluster to form, which needs the others.
        with ThreadPoolExecutor(max_workers=max(1, len(pending))) as pool:
            list(pool.map(self._launch, pending))
        self.wait_nodes(len(self.nodes), timeout=timeout)
        return ClusterInfo(
            url=self.urls[0],
            urls=self.urls,
            reused=reused,
            start_s=round(time.monotonic() - started, 1),
        )

    def _launch(self, i: int) -> NodeInfo:
        node, spec = self.nodes[i], self.layout["nodes"][i]
        node.distribution.ensure_installed()
        node._prepare_state(spec["http_port"], spec["transport_port"], self.heap)
        pid = node._launch()
        node._write_state(
            {"pid": pid, "port": spec["http_port"], "transport_port": spec["transport_port"]}
        )
        return NodeInfo(self.urls[i], pid, spec["http_port"], reused=False)

    def start_node(self, i: int, timeout: float = 300) -> None:
        """Start node ``i`` again (same ports) and wait until the cluster counts it."""
        if self.nodes[i].running() is None:
            self._launch(i)
        self.wait_nodes(len(self.nodes), timeout=timeout)

    def stop_node(self, i: int, timeout: float = 30) -> bool:
        """Stop node ``i`` (SIGTERM, then SIGKILL after ``timeout``)."""
        return self.nodes[i].stop(timeout=timeout)

    def stop(self, timeout: float = 30) -> int:
        """Stop every node; how many were running."""
        return sum(1 for node in self.nodes if node.stop(timeout=timeout))

    def wait_nodes(self, count: int, timeout: float = 300, status: str = "yellow") -> None:
        """Wait until ``count`` nodes are in the cluster and its health is ``status`` or better."""
        deadline = time.monotonic() + timeout
        wanted = ("green",) if status == "green" else ("green", "yellow")
        while time.monotonic() < deadline:
            for node, url in zip(self.nodes, self.urls, strict=True):
                if node.running() is None:
                    continue
                health = _health(url)
                if (
                    health
                    and health.get("number_of_nodes") == count
                    and health.get("status") in wanted
                ):
                    return
            time.sleep(0.5)
        tails = "\n".join(f"--- {n.settings.node_name}\n{n.log_tail(15)}" for n in self.nodes)
        raise NodeStartError(
            f"the cluster {self.cluster_name} did not reach {count} nodes and {status} health "
            f"in {timeout:.0f}s",
            tails,
        )


def pick_ports(
    count: int, first: int, *, exact: bool = False, taken: set[int] | None = None
) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1 from ``first`` up (``exact``: exactly
    ``first .. first+count-1``, or an error naming the busy one).

    Example:
        >>> ports = pick_ports(3, 9400)
        >>> len(set(ports)) == 3 and all(p >= 9400 for p in ports)
        True
    """
    taken = set(taken or ())
    if exact:
        wanted = list(range(first, first + count))
        busy = [p for p in wanted if p in taken or not port_free(p)]
        if busy:
            raise NodeStartError(
                f"port(s) {busy} on 127.0.0.1 are in use: the cluster's nodes take the "
                f"HTTP ports {first}..{first + count - 1}; pick another --port"
            )
        return wanted
    ports: list[int] = []
    port = first
    while len(ports) < count:
        if port > 32767:
            raise NodeStartError(f"no {count} free ports on 127.0.0.1 between {first} and 32767")
        if port not in taken and port_free(port):
            ports.append(port)
        port += 1
    return ports
