from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from processors.errors import ArtifactError, ModelError
from processors.models.artifact import open_artifact, resolve_artifact_url, sha256_file
from processors.models.registration import FunctionName, ModelFormat

from .conftest import ZipFactory

TOK = b'{"truncation": null}'
ONNX = b"\x08\x07fake-onnx"


def test_valid_zip_is_extracted(make_zip: ZipFactory, tmp_path: Path) -> None:
    path = make_zip({"m.onnx": ONNX, "tokenizer.json": TOK, "LICENSE": b"x"})
    art = open_artifact(
        path,
        model_format=ModelFormat.ONNX,
        expected_hash=sha256_file(path),
        cache_dir=tmp_path / "x",
    )
    assert art.model_format is ModelFormat.ONNX
    assert art.model_file is not None and art.model_file.read_bytes() == ONNX
    assert art.tokenizer_file.read_bytes() == TOK
    assert art.root.parent == tmp_path / "x"
    again = open_artifact(path, cache_dir=tmp_path / "x")
    assert again.root == art.root and again.model_format is ModelFormat.ONNX


def test_corrupt_zip(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(b"this is not a zip at all")
    with pytest.raises(ArtifactError, match="corrupt model zip"):
        open_artifact(path)


def test_hash_mismatch(make_zip: ZipFactory) -> None:
    path = make_zip({"m.onnx": ONNX, "tokenizer.json": TOK})
    with pytest.raises(ArtifactError, match="model content changed"):
        open_artifact(path, expected_hash="0" * 64)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:\\evil"])
def test_zip_slip_refused(make_zip: ZipFactory, name: str, tmp_path: Path) -> None:
    path = make_zip({"m.onnx": ONNX, "tokenizer.json": TOK, name: b"x"})
    with pytest.raises(ArtifactError, match="unsafe path"):
        open_artifact(path, cache_dir=tmp_path / "x")
    assert not (tmp_path / "evil.txt").exists()


def test_missing_tokenizer(make_zip: ZipFactory) -> None:
    with pytest.raises(ArtifactError, match=r"^No tokenizer file$"):
        open_artifact(make_zip({"m.onnx": ONNX}))


def test_tokenizer_must_be_at_root(make_zip: ZipFactory) -> None:
    with pytest.raises(ArtifactError, match="No tokenizer file"):
        open_artifact(make_zip({"m.onnx": ONNX, "sub/tokenizer.json": TOK}))


def test_missing_model_file(make_zip: ZipFactory) -> None:
    with pytest.raises(ArtifactError, match=r"^Can't find model file$"):
        open_artifact(make_zip({"tokenizer.json": TOK}))


def test_two_model_files(make_zip: ZipFactory) -> None:
    path = make_zip({"a.onnx": ONNX, "b.pt": b"PK", "tokenizer.json": TOK})
    with pytest.raises(ArtifactError, match="Find multiple model files"):
        open_artifact(path)


def test_format_mismatch(make_zip: ZipFactory) -> None:
    path = make_zip({"m.pt": b"PK", "tokenizer.json": TOK})
    with pytest.raises(ArtifactError, match=r"^Model format is ONNX, but find \.pt file$"):
        open_artifact(path, model_format=ModelFormat.ONNX)
    path = make_zip({"m.onnx": ONNX, "tokenizer.json": TOK})
    with pytest.raises(ArtifactError, match=r"Model format is TORCH_SCRIPT, but find \.onnx file"):
        open_artifact(path, model_format=ModelFormat.TORCH_SCRIPT)


@pytest.mark.parametrize(
    ("name", "data"), [("run.sh", b"echo"), ("tool", b"\x7fELF\x02"), ("x.bin", b"#!/bin/sh")]
)
def test_executables_refused(make_zip: ZipFactory, name: str, data: bytes) -> None:
    path = make_zip({"m.onnx": ONNX, "tokenizer.json": TOK, name: data})
    with pytest.raises(ArtifactError, match="disallowed executable file"):
        open_artifact(path)


def test_symlink_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tokenizer.json", TOK)
        zf.writestr("m.onnx", ONNX)
        info = zipfile.ZipInfo("evil")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArtifactError, match="symbolic link"):
        open_artifact(path)


def test_sparse_tokenize_needs_no_model(make_zip: ZipFactory) -> None:
    art = open_artifact(
        make_zip({"tokenizer.json": TOK, "idf.json": b"{}"}),
        function_name=FunctionName.SPARSE_TOKENIZE,
    )
    assert art.model_file is None and art.idf_file is not None


def test_missing_zip(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        open_artifact(tmp_path / "nope.zip")


def test_resolve_url(tmp_path: Path) -> None:
    assert resolve_artifact_url("file:a.zip", tmp_path) == tmp_path / "a.zip"
    assert resolve_artifact_url("file:///abs/a.zip", tmp_path) == Path("/abs/a.zip")
    assert resolve_artifact_url("sub/a.zip", tmp_path) == tmp_path / "sub/a.zip"
    with pytest.raises(ModelError, match="not fetched at run time"):
        resolve_artifact_url("https://example.com/a.zip", tmp_path)
