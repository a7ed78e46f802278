"""Whose credentials go upstream: the client's, or none; the proxy's only when lent on purpose."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from starlette.applications import Starlette

from processors.cli.main import cli
from tests.unit.proxy.conftest import caller
from tests.unit.proxy.fake_node import FakeNode

PROXY_AUTH = "Basic YWRtaW46cHc="  # admin:pw
NEURAL = {"query": {"neural": {"v": {"query_text": "x", "model_id": "dense-1", "k": 1}}}}


def test_a_client_without_credentials_is_sent_upstream_without_any(
    make_app: Callable[..., Starlette], node: FakeNode
) -> None:
    call = caller(make_app(username="admin", password="pw"))
    sent = call("GET", "/_cat/health").json()["echo"]["headers"]
    assert "authorization" not in sent
    call("POST", "/docs/_search", json=NEURAL)  # the proxy's own request on its behalf
    assert "authorization" not in node.last("/docs/_search").headers


def test_the_clients_credentials_are_passed_through_on_every_request(
    make_app: Callable[..., Starlette], node: FakeNode
) -> None:
    call = caller(make_app(username="admin", password="pw"))
    sent = call("GET", "/_cat/health", headers={"Authorization": "Basic other"}).json()
    assert sent["echo"]["headers"]["authorization"] == "Basic other"
    call("POST", "/docs/_search", json=NEURAL, headers={"Authorization": "Basic other"})
    assert node.last("/docs/_search").headers["authorization"] == "Basic other"


def test_the_proxys_identity_is_lent_only_when_asked(
    make_app: Callable[..., Starlette], node: FakeNode
) -> None:
    call = caller(make_app(username="admin", password="pw", lend_identity=True))
    assert call("GET", "/_cat/health").json()["echo"]["headers"]["authorization"] == PROXY_AUTH
    call("POST", "/docs/_search", json=NEURAL)
    assert node.last("/docs/_search").headers["authorization"] == PROXY_AUTH
    sent = call("GET", "/_cat/health", headers={"Authorization": "Basic other"}).json()
    assert sent["echo"]["headers"]["authorization"] == "Basic other"


def test_the_password_can_come_from_a_file_and_not_with_password_too(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    from processors.settings import Settings

    seen: list[Settings] = []
    runner = CliRunner()
    import click

    @cli.command("show-settings-for-test")
    @click.pass_obj
    def show(settings: Settings) -> None:
        seen.append(settings)

    try:
        args = ["--url", "http://127.0.0.1:1", "--username", "u", "--password-file", str(secret)]
        assert runner.invoke(cli, [*args, "show-settings-for-test"]).exit_code == 0
        assert seen[0].opensearch_password == "s3cret"
        both = runner.invoke(cli, [*args, "--password", "x", "show-settings-for-test"])
        assert both.exit_code == 2 and "not both" in both.output
    finally:
        cli.commands.pop("show-settings-for-test", None)
