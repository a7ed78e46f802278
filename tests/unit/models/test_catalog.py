"""The pretrained model catalog: 19 models, URL rule, lookups with did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.errors import ArtifactError, ConfigError
from processors.models.mlcommons import catalog
from processors.models.registration import FunctionName, ModelFormat

ST = "huggingface/sentence-transformers/"


def test_all_nineteen_models_with_the_documented_split() -> None:
    models = catalog.all_models()
    assert len(models) == 19
    assert len({m.name for m in models}) == 19
    by_category = {
        c: [m for m in models if m.category == c]
        for c in ("sentence_transformers", "sparse", "cross_encoder")
    }
    assert [len(v) for v in by_category.values()] == [11, 6, 2]
    assert {m.function_name for m in by_category["sentence_transformers"]} == {
        FunctionName.TEXT_EMBEDDING
    }
    assert {m.function_name for m in by_category["cross_encoder"]} == {FunctionName.TEXT_SIMILARITY}
    sparse = {m.name.rsplit("/", 1)[1]: m.function_name for m in by_category["sparse"]}
    assert sparse.pop("opensearch-neural-sparse-tokenizer-v1") is FunctionName.SPARSE_TOKENIZE
    assert set(sparse.values()) == {FunctionName.SPARSE_ENCODING}


@pytest.mark.parametrize(
    ("short", "dimension", "version"),
    [
        ("all-MiniLM-L6-v2", 384, "1.0.1"),
        ("all-mpnet-base-v2", 768, "1.0.1"),
        ("msmarco-distilbert-base-tas-b", 768, "1.0.2"),
        ("paraphrase-mpnet-base-v2", 768, "1.0.0"),
        ("distiluse-base-multilingual-cased-v1", 512, "1.0.1"),
    ],
)
def test_dimensions_and_versions(short: str, dimension: int, version: str) -> None:
    entry = catalog.get_model(ST + short)
    assert (entry.embedding_dimension, entry.version) == (dimension, version)
    config = entry.model_config_body()
    assert config is not None and config.embedding_dimension == dimension


def test_urls_follow_the_ml_commons_rule() -> None:
    base = "https://artifacts.opensearch.org/models/ml-models/"
    minilm = catalog.get_model(ST + "all-MiniLM-L6-v2")
    assert minilm.artifact_url(ModelFormat.ONNX) == (
        base + "huggingface/sentence-transformers/all-MiniLM-L6-v2/1.0.1/onnx/"
        "sentence-transformers_all-MiniLM-L6-v2-1.0.1-onnx.zip"
    )
    assert minilm.config_url(ModelFormat.TORCH_SCRIPT) == (
        base + "huggingface/sentence-transformers/all-MiniLM-L6-v2/1.0.1/torch_script/config.json"
    )
    sparse = catalog.get_model("amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v2-mini")
    assert sparse.artifact_url(ModelFormat.TORCH_SCRIPT) == (
        base + "amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v2-mini/1.0.0/"
        "torch_script/neural-sparse_opensearch-neural-sparse-encoding-doc-v2-mini-1.0.0-"
        "torch_script.zip"
    )
    cross = catalog.get_model("huggingface/cross-encoders/ms-marco-MiniLM-L-12-v2")
    assert cross.artifact_file_name(ModelFormat.ONNX) == (
        "cross-encoders_ms-marco-MiniLM-L-12-v2-1.0.2-onnx.zip"
    )


def test_formats_onnx_only_where_documented() -> None:
    no_onnx = [m.name for m in catalog.all_models() if ModelFormat.ONNX not in m.model_formats]
    assert ST + "distiluse-base-multilingual-cased-v1" in no_onnx
    assert all(n.startswith("amazon/neural-sparse/") or "distiluse" in n for n in no_onnx)
    assert all(ModelFormat.TORCH_SCRIPT in m.model_formats for m in catalog.all_models())


def test_unknown_name_suggests_the_full_name() -> None:
    with pytest.raises(catalog.UnknownCatalogModelError) as err:
        catalog.get_model("all-MiniLM-L6-v2")
    message = str(err.value)
    assert message.startswith(catalog.NOT_IN_LIST)
    assert f"Did you mean '{ST}all-MiniLM-L6-v2'?" in message
    assert isinstance(err.value, ConfigError)
    with pytest.raises(
        catalog.UnknownCatalogModelError, match=r"Did you mean '.*all-mpnet-base-v2'"
    ):
        catalog.get_model(ST + "all-mpnet-base-v3")


def test_wrong_version_or_format_is_refused() -> None:
    with pytest.raises(catalog.UnknownCatalogModelError, match=r"has version 1\.0\.1, not 9\.9\.9"):
        catalog.get_model(ST + "all-MiniLM-L6-v2", "9.9.9")
    with pytest.raises(catalog.UnknownCatalogModelError, match="TORCH_SCRIPT only"):
        catalog.get_model(
            "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1", None, "ONNX"
        )
    assert catalog.find_model("nope") is None
    assert catalog.find_model(ST + "all-MiniLM-L6-v2", "1.0.1", "ONNX") is not None


def test_registration_body_from_the_catalog() -> None:
    entry = catalog.get_model(ST + "all-MiniLM-L6-v2")
    body = entry.registration(ModelFormat.ONNX, url="file:x.zip", content_hash="ab").to_body()
    assert body["function_name"] == "TEXT_EMBEDDING"
    assert body["model_format"] == "ONNX"
    assert body["model_config"] == {
        "model_type": "bert",
        "embedding_dimension": 384,
        "framework_type": "SENTENCE_TRANSFORMERS",
    }


def test_resolve_artifact_offline(tmp_path: Path) -> None:
    entry = catalog.get_model(
        "amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v2-distill"
    )
    fmt = ModelFormat.TORCH_SCRIPT
    with pytest.raises(
        ArtifactError, match=f"not found in {tmp_path}; .* and put it in {tmp_path}"
    ):
        catalog.resolve_artifact(entry, fmt, artifact_dir=tmp_path)
    zip_path = tmp_path / entry.artifact_file_name(fmt)
    zip_path.write_bytes(b"PK")
    assert catalog.resolve_artifact(entry, fmt, artifact_dir=tmp_path) == zip_path


def test_the_pretrained_tokenizer_is_the_bundled_one_offline(tmp_path: Path) -> None:
    """The doc-only tutorial registers ``opensearch-neural-sparse-tokenizer-v1`` by name: its
    data (tokenizer.json + idf.json) ships in the package, so no download is tried; a zip in
    the artifact directory still comes first."""
    from processors.models.bundled import tokenizer_zip

    entry = catalog.get_model("amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1")
    fmt = ModelFormat.TORCH_SCRIPT
    nowhere = tmp_path / "downloads"  # would be tried (and fail) without the bundled zip
    found = catalog.resolve_artifact(entry, fmt, artifact_dir=tmp_path, download_dir=nowhere)
    assert found == tokenizer_zip("bert-uncased")
    assert not nowhere.exists()
    zip_path = tmp_path / entry.artifact_file_name(fmt)
    zip_path.write_bytes(b"PK")
    assert catalog.resolve_artifact(entry, fmt, artifact_dir=tmp_path) == zip_path


def test_download_failure_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot download"):
        catalog.download("http://127.0.0.1:9/nothing.zip", tmp_path / "x.zip", timeout_s=2)
    assert not (tmp_path / "x.zip").exists()
    assert not (tmp_path / "x.zip.part").exists()


def test_cli_list_catalog_json_and_unknown_name() -> None:
    import json

    from click.testing import CliRunner

    from processors.cli.main import cli

    result = CliRunner().invoke(cli, ["model", "list", "--catalog", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 19 and rows[1]["embedding_dimension"] == 384
    table = CliRunner().invoke(cli, ["model", "list", "--catalog"])
    assert table.exit_code == 0 and len(table.stdout.strip().splitlines()) == 20
    bad = CliRunner().invoke(cli, ["model", "register", "all-MiniLM-L6-v2"])
    assert bad.exit_code == 2
    assert f"Did you mean '{ST}all-MiniLM-L6-v2'?" in bad.stderr
