"""nDCG@10, recall@100 and MRR@10 of ranked runs, computed by trec_eval (``pytrec_eval``).

A run is ``{query id: [document ids, best first]}``, the order the engine returned. trec_eval
sorts a run by score and breaks ties by document id, which could reorder hits the engine
ranked (BM25 and fused hybrid scores tie often); so each hit is given the score
``len(ranking) - rank`` and trec_eval sees exactly the engine's order.

* ``nDCG@10`` = trec_eval ``ndcg_cut.10`` (linear gains as in the qrels; BEIR's choice too);
* ``recall@100`` = ``recall.100`` (relevant = gain >= 1);
* ``MRR@10`` = ``recip_rank`` of the run cut to its first 10 hits (trec_eval has no cut-off
  for it).

Means are over every query that has at least one relevant judgement; such a query missing
from the run (or with no hits) scores 0, where trec_eval alone would leave it out.

Example:
    >>> scores = evaluate({"q": {"a": 2, "b": 0}}, {"q": ["b", "a"]})   # doctest: +SKIP
    >>> scores["MRR@10"]                                                # doctest: +SKIP
    0.5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MEASURES: dict[str, tuple[str, str, int | None]] = {
    "nDCG@10": ("ndcg_cut.10", "ndcg_cut_10", None),
    "recall@100": ("recall.100", "recall_100", None),
    "MRR@10": ("recip_rank", "recip_rank", 10),
}
"""Our name -> (trec_eval measure, result key, cut-off applied to the run before scoring)."""

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]


def _scored(run: Run, depth: int | None) -> dict[str, dict[str, float]]:
    """Rank-derived scores (first hit highest); duplicates keep their first place."""
    out: dict[str, dict[str, float]] = {}
    for query_id, ranking in run.items():
        unique = list(dict.fromkeys(ranking))[:depth]
        if unique:
            out[query_id] = {doc: float(len(unique) - i) for i, doc in enumerate(unique)}
    return out


def judged_queries(qrels: Qrels) -> list[str]:
    """The queries that count: those with at least one judgement of gain >= 1."""
    return [qid for qid, judged in qrels.items() if any(g > 0 for g in judged.values())]


def per_query(qrels: Qrels, run: Run) -> dict[str, dict[str, float]]:
    """``{query id: {measure name: value}}`` for every judged query (0 where not retrieved)."""
    import pytrec_eval

    counted = judged_queries(qrels)
    plain = {qid: {doc: int(g) for doc, g in qrels[qid].items()} for qid in counted}
    result: dict[str, dict[str, float]] = {qid: dict.fromkeys(MEASURES, 0.0) for qid in counted}
    for depth in sorted({m[2] for m in MEASURES.values()}, key=lambda d: d or 0):
        names = [name for name, m in MEASURES.items() if m[2] == depth]
        evaluator: Any = pytrec_eval.RelevanceEvaluator(plain, {MEASURES[n][0] for n in names})
        scored = _scored({qid: run.get(qid, ()) for qid in counted}, depth)
        for query_id, values in evaluator.evaluate(scored).items():
            for name in names:
                result[query_id][name] = float(values[MEASURES[name][1]])
    return result


def evaluate(qrels: Qrels, run: Run) -> dict[str, float]:
    """Mean ``nDCG@10``, ``recall@100`` and ``MRR@10`` over the judged queries.

    Example:
        >>> evaluate({"q": {"a": 1}}, {"q": ["a"]})["nDCG@10"]   # doctest: +SKIP
        1.0
    """
    rows = per_query(qrels, run)
    if not rows:
        return dict.fromkeys(MEASURES, 0.0)
    return {name: sum(r[name] for r in rows.values()) / len(rows) for name in MEASURES}
