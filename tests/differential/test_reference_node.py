"""neuralpipe vs the real ml-commons + neural-search 2.19.6 on the same inputs (issue #8)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.differential.conftest import load_reference_module

ref_mod = load_reference_module()


def test_compare_json_sees_differences() -> None:
    """The comparator itself (no node): order-free keys, tolerance, vectors by cosine."""
    same = {"a": [0.1, 0.2, 0.3], "b": {"x": 1, "_ingest": {"timestamp": "t1"}}}
    assert ref_mod.compare_json(same, {"b": {"_ingest": {"timestamp": "t2"}, "x": 1},
                                       "a": [0.1, 0.2, 0.30005]}) == []  # fmt: skip
    assert ref_mod.compare_json({"a": 1}, {"a": 1, "b": 2})
    assert ref_mod.compare_json({"v": [1.0, 0.0]}, {"v": [0.0, 1.0]})
    assert ref_mod.compare_json({"v": [0.1, 0.2]}, {"v": [0.1, 0.2002]})  # > 1e-4
    assert ref_mod.compare_json({"s": "x"}, {"s": "y"})


@pytest.mark.differential
@pytest.mark.timeout(1800)
def test_minilm_predict_and_text_embedding_match_the_plugins(reference: Any) -> None:
    cases = ref_mod.run_checks(reference)
    different = [f"{c.name}: {c.differences[:3]}" for c in cases if not c.identical]
    assert len(cases) >= 7
    assert not different, "\n".join(different)
