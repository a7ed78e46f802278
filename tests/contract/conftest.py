"""Session fixtures: the tiny random models, built once into zips in both formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.models.build.builder import BuildResult
from processors.models.loader import LoadedModel, load_model
from processors.testing.tiny_models import build_tiny_sources, build_tiny_zips


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_zips(tiny_root: Path) -> dict[str, BuildResult]:
    return build_tiny_zips(tiny_root, quantize=True)


@pytest.fixture(scope="session")
def tiny_sources(tiny_root: Path, tiny_zips: dict[str, BuildResult]) -> Path:
    return build_tiny_sources(tiny_root / "sources").embed.parent


@pytest.fixture(scope="session")
def tiny_models(tiny_zips: dict[str, BuildResult], tiny_root: Path) -> dict[str, LoadedModel]:
    return {
        key: load_model(r.zip_path, r.registration, cache_dir=tiny_root / "extracted")
        for key, r in tiny_zips.items()
    }
