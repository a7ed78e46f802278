"""The data a clone carries (tokenizer zips, Cranfield) is there and is what its README says."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from processors.errors import ArtifactError
from processors.models.bundled import DATA_DIR, TOKENIZERS, tokenizer_zip

REPO = Path(__file__).resolve().parents[3]
CRANFIELD = REPO / "scripts" / "data" / "cranfield"


def _recorded_checksums(readme: Path) -> dict[str, str]:
    rows = re.findall(r"^\|\s*`([^`]+)`\s*\|.*`([0-9a-f]{64})`\s*\|$", readme.read_text(), re.M)
    return dict(rows)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_bundled_tokenizer_matches_its_recorded_checksum(name: str) -> None:
    path = tokenizer_zip(name)
    recorded = _recorded_checksums(DATA_DIR / "README.md")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name]
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["idf.json", "tokenizer.json"]


def test_unknown_tokenizer_names_the_bundled_ones() -> None:
    with pytest.raises(ArtifactError, match="bert-uncased, mbert-uncased"):
        tokenizer_zip("roberta")


def test_cranfield_is_in_the_repository_with_its_recorded_checksums() -> None:
    recorded = _recorded_checksums(CRANFIELD / "README.md")
    assert sorted(recorded) == ["cran.all.1400", "cran.qry", "cranqrel", "cranqrel.readme"]
    for name, digest in recorded.items():
        assert hashlib.sha256((CRANFIELD / name).read_bytes()).hexdigest() == digest, name
