"""SearchPipeline against a recording client: rewrites, inline node pipeline, hybrid and rerank
handed to their processors (``run_hybrid``, ``apply_rerank``) through the registry."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from processors.cli.main import cli
from processors.cli.search_cmds import query_body
from processors.config.search_body import parse_search_pipeline
from processors.errors import InvalidQueryError, UnsupportedFeatureError
from processors.pipeline.search import SearchPipeline
from processors.search import hybrid as hybrid_module
from processors.search import rerank as rerank_module
from processors.testing.fakes import CountSparseEncoder, HashEmbedder, OverlapCrossEncoder

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
    with pytest.raises(
        InvalidQueryError, match=r"Invalid neural query: model_id must be provided\."
    ):
        _pipeline(body, Client()).search("idx", NEURAL)


def test_a_top_level_hybrid_goes_to_run_hybrid(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def run_hybrid(client: Any, index: Any, body: Any, fusion: Any, *, params: Any) -> Any:
        calls.append((client, index, body, fusion, params))
        return {"hybrid": True}

    monkeypatch.setattr(hybrid_module, "run_hybrid", run_hybrid)
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


RERANK = {"response_processors": [{"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["t"]}}}]}  # fmt: skip


def test_rerank_gets_the_response_the_config_and_the_request_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[Any, ...]] = []

    def apply_rerank(response: Any, config: Any, request_body: Any, models: Any) -> Any:
        seen.append((response, config, request_body, models))
        return {**response, "reranked": True}

    monkeypatch.setattr(rerank_module, "apply_rerank", apply_rerank)
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
    assert (
        neither.exit_code == 2
        and "exactly one of --query-text, --body and --queries" in neither.output
    )
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


# --- rerank reads the request as written; ext.neuralpipe; the rerank window; one embedding ----

DOCS = ["wing flow", "heat", "heat flow plate", "shock wave", "heat flow", "boundary layer flow"]


class PagingClient(Client):
    """Answers ``from`` / ``size`` of :data:`DOCS` in order, scores descending."""

    def search(self, index: Any = None, body: Any = None, params: Any = None) -> dict[str, Any]:
        self.searches.append((index, copy.deepcopy(body), params))
        start, size = int(body.get("from", 0)), int(body.get("size", 10))
        hits = [
            {"_id": str(i), "_score": float(len(DOCS) - i), "_source": {"t": DOCS[i]}}
            for i in range(start, min(start + size, len(DOCS)))
        ]
        total = {"value": len(DOCS), "relation": "eq"}
        return {"hits": {"total": total, "max_score": hits[0]["_score"] if hits else None, "hits": hits}}  # fmt: skip


class Counting:
    """``model_id -> model`` (``dense*`` embeds, ``sparse*`` encodes, else a cross-encoder)
    recording every model call as ``(model_id, texts)`` (a rerank call: query first)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, model_id: str) -> Any:
        calls = self.calls

        class Dense(HashEmbedder):
            def embed(self, texts: Any, content_type: Any = "passage") -> Any:
                calls.append((model_id, list(texts)))
                return super().embed(texts, content_type)

        class Sparse(CountSparseEncoder):
            def encode(self, texts: Any, content_type: Any = "passage") -> Any:
                calls.append((model_id, list(texts)))
                return super().encode(texts, content_type)

        class Cross(OverlapCrossEncoder):
            def score(self, query: str, texts: Any) -> Any:
                calls.append((model_id, [query, *texts]))
                return super().score(query, texts)

        if model_id.startswith("dense"):
            return Dense(4)
        return Sparse() if model_id.startswith("sparse") else Cross()


def _rerank_pipeline(client: Client, models_for: Any, **more: Any) -> SearchPipeline:
    body = {**ENRICH, **RERANK, **more}
    return SearchPipeline(parse_search_pipeline("p", body), models=models_for, client=client)


def _ids(response: dict[str, Any]) -> list[str]:
    return [h["_id"] for h in response["hits"]["hits"]]


PHASE: dict[str, Any] = {"phase_results_processors": [{"normalization-processor": {}}]}


def _use_hybrid(monkeypatch: pytest.MonkeyPatch, answer: Any) -> list[dict[str, Any]]:
    """Route hybrid queries to ``answer(client, index, body)``; the bodies it got."""
    seen: list[dict[str, Any]] = []

    def run_hybrid(client: Any, index: Any, body: Any, fusion: Any, *, params: Any) -> Any:
        seen.append(copy.deepcopy(body))
        return answer(client, index, body)

    monkeypatch.setattr(hybrid_module, "run_hybrid", run_hybrid)
    return seen


