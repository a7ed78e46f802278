"""Search pipeline bodies: every error with its path, did-you-mean, core steps kept verbatim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from processors.cli.main import cli
from processors.config.search_body import (
    find_search_pipeline,
    load_search_pipeline,
    parse_search_pipeline,
)
from processors.errors import ConfigError
from processors.search.fusion_config import NormalizationConfig, RRFConfig
from processors.search.neural_query_enricher import NeuralQueryEnricherConfig
from processors.search.rerank import RerankConfig

REPO = Path(__file__).resolve().parents[3]
FULL = {
    "description": "everything",
    "version": 3,
    "request_processors": [
        {"filter_query": {"query": {"term": {"lang": "en"}}}},
        {"neural_query_enricher": {"default_model_id": "m", "tag": "t"}},
        {"oversample": {"sample_factor": 2}},
    ],
    "phase_results_processors": [
        {"normalization-processor": {"combination": {"technique": "harmonic_mean"}}}
    ],
    "response_processors": [
        {"truncate_hits": {}},
        {"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["text"]}}},
    ],
}


def _errors(body: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_search_pipeline("p", body)
    return str(caught.value)


def test_ours_are_parsed_and_core_steps_kept_for_the_node() -> None:
    spec = parse_search_pipeline("p", FULL)
    assert [(s.type_name, s.runs_on_node) for s in spec.request] == [
        ("filter_query", True),
        ("neural_query_enricher", False),
        ("oversample", True),
    ]
    assert isinstance(spec.request[1].config, NeuralQueryEnricherConfig)
    assert isinstance(spec.phase_results[0].config, NormalizationConfig)
    assert spec.phase_results[0].config.combination == "harmonic_mean"
    assert spec.response[1].config == RerankConfig(
        "ml_opensearch", model_id="ce", document_fields=("text",)
    )
    assert spec.node_pipeline() == {
        "request_processors": [
            {"filter_query": {"query": {"term": {"lang": "en"}}}},
            {"oversample": {"sample_factor": 2}},
        ],
        "response_processors": [{"truncate_hits": {}}],
    }


def test_score_ranker_is_parsed_and_an_empty_pipeline_is_valid() -> None:
    spec = parse_search_pipeline(
        "p", {"phase_results_processors": [{"score-ranker-processor": {}}]}
    )
    assert isinstance(spec.phase_results[0].config, RRFConfig)
    empty = parse_search_pipeline("e", {"description": "nothing"})
    assert (empty.request, empty.response, empty.phase_results, empty.node_pipeline()) == (
        (),
        (),
        (),
        None,
    )


def test_every_error_is_listed_with_its_path() -> None:
    body = {
        "descripton": "typo",
        "version": "v1",
        "request_processors": [
            {"neural_query_enricher": {}},
            {"filter_qurey": {}},
            {"rerank": {"by_field": {"target_field": "x"}}},
        ],
        "response_processors": [
            {"rerank": {"ml_opensearch": {}, "context": {"document_fields": []}}},
            {"retrieval_augmented_generation": {}},
        ],
        "phase_results_processors": {"normalization-processor": {}},
    }
    text = _errors(body)
    assert "9 error(s)" in text
    for line in [
        "p.descripton: unknown key. Did you mean 'description'?",
        "p.version: [version] property cannot be converted to an int [v1]",
        "p.request_processors[0].neural_query_enricher: model Id or neural info map either of them should be provided",
        "p.request_processors[1]: Invalid processor type filter_qurey. Did you mean 'filter_query'?",
        "p.request_processors[2]: Invalid processor type rerank (it belongs in response_processors)",
        "p.response_processors[0].rerank.context.document_fields: document_fields must be nonempty",
        "p.response_processors[0].rerank.model_id: [model_id] required property is missing",
        "p.response_processors[1]: search processor [retrieval_augmented_generation] is not emulated by neuralpipe",
        "p.phase_results_processors: [phase_results_processors] property isn't a list, but of type [java.util.LinkedHashMap]",
    ]:
        assert line in text, line


def test_fusion_option_errors_carry_their_path() -> None:
    body = {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "max"},
                    "combination": {"parameters": {"weights": [0.9, 0.9]}},
                }
            }
        ]
    }
    text = _errors(body)
    assert (
        "p.phase_results_processors[0].normalization-processor.normalization.technique: provided normalization technique is not supported"
        in text
    )
    assert (
        "sum of weights for combination must be equal to 1.0, submitted weights: [0.9, 0.9]" in text
    )


def test_core_response_processors_after_ours_cannot_run_on_the_node() -> None:
    body = {
        "response_processors": [
            {"rerank": {"by_field": {"target_field": "s"}}},
            {"truncate_hits": {}},
        ]
    }
    assert "[truncate_hits] after [rerank] is not emulated" in _errors(body)


def test_a_body_must_be_an_object_and_entries_maps() -> None:
    assert "must be an object" in _errors([1])
    assert "a processor entry is a map" in _errors({"request_processors": ["filter_query"]})


def test_rerank_options_errors_carry_their_path() -> None:
    body = {"response_processors": [{"rerank": {"by_field": {"target_field": "s", "keep_previous_score": "yes"}}}]}  # fmt: skip
    assert (
        "p.response_processors[0].rerank.keep_previous_score: [keep_previous_score] property "
        "isn't a boolean, but of type [java.lang.String]"
    ) in _errors(body)


def test_yaml_and_json_twins_and_lookup_by_id(tmp_path: Path) -> None:
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "full.yaml").write_text(yaml.safe_dump(FULL))
    twin = tmp_path / "full.json"
    twin.write_text(json.dumps(FULL))
    found = find_search_pipeline(tmp_path, "full")
    assert found == tmp_path / "search" / "full.yaml"
    assert load_search_pipeline(found) == load_search_pipeline(twin)
    assert find_search_pipeline(tmp_path, str(twin)) == twin
    with pytest.raises(ConfigError, match=r"search pipeline \[nope\] not found"):
        find_search_pipeline(tmp_path, "nope")


def test_shipped_search_pipelines_are_valid() -> None:
    paths = sorted((REPO / "pipelines" / "search").glob("*.yaml"))
    assert paths
    for path in paths:
        load_search_pipeline(path)


def test_pipeline_validate_cli_knows_search_pipelines(tmp_path: Path) -> None:
    folder = tmp_path / "search"
    folder.mkdir()
    good, bad = folder / "good.yaml", folder / "bad.yaml"
    good.write_text(yaml.safe_dump(FULL))
    bad.write_text(yaml.safe_dump({"request_processors": [{"neural_query_enricher": {}}]}))
    ok = CliRunner().invoke(cli, ["pipeline", "validate", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "ok (3 neuralpipe, 3 node processors)" in ok.output
    failed = CliRunner().invoke(cli, ["pipeline", "validate", str(good), str(bad)])
    assert failed.exit_code == 2
    assert "model Id or neural info map" in failed.output
