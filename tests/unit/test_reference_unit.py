"""Reference-node pieces that need no node: recipe, paths, Maven file names, ports, CLI."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.errors import NodeError
from processors.opensearch.reference import (
    DEFAULT_PORT,
    ReferenceNode,
    file_name,
    settled_port,
)
from processors.settings import Settings


def test_the_reference_node_has_its_own_tree(tmp_path: Path) -> None:
    node = ReferenceNode.from_settings(Settings(home=tmp_path))
    assert node.home == tmp_path / "reference"
    assert node.state_dir == tmp_path / "reference" / "nodes" / "ref-3.6.0"
    assert node.node.distribution.install_dir.is_relative_to(tmp_path / "reference")
    assert node.running() is None


def test_reference_version_is_its_own_setting(tmp_path: Path) -> None:
    old = ReferenceNode.from_settings(Settings(home=tmp_path, reference_version="2.19.6"))
    assert old.state_dir.name == "ref-2.19.6"
    assert old.ref.plugins[-1] == "org.opensearch.plugin:neural-search:2.19.6.0:zip"
    new = ReferenceNode.from_settings(Settings(home=tmp_path, opensearch_version="2.19.6"))
    assert new.ref.plugins[-1] == "org.opensearch.plugin:neural-search:3.6.0.0:zip"


def test_unknown_version_is_a_node_error(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match=r"no reference node recipe for OpenSearch 2\.11\.0"):
        ReferenceNode(tmp_path, "2.11.0")


def test_url_of_a_stopped_node_says_how_to_start_it(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="opensearch start --reference"):
        ReferenceNode(tmp_path).url()


def test_maven_file_names() -> None:
    assert file_name("org.opensearch.plugin:neural-search:2.19.6.0:zip") == (
        "neural-search-2.19.6.0.zip"
    )
    assert file_name("ai.djl.pytorch:pytorch-jni:2.5.1-0.32.0:jar") == (
        "pytorch-jni-2.5.1-0.32.0.jar"
    )
    assert file_name("ai.djl.pytorch:pytorch-native-cpu:2.5.1:jar:linux-x86_64") == (
        "pytorch-native-cpu-2.5.1-linux-x86_64.jar"
    )


def test_settled_port_never_returns_none_nor_a_taken_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        other = settled_port(taken, wait=0)
        assert other != taken and other > 0
    assert settled_port(None) > 0
    assert DEFAULT_PORT != 9200


@pytest.mark.parametrize("command", ["install", "start", "stop", "status", "logs"])
def test_every_opensearch_command_takes_reference(command: str) -> None:
    result = CliRunner().invoke(cli, ["opensearch", command, "--help"])
    assert result.exit_code == 0 and "--reference" in result.output


def test_status_and_stop_of_a_stopped_reference_node(tmp_path: Path) -> None:
    env = {"NEURALPIPE_HOME": str(tmp_path)}
    status = CliRunner().invoke(cli, ["opensearch", "status", "--reference"], env=env)
    assert status.exit_code == 0, status.output
    assert '"running": false' in status.output and '"models": {}' in status.output
    stop = CliRunner().invoke(cli, ["opensearch", "stop", "--reference"], env=env)
    assert stop.exit_code == 0 and "not running" in stop.output


def test_a_reinstalled_distribution_reinstalls_the_plugins_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference marker from before a distribution layout change must not short-cut the
    install: starting would reinstall the distribution and drop the plugins."""
    node = ReferenceNode(tmp_path)
    node.marker.parent.mkdir(parents=True)
    node.marker.write_text('{"version": "3.6.0"}')  # old marker, no distribution marker

    def reinstall() -> None:
        raise RuntimeError("reinstalling the distribution first")

    monkeypatch.setattr(node.node.distribution, "ensure_installed", reinstall)
    with pytest.raises(RuntimeError, match="reinstalling the distribution first"):
        node.install()
