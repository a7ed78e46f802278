"""``neuralpipe pipeline simulate``: the node's own ``_simulate`` shapes, with our processors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from processors.cli.main import cli
from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import UnsupportedFeatureError
from processors.models.build.builder import build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.pipeline.simulate import ingest_timestamp, simulate
from processors.testing.fakes import HashEmbedder
from processors.testing.tiny_models import HIDDEN, build_tiny_sources

pytestmark = pytest.mark.integration

CORE = {
    "description": "core processors only",
    "processors": [
        {"set": {"field": "seen", "value": True, "tag": "mark"}},
        {"drop": {"if": "ctx.kind == 'junk'"}},
        {"lowercase": {"field": "title", "description": "lower the title"}},
        {"uppercase": {"field": "missing", "ignore_failure": True}},
    ],
}
CORE_DOCS = [
    {"_index": "books", "_id": "1", "_routing": "r1", "_source": {"title": "ABC"}},
    {"_id": 2, "_source": {"kind": "junk", "title": "X"}},
    {"_source": {"title": 5}},
]
MIXED = {
    "processors": [
        {"set": {"field": "stage", "value": "before"}},
        {"text_embedding": {"model_id": "tiny-embed", "tag": "embed",
                            "field_map": {"text": "text_embedding"}}},
        {"drop": {"if": "ctx.text == 'drop me'"}},
        {"rename": {"field": "stage", "target_field": "stage_after"}},
    ]
}  # fmt: skip
MIXED_DOCS = [
    {"_id": "ok", "_source": {"text": "hello world"}},
    {"_id": "dropped", "_source": {"text": "drop me"}},
    {"_id": "bad", "_source": {"text": 5}},
]
NOT_STRING = "map type field [text] is neither string nor nested type, cannot process it"


@pytest.fixture(scope="module")
def pipelines_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ingest/`` with the test pipelines and ``models/tiny-embed.yaml`` (a tiny ONNX model)."""
    root = tmp_path_factory.mktemp("simulate")
    sources = build_tiny_sources(root / "sources")
    (built,) = build_model(
        sources.embed, FunctionName.TEXT_EMBEDDING, model_id="tiny-embed",
        formats=[ModelFormat.ONNX], cache_dir=root / "zips", yaml_dir=None,
    )  # fmt: skip
    (root / "models").mkdir()
    body = {**built.registration.to_body(), "url": built.zip_path.resolve().as_uri()}
    (root / "models" / "tiny-embed.yaml").write_text(yaml.safe_dump(body))
    (root / "ingest").mkdir()
    (root / "ingest" / "mixed.yaml").write_text(yaml.safe_dump(MIXED, sort_keys=False))
    return root


@pytest.fixture
def core_pipeline(client: Any, pipelines_dir: Path) -> Iterator[str]:
    """The CORE body, both on the node and as ``ingest/<same id>.json``."""
    pipeline_id = f"test-{uuid.uuid4().hex[:12]}"
    client.ingest.put_pipeline(id=pipeline_id, body=CORE)
    (pipelines_dir / "ingest" / f"{pipeline_id}.json").write_text(json.dumps(CORE))
    yield pipeline_id
    client.ingest.delete_pipeline(id=pipeline_id, ignore=[404])


def run(opensearch_url: str, pipelines_dir: Path, *args: str, stdin: str | None = None) -> Result:
    env = {"NEURALPIPE_OPENSEARCH_URL": opensearch_url,
           "NEURALPIPE_PIPELINES_DIR": str(pipelines_dir)}  # fmt: skip
    return CliRunner().invoke(cli, ["pipeline", "simulate", *args], env=env, input=stdin)


def answer(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "T" if k == "timestamp" else without_timestamps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_timestamps(v) for v in value]
    return value


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_core_pipeline_answers_exactly_as_the_node(
    client: Any, opensearch_url: str, pipelines_dir: Path, core_pipeline: str, verbose: bool
) -> None:
    body_file = pipelines_dir / "docs.json"
    body_file.write_text(json.dumps({"docs": CORE_DOCS}))
    flags = ["--verbose"] if verbose else []
    ours = answer(
        run(opensearch_url, pipelines_dir, core_pipeline, "--docs", str(body_file), *flags)
    )
    params = {"verbose": "true"} if verbose else None
    node = client.transport.perform_request(
        "POST", f"/_ingest/pipeline/{core_pipeline}/_simulate", params=params,
        body={"docs": CORE_DOCS},
    )  # fmt: skip
    assert without_timestamps(ours) == without_timestamps(node)
    if not verbose:
        assert ours["docs"][1] is None  # dropped
        assert ours["docs"][2]["error"]["type"] == "illegal_argument_exception"


