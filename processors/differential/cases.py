"""The differential cases: the same inputs to the reference node and to neuralpipe (issue #8).

One module per category (:mod:`.predict_cases`, :mod:`.ingest_cases`, :mod:`.search_cases`,
:mod:`.error_cases`), both sides in :mod:`.sides`, the explanations of expected differences in
:mod:`.known`.
"""

from __future__ import annotations

from processors.differential.compare import Case
from processors.differential.error_cases import error_cases
from processors.differential.ingest_cases import ingest_cases
from processors.differential.known import explain_for_version
from processors.differential.predict_cases import predict_cases
from processors.differential.search_cases import drop_corpus, index_corpus, search_cases
from processors.differential.semantic_cases import semantic_cases
from processors.differential.sides import MODELS, Sides

__all__ = ["CATEGORIES", "MODELS", "Sides", "run_all"]

CATEGORIES = ("predict", "ingest", "search", "errors", "semantic")


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
    if "semantic" in categories and not sides.reference_version().startswith("2."):
        cases += semantic_cases(sides)  # semantic fields are 3.1+
    explain_for_version(cases, sides.reference_version())
    return cases
