"""Fixtures for model unit tests: a tiny tokenizer.json and a zip factory."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from processors.testing.tiny_models import tiny_tokenizer

ZipFactory = Callable[[dict[str, bytes]], Path]


@pytest.fixture(scope="session")
def tokenizer_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tiny_tokenizer().save(str(path))
    return path


@pytest.fixture
def make_zip(tmp_path: Path) -> ZipFactory:
    counter = iter(range(1000))

    def make(members: dict[str, bytes]) -> Path:
        path = tmp_path / f"model-{next(counter)}.zip"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        path.write_bytes(buf.getvalue())
        return path

    return make
