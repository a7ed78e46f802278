"""The differential cases: the same inputs to the reference node and to neuralpipe (issue #8).

One module per category (:mod:`.predict_cases`, :mod:`.ingest_cases`, :mod:`.search_cases`,
:mod:`.error_cases`), both sides in :mod:`.sides`, the explanations of expected differences in
:mod:`.known`.
"""

from __future__ import annotations

from tests.differential.harness.compare import Case
from tests.differential.harness.error_cases import error_cases
from tests.differential.harness.ingest_cases import ingest_cases
from tests.differential.harness.known import explain_for_version
from tests.differential.harness.predict_cases import predict_cases
from tests.differential.harness.search_cases import drop_corpus, index_corpus, search_cases
from tests.differential.harness.sides import MODELS, Sides

__all__ = ["CATEGORIES", "MODELS", "Sides", "run_all"]

CATEGORIES = ("predict", "ingest", "search", "errors")


def run_all(sides: Sides, categories: tuple[str, ...] = CATEGORIES) -> list[Case]:
    """Every case of ``categories``; the search index is created on both nodes and dropped."""
    cases: list[Case] = []
    if "predict" in categories:
        cases += predict_cases(sides)
    if "ingest" in categories:
        cases += ingest_cases(sides)
    if "search" in categories or "errors" in categories:
        index_corpus(sides)
        try:
            if "search" in categories:
                cases += search_cases(sides)
            if "errors" in categories:
                cases += error_cases(sides)
        finally:
            drop_corpus(sides)
    explain_for_version(cases, sides.reference_version())
    return cases
