"""The CLI and node lifecycle against the real node."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.errors import NodeStartError
from processors.opensearch.node import LocalNode, _pid_alive
from processors.settings import Settings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_status_reports_version_knn_and_health(opensearch_url: str) -> None:
    result = CliRunner().invoke(cli, ["--url", opensearch_url, "opensearch", "status"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["version"] == Settings().opensearch_version
    assert "opensearch-knn" in report["plugins"]
    assert {"lang-painless", "lang-mustache", "mapper-extras", "ingest-common", "reindex"} <= set(
        report["modules"]
    )
    assert report["health"] in ("green", "yellow")


def test_index_create_then_duplicate_then_delete_exit_codes(
    opensearch_url: str, client: Any, index_name: str
) -> None:
    runner = CliRunner()
    base = ["--url", opensearch_url, "index"]
    created = runner.invoke(
        cli, [*base, "create", index_name, "--mapping", str(REPO / "mappings/combined.json")]
    )
    assert created.exit_code == 0, created.output
    mapping = client.indices.get_mapping(index=index_name)[index_name]["mappings"]["properties"]
    assert mapping["text_embedding"]["dimension"] == 384
    assert mapping["text_sparse"]["type"] == "rank_features"
    again = runner.invoke(
        cli, [*base, "create", index_name, "--mapping", str(REPO / "mappings/combined.json")]
    )
    assert again.exit_code == 1
    assert "resource_already_exists_exception" in again.output
    assert runner.invoke(cli, [*base, "delete", index_name]).exit_code == 0
    assert not client.indices.exists(index=index_name)


def test_second_start_reuses_the_running_node(opensearch_url: str) -> None:
    settings = Settings()
    if settings.opensearch_url:
        pytest.fail("this test needs the embedded node; unset NEURALPIPE_OPENSEARCH_URL")
    info = LocalNode(settings).start()
    assert info.reused
    assert info.url == opensearch_url


def test_node_that_dies_at_start_reports_its_log(tmp_path: Path) -> None:
    home = Settings().home
    settings = Settings(
        home=home, node_name=f"test-bad-{uuid.uuid4().hex[:6]}", node_heap="notasize"
    )
    node = LocalNode(settings)
    try:
        with pytest.raises(NodeStartError) as caught:
            node.start(timeout=60)
        assert "Invalid" in str(caught.value) or "heap" in str(caught.value).lower(), str(
            caught.value
        )
        assert "last lines of the node's log" in str(caught.value)
        assert node.running() is None
    finally:
        node.stop()
        shutil.rmtree(node.state_dir, ignore_errors=True)


def test_start_status_stop_of_a_second_node() -> None:
    settings = Settings(home=Settings().home, node_name=f"test-life-{uuid.uuid4().hex[:6]}")
    node = LocalNode(settings)
    try:
        info = node.start(timeout=120)
        assert not info.reused
        assert node.running() is not None
        status = CliRunner().invoke(cli, ["--url", info.url, "opensearch", "status"])
        assert json.loads(status.output)["health"] in ("green", "yellow")
        assert node.stop(timeout=30) is True
        assert node.running() is None
        assert not _pid_alive(info.pid)  # gone, or a zombie nobody reaped yet
        assert node.stop() is False
    finally:
        node.stop()
        shutil.rmtree(node.state_dir, ignore_errors=True)
