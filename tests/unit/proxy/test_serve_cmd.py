"""``neuralpipe serve``: help, and no password in messages."""

from __future__ import annotations

from click.testing import CliRunner

from processors.cli.main import cli
from processors.proxy.upstream import redact


def test_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--upstream" in result.output and "127.0.0.1" in result.output


def test_redact() -> None:
    assert redact("https://admin:secret@host:9200/") == "https://admin:***@host:9200/"
    assert redact("http://127.0.0.1:9200") == "http://127.0.0.1:9200"


def test_cli_help_does_not_import_the_proxy() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom processors.cli.main import cli\n"
        "CliRunner().invoke(cli, ['serve', '--help'])\n"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'processors.proxy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