def _node_without_ext(client: Any, index: Any, body: Any) -> Any:
    return client.search(index, {k: v for k, v in body.items() if k != "ext"})


PATH_EXT = {"rerank": {"query_context": {"query_text_path": "query.neural.v.query_text"}}}


def test_query_text_path_into_a_neural_clause_reads_the_text_not_the_vector() -> None:
    counting = Counting()
    client = PagingClient()
    request = {"query": {"neural": {"v": {"query_text": "heat flow"}}}, "size": 6, "ext": PATH_EXT}
    out = _rerank_pipeline(client, counting).search("idx", request)
    assert counting.calls == [("dense", ["heat flow"]), ("ce", ["heat flow", *DOCS])]
    assert _ids(out)[:3] == ["2", "4", "0"]  # two words, then the first one-word hit
    sent = client.searches[0][1]
    assert "knn" in sent["query"] and "ext" not in sent


def test_query_text_path_into_a_hybrid_sub_query(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_hybrid(monkeypatch, _node_without_ext)
    counting = Counting()
    ext = {"rerank": {"query_context": {"query_text_path": "query.hybrid.queries.1.neural.v.query_text"}}}  # fmt: skip
    hybrid = {"hybrid": {"queries": [{"match": {"t": "wing"}}, {"neural": {"v": {"query_text": "shock"}}}]}}  # fmt: skip
    out = _rerank_pipeline(PagingClient(), counting, **PHASE).search(
        "idx", {"query": hybrid, "ext": ext}
    )
    assert counting.calls[-1][1][0] == "shock" and _ids(out)[0] == "3"


def test_ext_neuralpipe_never_reaches_the_node_and_hybrid_still_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = Client()
    ours = {"neuralpipe": {"hybrid_breakdown": True}, "x": {}}
    _pipeline(ENRICH, client).search("idx", {**NEURAL, "ext": copy.deepcopy(ours)})
    _pipeline(None, client).search("idx", {"ext": {"neuralpipe": {"rerank_window": 5}}})
    assert client.searches[0][1]["ext"] == {"x": {}} and "ext" not in client.searches[1][1]
    rewritten = _pipeline(ENRICH, client).rewrite({**NEURAL, "ext": copy.deepcopy(ours)})
    assert rewritten["ext"] == {"x": {}}
    seen = _use_hybrid(monkeypatch, lambda *_: RESPONSE)
    request = {"query": {"hybrid": {"queries": [NEURAL["query"]]}}, "ext": copy.deepcopy(ours)}
    _pipeline({**ENRICH, **PHASE}, client).search("idx", request)
    assert seen[0]["ext"]["neuralpipe"] == {"hybrid_breakdown": True}


WINDOW_EXT = {"rerank": {"query_context": {"query_text": "heat flow"}}, "neuralpipe": {"rerank_window": 6}}  # fmt: skip
WINDOWED = {"query": {"neural": {"v": {"query_text": "heat flow"}}}, "size": 2, "ext": WINDOW_EXT}


def test_the_rerank_window_is_fetched_and_reranked_once_then_paged() -> None:
    counting, client = Counting(), PagingClient()
    pipeline = _rerank_pipeline(client, counting)
    pages = [pipeline.search("idx", {**WINDOWED, "from": start}) for start in (0, 2, 4, 6)]
    assert [_ids(p) for p in pages] == [["2", "4"], ["0", "1"], ["5", "3"], []]
    assert [p["hits"]["max_score"] for p in pages] == [1.5] * 4
    assert all(p["hits"]["total"]["value"] == len(DOCS) for p in pages)
    [(_, sent, _)] = client.searches
    assert (sent["from"], sent["size"], "ext" in sent, "knn" in sent["query"]) == (
        0,
        6,
        False,
        True,
    )
    assert counting.calls == [("dense", ["heat flow"]), ("ce", ["heat flow", *DOCS])]
    without = _rerank_pipeline(PagingClient(), overlap_models())
    plain = [without.search("idx", {**WINDOWED, "ext": {"rerank": WINDOW_EXT["rerank"]}, "from": s}) for s in (0, 2)]  # fmt: skip
    assert [_ids(p) for p in plain] == [["0", "1"], ["2", "3"]]  # the plugin: each page alone


def test_url_from_and_size_page_the_window_and_other_params_split_the_cache() -> None:
    counting, client = Counting(), PagingClient()
    pipeline = _rerank_pipeline(client, counting)
    first = pipeline.search("idx", WINDOWED, {"from": "2", "size": "3", "routing": "a"})
    assert _ids(first) == ["0", "1", "5"]
    assert client.searches[0][2] == {"routing": "a"}
    pipeline.search("idx", WINDOWED, {"from": "0", "routing": "a"})
    pipeline.search("idx", WINDOWED, {"routing": "b"})
    pipeline.search("other", WINDOWED, {"routing": "b"})
    assert [s[0] for s in client.searches] == ["idx", "idx", "other"]


def test_window_without_a_rerank_step_is_plain_search_and_bad_windows_are_refused() -> None:
    client = PagingClient()
    out = _pipeline(ENRICH, client).search("idx", {**WINDOWED, "from": 2})
    assert _ids(out) == ["2", "3"] and client.searches[0][1]["size"] == 2
    for bad in (0, "5", True, 10_001):
        request = {**WINDOWED, "ext": {"neuralpipe": {"rerank_window": bad}}}
        with pytest.raises(InvalidQueryError, match="rerank_window must be an integer"):
            _rerank_pipeline(PagingClient(), Counting()).search("idx", request)


def test_window_with_hybrid_keeps_the_other_neuralpipe_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _use_hybrid(monkeypatch, _node_without_ext)
    pipeline = _rerank_pipeline(PagingClient(), Counting(), **PHASE)
    ext = {**WINDOW_EXT, "neuralpipe": {"rerank_window": 6, "hybrid_breakdown": True}}
    hybrid = {"hybrid": {"queries": [{"match": {"t": "heat"}}, WINDOWED["query"]]}}
    for start in (0, 2):
        pipeline.search("idx", {"query": hybrid, "size": 2, "from": start, "ext": ext})
    [body] = seen
    assert body["ext"] == {"neuralpipe": {"hybrid_breakdown": True}}
    assert (body["from"], body["size"]) == (0, 6)


def overlap_models() -> Any:
    return lambda model_id: HashEmbedder(4) if model_id == "dense" else OverlapCrossEncoder()


def test_one_model_call_per_model_however_many_clauses_share_a_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use_hybrid(monkeypatch, lambda *_: RESPONSE)
    counting = Counting()
    defaults = {"v": "dense", "w": "dense", "s": "sparse-tok"}
    spec = parse_search_pipeline("p", {
        "request_processors": [{"neural_query_enricher": {"neural_field_default_id": defaults}}],
        **PHASE,
    })  # fmt: skip
    pipeline = SearchPipeline(spec, models=counting, client=Client())
    text = "heat flow"
    request = {
        "query": {"hybrid": {"queries": [
            {"neural": {"v": {"query_text": text}}},
            {"bool": {"should": [
                {"neural": {"w": {"query_text": text, "k": 3}}},
                {"neural_sparse": {"s": {"query_text": text}}},
                {"neural": {"v": {"query_text": "shock", "model_id": "dense"}}},
            ]}},
            {"neural_sparse": {"s": {"query_text": text, "model_id": "sparse-tok"}}},
        ]}},
        "post_filter": {"neural": {"v": {"query_text": text, "model_id": "dense"}}},
    }  # fmt: skip
    pipeline.search("idx", request)
    assert sorted(counting.calls) == [("dense", [text, "shock"]), ("sparse-tok", [text])]
    counting.calls.clear()
    plain = SearchPipeline(
        None, models=counting, client=Client(), analyzers={"bert-uncased": "sparse-tok"}
    )
    should = [
        {"neural_sparse": {"s": {"query_text": text}}},  # the default analyzer, bert-uncased
        {"neural_sparse": {"s": {"query_text": text, "analyzer": "bert-uncased"}}},
        {"neural_sparse": {"s": {"query_text": text, "model_id": "sparse-tok"}}},
    ]
    sent = plain.rewrite({"query": {"bool": {"should": should}}})
    assert counting.calls == [("sparse-tok", [text])]
    model_clause = sent["query"]["bool"]["should"][2]
    assert sent["query"]["bool"]["should"][0] == sent["query"]["bool"]["should"][1]
    assert "rank_feature" in json.dumps(model_clause)
