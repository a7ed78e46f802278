"""``build_model`` and the register bodies already written (the tracked ``pipelines/models/*.yaml``):
a stale cached zip is rebuilt, a build that differs from the body is refused, never written."""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

import pytest

from processors.errors import ArtifactError
from processors.models.artifact import sha256_file
from processors.models.build.builder import BuildResult, build_model, recorded_hash
from processors.models.bundled import tokenizer_zip
from processors.models.registration import FunctionName


def _build(tmp_path: Path) -> tuple[BuildResult, Path, str]:
    """The bundled bert-uncased tokenizer built: the result, its body, its zip's sha256."""
    (result,) = build_model(
        tokenizer_zip("bert-uncased"),
        FunctionName.SPARSE_TOKENIZE,
        model_id="bert-uncased-tokenizer",
        cache_dir=tmp_path / "cache",
        yaml_dir=tmp_path / "bodies",
    )
    sha256 = result.registration.model_content_hash_value
    assert result.yaml_path is not None and sha256 is not None
    return result, result.yaml_path, sha256


def test_a_stale_cached_zip_is_rebuilt_and_the_body_left_as_it_was(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, body, good = _build(tmp_path)
    assert not first.cached and recorded_hash(body, first.zip_path.name) == good
    written = body.read_bytes()
    # the cache holds another build's zip, hard-linked from another home (as a seeded home is)
    stale = tmp_path / "other-home.zip"
    with zipfile.ZipFile(stale, "w") as zf:
        zf.writestr("tokenizer.json", "{}")
    first.zip_path.unlink()
    os.link(stale, first.zip_path)
    with caplog.at_level(logging.WARNING, logger="processors.models.build.builder"):
        again, _, sha256 = _build(tmp_path)
    assert not again.cached  # rebuilt, not taken from the cache
    assert sha256 == good == sha256_file(again.zip_path)
    assert body.read_bytes() == written
    assert str(again.zip_path) in caplog.text and "stale, rebuilding it" in caplog.text
    with zipfile.ZipFile(stale) as zf:  # the other home's link was replaced, not written into
        assert zf.namelist() == ["tokenizer.json"]
    assert again.zip_path.stat().st_ino != stale.stat().st_ino


def test_a_build_that_differs_from_the_body_is_refused_and_the_body_kept(tmp_path: Path) -> None:
    first, body, good = _build(tmp_path)
    recorded = "ab" * 32  # what another install's build would give
    edited = body.read_text().replace(good, recorded)
    body.write_text(edited)
    for _ in range(2):  # with the zip in the cache (then rebuilt), and with none cached
        with pytest.raises(ArtifactError) as refused:
            _build(tmp_path)
        message = str(refused.value)
        assert str(body) in message and recorded in message and good in message
        assert "not rewriting it" in message and "delete the file" in message
        assert body.read_text() == edited
        first.zip_path.unlink()
    body.unlink()  # as the message says: this build's body is written again
    _build(tmp_path)
    assert body.read_text() == edited.replace(recorded, good)


def test_a_body_of_another_zip_is_rewritten(tmp_path: Path) -> None:
    first, body, good = _build(tmp_path)
    written = body.read_text()
    other = written.replace(first.zip_path.name, "bert-uncased-tokenizer-000000000000.zip")
    body.write_text(other.replace(good, "ab" * 32))
    assert recorded_hash(body, first.zip_path.name) is None
    _build(tmp_path)  # new sources or build options (a new zip name): a new body
    assert body.read_text() == written
