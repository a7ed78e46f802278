"""The local cluster's layout: every node's HTTP and transport port pinned, distinct and free,
and the seed list naming exactly the transport ports (no JVM starts here)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from processors.errors import NodeStartError
from processors.opensearch.cluster import LocalCluster, pick_ports
from processors.settings import Settings


def test_three_nodes_get_six_distinct_ports_and_seeds_name_the_transport_ports(
    tmp_path: Path,
) -> None:
    cluster = LocalCluster(Settings(home=tmp_path, node_name="lay"), nodes=3)
    specs = cluster.layout["nodes"]
    ports = [p for s in specs for p in (s["http_port"], s["transport_port"])]
    assert len(set(ports)) == 6 and all(p < 32768 for p in ports)
    seeds = [f"127.0.0.1:{s['transport_port']}" for s in specs]
    assert all(node.seeds == seeds for node in cluster.nodes)
    assert [n.settings.node_name for n in cluster.nodes] == ["lay-c1", "lay-c2", "lay-c3"]


def test_a_busy_port_is_passed_over_or_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        port = pick_ports(1, 20000)[0]
        busy.bind(("127.0.0.1", port))
        busy.listen()
        assert port not in pick_ports(2, port)
        with pytest.raises(NodeStartError, match=rf"\[{port}\]"):
            pick_ports(2, port, exact=True)
