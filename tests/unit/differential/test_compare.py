"""The differential check's comparators and table (no node)."""

from __future__ import annotations

from tests.differential.harness.compare import (
    Case,
    compare_errors,
    compare_json,
    core_reason,
    table,
)


def test_compare_json_sees_differences() -> None:
    """Order-free keys, tolerance, vectors by cosine, ``_ingest.timestamp`` ignored."""
    same = {"a": [0.1, 0.2, 0.3], "b": {"x": 1, "_ingest": {"timestamp": "t1"}}}
    assert compare_json(same, {"b": {"_ingest": {"timestamp": "t2"}, "x": 1},
                               "a": [0.1, 0.2, 0.30005]}) == []  # fmt: skip
    assert compare_json({"a": 1}, {"a": 1, "b": 2})
    assert compare_json({"v": [1.0, 0.0]}, {"v": [0.0, 1.0]})
    assert compare_json({"v": [0.1, 0.2]}, {"v": [0.1, 0.2002]})  # > 1e-4
    assert compare_json({"s": "x"}, {"s": "y"})


def test_core_reason_strips_neuralpipe_paths() -> None:
    assert core_reason("p: 1 error(s)\n  1. p.processors[0].x: Unknown prune type: a") == (
        "Unknown prune type: a"
    )
    assert core_reason("plain message") == "plain message"


def test_compare_errors_names_each_part() -> None:
    assert compare_errors((400, "t", "r"), (400, "t", "p: 1 error(s)\n  1. p.x: r")) == []
    assert compare_errors((400, "a", "r"), (500, "b", "s")) == [
        "status 400 vs 500",
        "error.type 'a' vs 'b'",
        "reason 'r' vs 's'",
    ]


def test_table_counts_per_category() -> None:
    cases = [Case("a", "x"), Case("a", "y", ["d1"], known="why"), Case("b", "z", ["d2"])]
    text = table(cases)
    assert "total          3         1         2" in text
    assert "known: why" in text and "known: NO (unexplained)" in text


def test_java_sets_in_reasons_compare_as_sets() -> None:
    ref = (500, "x", "Supported tokenizers are [thai, letter, standard]")
    ours = (500, "x", "p: 1 error(s)\n  1. p.t: Supported tokenizers are [standard, letter, thai]")
    assert compare_errors(ref, ours) == []
    assert compare_errors(ref, (500, "x", "Supported tokenizers are [standard, letter]"))


def test_the_cases_cover_every_category_and_explain_only_three_kinds() -> None:
    from tests.differential.harness import error_cases, ingest_cases, predict_cases, search_cases
    from tests.differential.harness.known import KNOWN, VERSION_219
    from tests.differential.harness.sides import WRAPPERS

    names = [
        *(n for n, *_ in error_cases.BAD_SEARCHES),
        *(n for n, *_ in error_cases.BAD_PIPELINES),
        *(n for n, *_ in error_cases.BAD_PREDICTS),
        *(n for n, *_ in error_cases.BAD_REGISTERS),
        *(n for n, *_ in ingest_cases.INGEST),
        *(n for n, *_ in search_cases.SEARCHES),
    ]
    assert len(names) == len(set(names)) and len(names) >= 100
    assert predict_cases.PREDICT_TEXTS and search_cases.CORPUS
    # a fourth kind, a behaviour not emulated yet, must say so and stay rare
    kinds = ("plugin bug not copied", "documented", "version difference", "not emulated yet")
    for why in [*KNOWN.values(), *VERSION_219.values()]:
        assert why.startswith(kinds), why
    # one from before; two of the ml_inference processor (issue #21: the plugin's query
    # rendering in a message, one error type), left for planning
    assert sum(why.startswith("not emulated yet") for why in KNOWN.values()) <= 3
    assert all("not copied" in why for why in WRAPPERS.values())
