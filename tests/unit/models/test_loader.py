from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.errors import (
    BackendUnavailableError,
    ModelError,
    ModelMemoryError,
    ModelNotRegisteredError,
)
from processors.models.artifact import ModelArtifact
from processors.models.build.builder import build_model
from processors.models.bundled import tokenizer_zip
from processors.models.loader import check_memory, load_model
from processors.models.registration import FunctionName, ModelFormat, ModelRegistration
from processors.models.runtimes import plan_batches
from processors.models.sparse_tokenize import SparseTokenizer
from processors.models.store import ModelStore, yaml_resolver

BERT_UNCASED = tokenizer_zip("bert-uncased")


@pytest.fixture
def tokenize_zip(tmp_path: Path, tokenizer_json: Path) -> tuple[Path, ModelRegistration]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "tokenizer.json").write_bytes(tokenizer_json.read_bytes())
    (src / "idf.json").write_text(json.dumps({"hello": 2.5}))
    (result,) = build_model(
        src,
        FunctionName.SPARSE_TOKENIZE,
        model_id="tok",
        cache_dir=tmp_path / "models",
        yaml_dir=tmp_path / "yaml",
    )
    return result.zip_path, result.registration


def test_sparse_tokenize_distinct_first_occurrence(
    tokenize_zip: tuple[Path, ModelRegistration],
) -> None:
    model = load_model(*tokenize_zip)
    assert isinstance(model, SparseTokenizer)
    out = model.encode(["world hello world"])
    assert list(out[0].items()) == [("world", 1.0), ("hello", 2.5)]
    ids = model.encode(["hello"], token_ids=True)[0]
    assert list(ids) == [str(model.tokenizer._raw.token_to_id("hello"))]


def test_reference_example_bert_uncased(tmp_path: Path) -> None:
    (result,) = build_model(
        BERT_UNCASED,
        FunctionName.SPARSE_TOKENIZE,
        model_id="bert-uncased",
        cache_dir=tmp_path,
        yaml_dir=None,
    )
    out = load_model(result.zip_path, result.registration).encode(["This is a good day"])[0]
    expected = {
        "this": 1.6789764,
        "is": 0.60975236,
        "a": 0.4022789,
        "good": 3.6415958,
        "day": 3.301043,
    }
    assert list(out) == list(expected)
    assert out == pytest.approx(expected, rel=1e-6)


def test_memory_estimate_refuses(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x" * 4 * 1024 * 1024)
    art = ModelArtifact(
        tmp_path / "z.zip",
        "0",
        tmp_path,
        model,
        tmp_path / "tokenizer.json",
        None,
        ModelFormat.ONNX,
    )
    with pytest.raises(ModelMemoryError, match=r"needs about 12 MiB \(4 MiB model file x 3.0\)"):
        check_memory(art, available=1024 * 1024)
    check_memory(art, available=1 << 40)


def test_backend_must_match_format(tokenize_zip: tuple[Path, ModelRegistration]) -> None:
    zip_path, reg = tokenize_zip
    onnx_reg = reg.model_copy(
        update={"model_format": ModelFormat.ONNX, "function_name": FunctionName.TEXT_EMBEDDING}
    )
    with pytest.raises(ModelError, match="cannot run a ONNX model"):
        load_model(zip_path, onnx_reg, backend="torch_script")


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from processors.models.torchscript import import_torch

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'neuralpipe\[torch\]'"):
        import_torch()


def test_plan_batches_budget_and_order() -> None:
    lengths = [5, 50, 7, 50, 3, 20]
    plan = plan_batches(lengths, token_budget=100, max_batch=3)
    assert sorted(i for b in plan for i in b) == list(range(6))
    for batch in plan:
        assert len(batch) * max(lengths[i] for i in batch) <= 100 or len(batch) == 1
        assert len(batch) <= 3
    assert plan[0] == [1, 3]


def test_store_loads_once_under_concurrency(
    tokenize_zip: tuple[Path, ModelRegistration], tmp_path: Path
) -> None:
    calls: list[str] = []
    resolve = yaml_resolver(tmp_path / "yaml", tmp_path / "models")

    def counting(model_id: str) -> tuple[Path, ModelRegistration]:
        calls.append(model_id)
        return resolve(model_id)

    store = ModelStore(counting)
    threads = [threading.Thread(target=store.sparse_encoder, args=("tok",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["tok"] and store.loaded() == ["tok"]
    with pytest.raises(ModelError, match="not a TEXT_EMBEDDING model"):
        store.embedder("tok")
    with pytest.raises(ModelNotRegisteredError, match=r"^Failed to find model$"):
        store.get("nope")


def test_cli_predict_and_inspect(
    tokenize_zip: tuple[Path, ModelRegistration], tmp_path: Path
) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    result = runner.invoke(
        cli,
        [*home, "model", "predict", str(tmp_path / "yaml" / "tok.yaml"), "hello world"],
        env={"NEURALPIPE_HOME": str(tmp_path)},
    )
    assert result.exit_code == 1  # url resolves against <home>/models, which has no zip
    result = runner.invoke(
        cli,
        [
            *home,
            "model",
            "predict",
            str(tokenize_zip[0]),
            "--body",
            str(tmp_path / "yaml" / "tok.yaml"),
            "hello world",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body == {
        "inference_results": [
            {"output": [{"dataAsMap": {"response": [{"hello": 2.5, "world": 1.0}]}}]}
        ]
    }
    result = runner.invoke(cli, [*home, "model", "inspect", str(tokenize_zip[0])])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["format"] is None and info["idf"] is True
    assert info["tokenizer"]["truncation"]["max_length"] == 512


@pytest.mark.parametrize("command", ["build", "inspect", "predict"])
def test_cli_help(command: str) -> None:
    result = CliRunner().invoke(cli, ["model", command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
