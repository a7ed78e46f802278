"""The two_phase and hybrid_collapse differential cases: unique names, known explanations."""

from __future__ import annotations

from tests.differential.harness import hybrid_collapse_cases, two_phase_cases
from tests.differential.harness.cases import CATEGORIES
from tests.differential.harness.known import KNOWN_TWO_PHASE


def test_names_are_unique_and_every_explanation_names_a_case() -> None:
    names = [name for name, *_ in two_phase_cases.SEARCHES + two_phase_cases.BAD]
    assert len(names) == len(set(names)) and len(names) >= 20
    assert set(KNOWN_TWO_PHASE) <= set(names)
    runs = hybrid_collapse_cases.SEARCHES + hybrid_collapse_cases.BAD
    assert len({name for name, *_ in runs}) == len(runs) >= 10
    assert {"two_phase", "hybrid_collapse"} <= set(CATEGORIES)


def test_the_collapse_corpus_has_a_document_without_a_value() -> None:
    assert any(cat is None for _, _, cat, _, _ in hybrid_collapse_cases.DOCS)
    assert hybrid_collapse_cases._sparse_of("lift lift wing") == {"lift": 2.0, "wing": 1.0}