def test_mixed_pipeline_plain(opensearch_url: str, pipelines_dir: Path) -> None:
    docs = "\n".join(json.dumps(d) for d in MIXED_DOCS)
    ok, dropped, bad = answer(
        run(opensearch_url, pipelines_dir, "mixed", "--docs", "-", stdin=docs)
    )["docs"]
    assert list(ok) == ["doc"]
    assert list(ok["doc"]) == ["_index", "_id", "_source", "_ingest"]
    assert ok["doc"]["_index"] == "_index" and ok["doc"]["_id"] == "ok"
    source = ok["doc"]["_source"]
    assert source["stage_after"] == "before" and "stage" not in source
    assert len(source["text_embedding"]) == HIDDEN
    assert list(ok["doc"]["_ingest"]) == ["timestamp"]
    assert ok["doc"]["_ingest"]["timestamp"].endswith("Z")
    assert dropped is None
    cause = {"type": "illegal_argument_exception", "reason": NOT_STRING}
    assert bad == {"error": {"root_cause": [cause], **cause}}


def test_mixed_pipeline_verbose(opensearch_url: str, pipelines_dir: Path) -> None:
    args = [f"--doc={json.dumps(d)}" for d in MIXED_DOCS]
    ok, dropped, bad = answer(run(opensearch_url, pipelines_dir, "mixed", "-v", *args))["docs"]
    steps = ok["processor_results"]
    assert [(r["processor_type"], r["status"]) for r in steps] == [
        ("set", "success"), ("text_embedding", "success"), ("drop", "skipped"),
        ("rename", "success"),
    ]  # fmt: skip
    embed = steps[1]
    assert list(embed) == ["processor_type", "status", "tag", "doc"] and embed["tag"] == "embed"
    assert len(embed["doc"]["_source"]["text_embedding"]) == HIDDEN
    assert "text_embedding" not in steps[0]["doc"]["_source"]
    assert steps[2]["if"] == {"condition": "ctx.text == 'drop me'", "result": False}
    stamps = {r["doc"]["_ingest"]["timestamp"] for r in steps if "doc" in r}
    assert len(stamps) == 1  # one ingest timestamp per document, as on the node
    assert {r["doc"]["_ingest"]["pipeline"] for r in steps if "doc" in r} == {"mixed"}
    assert [r["status"] for r in dropped["processor_results"]] == ["success", "success", "dropped"]
    failed = bad["processor_results"]
    assert [r["status"] for r in failed] == ["success", "error"]
    assert failed[1]["error"]["reason"] == NOT_STRING and "doc" not in failed[1]


def test_simulate_body_file_with_bare_sources_and_ids(
    opensearch_url: str, pipelines_dir: Path
) -> None:
    docs = pipelines_dir / "bare.jsonl"
    docs.write_text('{"_id": 7, "text": "one"}\n\n{"text": "two"}\n')
    first, second = answer(run(opensearch_url, pipelines_dir, "mixed", "--docs", str(docs)))["docs"]
    assert first["doc"]["_id"] == "7" and "_id" not in first["doc"]["_source"]
    assert second["doc"]["_id"] == "_id" and second["doc"]["_source"]["text"] == "two"


def test_usage_errors_exit_2(opensearch_url: str, pipelines_dir: Path) -> None:
    assert run(opensearch_url, pipelines_dir, "mixed").exit_code == 2
    assert run(opensearch_url, pipelines_dir, "nope", "--doc", "{}").exit_code == 2
    broken = run(opensearch_url, pipelines_dir, "mixed", "--doc", "{nope")
    assert broken.exit_code == 2 and "--doc[0]: not valid JSON" in broken.output
    empty = run(opensearch_url, pipelines_dir, "mixed", "--doc", '{"docs": []}')
    assert empty.exit_code == 2 and "at least one document" in empty.output
    extra = run(opensearch_url, pipelines_dir, "mixed", "--doc", '{"_source": {}, "x": 1}')
    assert extra.exit_code == 2 and "unknown keys ['x']" in extra.output


