"""Ingest pipeline bodies: every error with its path, did-you-mean, YAML and JSON twins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from processors.cli.main import cli
from processors.config.ingest_body import load_ingest_pipeline, parse_ingest_pipeline
from processors.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_shipped_pipeline_loads_with_ours_and_node_steps() -> None:
    spec = load_ingest_pipeline(REPO / "pipelines/ingest/demo-embed.yaml")
    assert spec.pipeline_id == "demo-embed"
    assert [s.type_name for s in spec.steps] == ["set", "text_embedding", "sparse_encoding"]
    assert [s.runs_on_node for s in spec.steps] == [True, False, False]


def test_yaml_and_json_twins_parse_identically(tmp_path: Path) -> None:
    body = yaml.safe_load((REPO / "pipelines/ingest/demo-embed.yaml").read_text())
    twin = tmp_path / "demo-embed.json"
    twin.write_text(json.dumps(body))
    assert load_ingest_pipeline(twin) == load_ingest_pipeline(
        REPO / "pipelines/ingest/demo-embed.yaml"
    )


def test_every_error_is_listed_with_its_path() -> None:
    body = {
        "descripton": "typo",
        "processors": [
            {"text_embeding": {"model_id": "m", "field_map": {"a": "b"}}},
            {
                "sparse_encoding": {
                    "model_id": "m",
                    "field_map": {"a": "b"},
                    "prune_type": "max_ratio",
                    "prune_ratio": 2,
                }
            },
            {"text_embedding": {"field_map": {"a": "b"}, "batch_size": 0}},
            {"set": {"field": "x", "value": 1}, "rename": {}},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_ingest_pipeline("p", body)
    text = str(caught.value)
    assert "6 error(s)" in text
    assert "p.descripton: unknown key. Did you mean 'description'?" in text
    assert (
        "p.processors[0]: No processor type exists with name [text_embeding]. Did you mean 'text_embedding'?"
        in text
    )
    assert (
        "p.processors[1].sparse_encoding.prune_ratio: Illegal prune_ratio 2.000000 for prune_type: max_ratio"
        in text
    )
    assert (
        "p.processors[2].text_embedding.model_id: [model_id] required property is missing" in text
    )
    assert (
        "p.processors[2].text_embedding.batch_size: [batch_size] batch size must be a positive integer"
        in text
    )
    assert "p.processors[3]: a processor entry is a map with exactly one key" in text


def test_unsupported_features_are_errors_not_skips() -> None:
    body = {"processors": [
        {"text_embedding": {"model_id": "m", "field_map": {"a": "b"}, "if": "ctx.a != null"}},
        {"text_chunking": {"field_map": {"a": "b"}, "algorithm": {"delimiter": {}}, "if": "true"}},
    ]}  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse_ingest_pipeline("p", body)
    assert "p.processors[0].text_embedding.if: a Painless condition" in str(caught.value)
    assert "p.processors[1].text_chunking.if: a Painless condition" in str(caught.value)


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    good = REPO / "pipelines/ingest/demo-embed.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("processors:\n  - sett: {field: a, value: 1}\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["pipeline", "validate", str(good)]).exit_code == 0
    result = runner.invoke(cli, ["pipeline", "validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert (
        "bad.processors[0]: No processor type exists with name [sett]. Did you mean 'set'?"
        in result.output
    )
