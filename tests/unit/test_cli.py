from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.cli.main import cli

REPO = Path(__file__).resolve().parents[2]

COMMANDS = [
    [],
    ["opensearch"],
    ["opensearch", "install"],
    ["opensearch", "start"],
    ["opensearch", "stop"],
    ["opensearch", "reset"],
    ["opensearch", "status"],
    ["opensearch", "logs"],
    ["index"],
    ["index", "create"],
    ["index", "delete"],
    ["pipeline"],
    ["pipeline", "validate"],
    ["pipeline", "show"],
    ["model"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "root")
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_import_and_help_load_no_model_runtime() -> None:
    code = (
        "import sys; import processors; from click.testing import CliRunner;"
        "from processors.cli.main import cli; r = CliRunner().invoke(cli, ['--help']);"
        "assert r.exit_code == 0;"
        "heavy = {'torch', 'onnxruntime', 'transformers'} & set(sys.modules);"
        "print(sorted(heavy)); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_mapping_is_a_usage_error_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    result = CliRunner().invoke(
        cli, ["--url", "http://127.0.0.1:9", "index", "create", "x", "--mapping", str(bad)]
    )
    assert result.exit_code == 2
    assert "bad.json: not valid JSON" in result.output


def test_unreachable_cluster_is_a_runtime_error_exit_1() -> None:
    result = CliRunner().invoke(
        cli, ["--url", "http://127.0.0.1:9", "index", "delete", "nothing-here"]
    )
    assert result.exit_code == 1
    assert "OpenSearch" in result.output


def test_unknown_option_is_exit_2() -> None:
    assert CliRunner().invoke(cli, ["opensearch", "start", "--bogus"]).exit_code == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"model_type": "bert", "embedding_dimension": 384}', "name: Field required"),
        ("[1, 2]", "must be a mapping"),
        ('{"name": "m", "version": 1, "model_format": "ONNX", "url": 3}', "url:"),
    ],
)
def test_model_predict_with_a_bad_body_is_a_usage_error(
    tmp_path: Path, body: str, expected: str
) -> None:
    """``model predict ZIP --body <config>``: a clear message naming the file, no traceback."""
    config = tmp_path / "config.json"
    config.write_text(body)
    result = CliRunner().invoke(
        cli, ["model", "predict", str(tmp_path / "m.zip"), "hi", "--body", str(config)]
    )
    assert result.exit_code == 2, result.output
    assert str(config) in result.output and expected in result.output
    assert "Traceback" not in result.output and "errors.pydantic.dev" not in result.output


def test_opensearch_reset_deletes_the_node_state_after_confirmation(tmp_path: Path) -> None:
    env = {"NEURALPIPE_HOME": str(tmp_path), "NEURALPIPE_OPENSEARCH_URL": ""}
    data = tmp_path / "nodes" / "default-3.6.0" / "data" / "nodes" / "0"
    data.mkdir(parents=True)
    (data / "segment").write_text("x")

    refused = CliRunner().invoke(cli, ["opensearch", "reset"], env=env, input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert (data / "segment").exists()

    done = CliRunner().invoke(cli, ["opensearch", "reset", "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "nodes" / "default-3.6.0").exists()
    again = CliRunner().invoke(cli, ["opensearch", "reset", "--yes"], env=env)
    assert again.exit_code == 0 and "no state" in again.output
