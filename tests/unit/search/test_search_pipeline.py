"""SearchPipeline against a recording client: rewrites, inline node pipeline, the two seams."""

from __future__ import annotations

import copy
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from processors.cli.main import cli
from processors.cli.search_cmds import query_body
from processors.config.search_body import parse_search_pipeline
from processors.errors import InvalidQueryError, UnsupportedFeatureError
from processors.pipeline import search as search_module
from processors.pipeline.search import SearchPipeline
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

RESPONSE = {"hits": {"total": {"value": 1, "relation": "eq"}, "max_score": 1.0, "hits": [{"_id": "1", "_score": 1.0}]}}  # fmt: skip


class Indices:
    def __init__(self, types_by_field: dict[str, str]) -> None:
        self.types = types_by_field
        self.calls: list[tuple[str, str]] = []

    def get_field_mapping(self, index: str, fields: str) -> dict[str, Any]:
        self.calls.append((index, fields))
        mappings = {
            f: {"full_name": f, "mapping": {f: {"type": self.types[f]}}}
            for f in fields.split(",")
            if f in self.types
        }
        return {"idx": {"mappings": mappings}}


class Client:
    def __init__(self, types_by_field: dict[str, str] | None = None) -> None:
        self.searches: list[tuple[Any, dict[str, Any], Any]] = []
        self.indices = Indices(types_by_field or {"s": "rank_features", "t": "text"})

    def search(self, index: Any = None, body: Any = None, params: Any = None) -> dict[str, Any]:
        self.searches.append((index, copy.deepcopy(body), params))
        return copy.deepcopy(RESPONSE)


def models(model_id: str) -> Any:
    return CountSparseEncoder() if model_id.startswith("sparse") else HashEmbedder(4)


def _pipeline(body: dict[str, Any] | None, client: Client) -> SearchPipeline:
    spec = parse_search_pipeline("p", body) if body is not None else None
    return SearchPipeline(spec, models=models, client=client)


NEURAL = {"query": {"neural": {"v": {"query_text": "hello"}}}, "size": 3}
ENRICH = {"request_processors": [{"neural_query_enricher": {"default_model_id": "dense"}}]}


def test_without_core_steps_the_node_gets_the_rewritten_query_only() -> None:
    client = Client()
    out = _pipeline(ENRICH, client).search("idx", NEURAL, {"timeout": "5s"})
    assert out == RESPONSE
    [(index, body, params)] = client.searches
    assert (index, params, body["size"]) == ("idx", {"timeout": "5s"}, 3)
    assert set(body["query"]["knn"]["v"]) == {"vector", "k"}
    assert "search_pipeline" not in body
    assert NEURAL["query"] == {"neural": {"v": {"query_text": "hello"}}}  # caller's body untouched


def test_core_steps_travel_as_an_inline_search_pipeline() -> None:
    client = Client()
    body = {
        **ENRICH,
        "request_processors": [
            *ENRICH["request_processors"],
            {"filter_query": {"query": {"term": {"t": "x"}}}},
        ],
        "response_processors": [{"rename_field": {"field": "a", "target_field": "b"}}],
    }
    _pipeline(body, client).search("idx", NEURAL)
    assert client.searches[0][1]["search_pipeline"] == {
        "request_processors": [{"filter_query": {"query": {"term": {"t": "x"}}}}],
        "response_processors": [{"rename_field": {"field": "a", "target_field": "b"}}],
    }


def test_ext_rerank_is_removed_and_other_ext_kept() -> None:
    client = Client()
    body = {
        "query": {"match_all": {}},
        "ext": {"rerank": {"query_context": {"query_text": "q"}}, "x": {}},
    }
    _pipeline(None, client).search("idx", body)
    assert client.searches[0][1]["ext"] == {"x": {}}
    _pipeline(None, client).search("idx", {"ext": {"rerank": {}}})
    assert "ext" not in client.searches[1][1]


def test_an_inline_search_pipeline_in_the_request_is_refused() -> None:
    with pytest.raises(UnsupportedFeatureError):
        _pipeline(None, Client()).search("idx", {"search_pipeline": {}})


def test_neural_sparse_only_on_rank_features_fields_checked_once() -> None:
    client = Client()
    pipeline = _pipeline(None, client)
    good = {"query": {"neural_sparse": {"s": {"query_tokens": {"a": 1}}}}}
    pipeline.search("idx", good)
    pipeline.search("idx", good)
    assert client.indices.calls == [("idx", "s")]
    for field in ("t", "missing"):
        bad = {"query": {"neural_sparse": {field: {"query_tokens": {"a": 1}}}}}
        with pytest.raises(InvalidQueryError) as caught:
            pipeline.search("idx", bad)
        assert str(caught.value) == "[neural_sparse] query only works on [rank_features] fields"


def test_enricher_with_ignore_failure_lets_the_query_fail_on_its_own() -> None:
    body = {"request_processors": [{"neural_query_enricher": {"neural_field_default_id": {"x": "m"}, "ignore_failure": True}}]}  # fmt: skip
    with pytest.raises(InvalidQueryError, match="model_id must be provided"):
        _pipeline(body, Client()).search("idx", NEURAL)


