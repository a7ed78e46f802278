"""The metric wiring: trec_eval measures, rank order kept, MRR cut-off, queries left unretrieved.

Expected values are worked out by hand from the definitions (trec_eval's linear-gain nDCG).
"""

from __future__ import annotations

import math

import pytest

from processors.evaluation.metrics import MEASURES, evaluate, judged_queries, per_query


def test_the_three_measures_on_one_worked_query() -> None:
    qrels = {"q": {"a": 2, "b": 1, "c": 0}}
    got = evaluate(qrels, {"q": ["c", "a", "x", "b"]})
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 + 1 / math.log2(3)
    assert set(got) == set(MEASURES)
    assert got["nDCG@10"] == pytest.approx(dcg / ideal)
    assert got["recall@100"] == 1.0
    assert got["MRR@10"] == 0.5


def test_engine_order_is_kept_even_where_trec_eval_would_break_ties_by_id() -> None:
    # With equal scores trec_eval would order by document id; the run's own order must win.
    assert evaluate({"q": {"a": 1}}, {"q": ["z", "a"]})["MRR@10"] == 0.5
    assert evaluate({"q": {"z": 1}}, {"q": ["z", "a"]})["MRR@10"] == 1.0


def test_mrr_is_cut_at_10_and_recall_at_100() -> None:
    ranking = [f"n{i}" for i in range(10)] + ["a"] + [f"m{i}" for i in range(89)] + ["b"]
    got = evaluate({"q": {"a": 1, "b": 1}}, {"q": ranking})
    assert got["MRR@10"] == 0.0  # "a" is 11th
    assert got["recall@100"] == 0.5  # "b" is 101st
    assert got["nDCG@10"] == 0.0


def test_unretrieved_and_empty_queries_count_as_zero_in_the_mean() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}}
    rows = per_query(qrels, {"q1": ["a"], "q2": []})
    assert rows["q1"]["nDCG@10"] == 1.0
    assert rows["q2"] == rows["q3"] == dict.fromkeys(MEASURES, 0.0)
    assert evaluate(qrels, {"q1": ["a"]})["MRR@10"] == pytest.approx(1 / 3)


def test_queries_without_a_relevant_judgement_are_not_counted() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}
    assert judged_queries(qrels) == ["q1"]
    assert evaluate(qrels, {"q1": ["a"], "q2": ["b"]}) == dict.fromkeys(MEASURES, 1.0)
    assert evaluate({}, {}) == dict.fromkeys(MEASURES, 0.0)


def test_a_duplicate_hit_keeps_its_first_rank() -> None:
    assert evaluate({"q": {"a": 1}}, {"q": ["x", "a", "x", "a"]})["MRR@10"] == 0.5
