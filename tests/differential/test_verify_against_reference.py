"""The whole diff of issue #8 §2: predict, ingest simulate, searches, error responses."""

from __future__ import annotations

from typing import Any

import pytest

from processors.differential.cases import MODELS, Sides, run_all
from processors.differential.compare import Case, core_reason, table
from processors.settings import Settings


def test_core_reason_strips_neuralpipe_paths() -> None:
    assert core_reason("p: 1 error(s)\n  1. p.processors[0].x: Unknown prune type: a") == (
        "Unknown prune type: a"
    )
    assert core_reason("plain message") == "plain message"


def test_table_counts_per_category() -> None:
    cases = [Case("a", "x"), Case("a", "y", ["d1"], known="why"), Case("b", "z", ["d2"])]
    text = table(cases)
    assert "total          3         1         2" in text
    assert "known: why" in text and "known: NO (unexplained)" in text


@pytest.mark.differential
@pytest.mark.timeout(1800)
def test_neuralpipe_matches_the_plugins_or_differences_are_explained(
    reference: Any, opensearch_url: str
) -> None:
    ids = {model: reference.register(model) for model in MODELS}
    cases = run_all(Sides(reference.url(), ids, Settings(opensearch_url=opensearch_url)))
    print(table(cases))
    assert len(cases) >= 60
    categories = {c.category for c in cases}
    assert categories == {"predict", "ingest", "search", "errors"}
    unexplained = [
        f"{c.name}: {c.differences[:3]}" for c in cases if not c.identical and not c.known
    ]
    assert not unexplained, "\n".join(unexplained)
    # the comparisons must bite: most cases agree, and the known differences are still there
    assert sum(c.identical for c in cases) >= 60
    assert any(not c.identical for c in cases if c.name == "text_embedding empty string")