@pytest.fixture
def fake_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("fake_seam")
    monkeypatch.setitem(sys.modules, "fake_seam", module)
    yield module


def test_a_top_level_hybrid_goes_to_run_hybrid(
    fake_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    def run_hybrid(client: Any, index: Any, body: Any, fusion: Any, *, params: Any) -> Any:
        calls.append((client, index, body, fusion, params))
        return {"hybrid": True}

    fake_module.run_hybrid = run_hybrid  # type: ignore[attr-defined]
    monkeypatch.setattr(search_module, "HYBRID_MODULE", "fake_seam")
    client = Client()
    body = {**ENRICH, "phase_results_processors": [{"normalization-processor": {}}]}
    pipeline = _pipeline(body, client)
    request = {"query": {"hybrid": {"queries": [{"match": {"t": "a"}}, NEURAL["query"]]}}}
    assert pipeline.search("idx", request, {"size": 5}) == {"hybrid": True}
    assert pipeline.search(None, request) == {"hybrid": True}
    [(got_client, index, sent, fusion, params), second] = calls
    assert (got_client, index, params, second[1]) == (client, "idx", {"size": 5}, "_all")
    assert "knn" in sent["query"]["hybrid"]["queries"][1]
    assert fusion == pipeline.spec.phase_results[0].config  # type: ignore[union-attr]
    assert client.searches == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ENRICH, "a hybrid query needs a normalization-processor or score-ranker-processor"),
        (
            {
                "phase_results_processors": [{"score-ranker-processor": {}}],
                "request_processors": [{"oversample": {"sample_factor": 2}}],
            },
            "core search processors (run on the node) together with a hybrid query",
        ),
    ],
)
def test_hybrid_needs_a_fusion_step_and_no_core_steps(body: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=re.escape(message)):
        _pipeline(body, Client()).search("idx", {"query": {"hybrid": {"queries": []}}})


def test_hybrid_without_its_module_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "HYBRID_MODULE", "processors.search.no_such_module")
    with pytest.raises(UnsupportedFeatureError, match="no_such_module is missing"):
        body: dict[str, Any] = {"phase_results_processors": [{"score-ranker-processor": {}}]}
        _pipeline(body, Client()).search("idx", {"query": {"hybrid": {"queries": []}}})


RERANK = {"response_processors": [{"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["t"]}}}]}  # fmt: skip


def test_rerank_gets_the_response_the_config_and_the_request_as_written(
    fake_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, ...]] = []

    def apply_rerank(response: Any, config: Any, request_body: Any, models: Any) -> Any:
        seen.append((response, config, request_body, models))
        return {**response, "reranked": True}

    fake_module.apply_rerank = apply_rerank  # type: ignore[attr-defined]
    monkeypatch.setattr(search_module, "RERANK_MODULE", "fake_seam")
    request = {**NEURAL, "ext": {"rerank": {"query_context": {"query_text": "q"}}}}
    pipeline = SearchPipeline(
        parse_search_pipeline("p", {**ENRICH, **RERANK}), models=models, client=Client()
    )
    out = pipeline.search("idx", request)
    assert out["reranked"] is True
    [(response, config, request_body, got_models)] = seen
    assert response == RESPONSE and config.model_id == "ce" and got_models is models
    assert request_body["ext"]["rerank"] == {"query_context": {"query_text": "q"}}
    assert request_body["query"] == NEURAL["query"]


def test_query_text_bodies() -> None:
    assert query_body("hi", "match", None, None, 5) == {
        "size": 5,
        "query": {"match": {"text": "hi"}},
    }
    assert query_body("hi", "neural", None, "m", 3) == {
        "size": 3, "query": {"neural": {"text_embedding": {"query_text": "hi", "model_id": "m", "k": 3}}}
    }  # fmt: skip
    assert query_body("hi", "neural_sparse", "f", None, 10) == {
        "size": 10, "query": {"neural_sparse": {"f": {"query_text": "hi"}}}
    }  # fmt: skip


def test_search_cli_usage_and_show_request(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["search", "--help"]).exit_code == 0
    neither = runner.invoke(cli, ["search", "--index", "i"])
    assert neither.exit_code == 2 and "exactly one of --query-text and --body" in neither.output
    body = tmp_path / "q.yaml"
    body.write_text(yaml.safe_dump({"query": {"neural_sparse": {"s": {"query_tokens": {"a": 2}}}}}))
    (tmp_path / "search").mkdir()
    spec = tmp_path / "search" / "p.yaml"
    spec.write_text(
        yaml.safe_dump({"response_processors": [{"truncate_hits": {"target_size": 1}}]})
    )
    shown = runner.invoke(cli, ["search", "--index", "i", "--body", str(body), "--pipeline", str(spec), "--show-request"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == {
        "query": {
            "bool": {"should": [{"rank_feature": {"field": "s.a", "linear": {}, "boost": 2.0}}]}
        },
        "search_pipeline": {"response_processors": [{"truncate_hits": {"target_size": 1}}]},
    }
    bad = runner.invoke(cli, ["search", "--index", "i", "--query-text", "x", "--pipeline", "nope", "--show-request"])  # fmt: skip
    assert bad.exit_code == 2 and "search pipeline [nope] not found" in bad.output
