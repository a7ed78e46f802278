"""The differential cases: the same inputs to the reference node and to neuralpipe (issue #8).

One module per category (:mod:`.predict_cases`, :mod:`.ingest_cases`, :mod:`.search_cases`,
:mod:`.error_cases`), both sides in :mod:`.sides`, the explanations of expected differences in
:mod:`.known`.
"""

from __future__ import annotations

from tests.differential.harness.asymmetric_cases import asymmetric_cases
from tests.differential.harness.compare import Case
from tests.differential.harness.error_cases import error_cases
from tests.differential.harness.hybrid3_cases import hybrid3_cases
from tests.differential.harness.hybrid_collapse_cases import hybrid_collapse_cases
from tests.differential.harness.ingest_cases import ingest_cases
from tests.differential.harness.known import KNOWN_TWO_PHASE, explain_for_version
from tests.differential.harness.ml_inference_cases import (
    ml_inference_ingest_cases,
    ml_inference_search_cases,
)
from tests.differential.harness.mmr_cases import mmr_cases
from tests.differential.harness.predict_cases import predict_cases
from tests.differential.harness.search_cases import drop_corpus, index_corpus, search_cases
from tests.differential.harness.semantic_cases import semantic_cases
from tests.differential.harness.sides import MODELS, Sides
from tests.differential.harness.skip_existing_cases import skip_existing_cases
from tests.differential.harness.sparse_ann_cases import sparse_ann_cases
from tests.differential.harness.stats_cases import stats_cases
from tests.differential.harness.two_phase_cases import two_phase_cases

__all__ = ["CATEGORIES", "MODELS", "Sides", "run_all"]

CATEGORIES = (
    "predict",
    "ingest",
    "search",
    "errors",
    "search3",
    "asymmetric",
    "sparse_ann",
    "neural_stats",
    "skip_existing",
    "semantic",
    "two_phase",
    "hybrid_collapse",
)


def run_all(sides: Sides, categories: tuple[str, ...] = CATEGORIES) -> list[Case]:
    """Every case of ``categories``; the search index is created on both nodes and dropped."""
    cases: list[Case] = []
    if "predict" in categories:
        cases += predict_cases(sides)
    if "ingest" in categories:
        cases += ingest_cases(sides)
        cases += ml_inference_ingest_cases(sides)
    if {"search", "errors", "search3", "asymmetric", "two_phase"} & set(categories):
        index_corpus(sides)
        try:
            if "search" in categories:
                cases += search_cases(sides)
                cases += ml_inference_search_cases(sides)
            if "errors" in categories:
                cases += error_cases(sides)
            if "search3" in categories:
                cases += hybrid3_cases(sides) + mmr_cases(sides)
            if "asymmetric" in categories:
                cases += asymmetric_cases(sides)
            if "two_phase" in categories:
                cases += two_phase_cases(sides, KNOWN_TWO_PHASE)
        finally:
            drop_corpus(sides)
    if "hybrid_collapse" in categories:
        cases += hybrid_collapse_cases(sides)  # its own index
    if "sparse_ann" in categories:
        cases += sparse_ann_cases(sides)
    if "skip_existing" in categories:
        cases += skip_existing_cases(sides)
    if "neural_stats" in categories:
        cases += stats_cases(sides)
    if "semantic" in categories and not sides.reference_version().startswith("2."):
        cases += semantic_cases(sides)  # semantic fields are 3.1+
    explain_for_version(cases, sides.reference_version())
    return cases