def test_help() -> None:
    result = CliRunner().invoke(cli, ["pipeline", "simulate", "--help"])
    assert result.exit_code == 0 and "--verbose" in result.output


def test_python_api_ignore_failure_and_hash_embedder(client: Any) -> None:
    body = {"processors": [
        {"text_embedding": {"model_id": "m", "field_map": {"text": "vec"}, "ignore_failure": True,
                            "description": "vectors"}},
        {"set": {"field": "after", "value": 1}},
    ]}  # fmt: skip
    spec = parse_ingest_pipeline("hashed", body)
    docs = [{"_id": "a", "_source": {"text": 5}}, {"_id": "b", "_source": {"text": "hi"}}]
    verbose = simulate(spec, docs, encoders=lambda _: HashEmbedder(4), client=client, verbose=True)
    ignored, fine = (d["processor_results"] for d in verbose["docs"])
    assert list(ignored[0]) == ["processor_type", "status", "description", "ignored_error", "doc"]
    assert ignored[0]["status"] == "error_ignored"
    assert ignored[0]["ignored_error"]["error"]["reason"] == NOT_STRING
    assert ignored[1]["doc"]["_source"] == {"text": 5, "after": 1}
    assert len(fine[1]["doc"]["_source"]["vec"]) == 4
    plain = simulate(spec, docs, encoders=lambda _: HashEmbedder(4), client=client)
    assert [d["doc"]["_source"]["after"] for d in plain["docs"]] == [1, 1]
    assert docs[1]["_source"] == {"text": "hi"}  # inputs untouched


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_pipeline_level_on_failure_of_a_core_pipeline_answers_as_the_node(
    client: Any, verbose: bool
) -> None:
    body = {
        "processors": [{"lowercase": {"field": "missing", "tag": "low"}},
                       {"set": {"field": "after", "value": 1}}],
        "on_failure": [{"set": {"field": "why", "value": "{{{_ingest.on_failure_message}}}"}}],
    }  # fmt: skip
    pipeline_id = f"np-on-failure-{uuid.uuid4().hex[:8]}"
    docs = [{"_id": "1", "_source": {"a": 1}}, {"_id": "2", "_source": {"missing": "ABC"}}]
    client.ingest.put_pipeline(id=pipeline_id, body=body)
    try:
        params = {"verbose": "true"} if verbose else None
        node = client.transport.perform_request(
            "POST", f"/_ingest/pipeline/{pipeline_id}/_simulate", params=params, body={"docs": docs}
        )
    finally:
        client.ingest.delete_pipeline(id=pipeline_id)
    spec = parse_ingest_pipeline(pipeline_id, body)
    ours = simulate(spec, docs, encoders=print, client=client, verbose=verbose)
    assert without_timestamps(ours) == without_timestamps(node)
    if not verbose:
        handled, fine = (d["doc"]["_source"] for d in ours["docs"])
        assert "missing" in handled["why"] and "after" not in handled  # stopped, then handled
        assert fine == {"missing": "abc", "after": 1}


def test_pipeline_level_on_failure_around_our_processors_is_refused(client: Any) -> None:
    steps = [{"set": {"field": "a", "value": 1}}, {"text_embedding": {"model_id": "m",
             "field_map": {"t": "v"}}}]  # fmt: skip
    spec = parse_ingest_pipeline("p", {"processors": steps})
    spec.body["on_failure"] = [{"set": {"field": "failed", "value": True}}]  # past the parser
    with pytest.raises(
        UnsupportedFeatureError, match=r"p\.on_failure: a pipeline-level on_failure"
    ):
        simulate(spec, [{"_source": {}}], encoders=lambda _: HashEmbedder(4), client=client)


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (1_700_000_000_000_000_000, "2023-11-14T22:13:20Z"),
        (1_700_000_000_120_000_000, "2023-11-14T22:13:20.120Z"),
        (1_700_000_000_123_456_000, "2023-11-14T22:13:20.123456Z"),
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456789Z"),
        (1_699_999_980_000_000_000, "2023-11-14T22:13Z"),
    ],
)
def test_ingest_timestamp_is_java_zoned_date_time(nanos: int, text: str) -> None:
    assert ingest_timestamp(nanos) == text
