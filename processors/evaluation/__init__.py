"""Retrieval evaluation: BEIR datasets, a Cranfield converter, trec_eval metrics, the full path.

* :mod:`.beir`: read (and write) ``corpus.jsonl`` / ``queries.jsonl`` / ``qrels/<split>.tsv``;
* :mod:`.cranfield`: ``cran.all.1400`` + ``cran.qry`` + ``cranqrel`` to BEIR (gain mapping);
* :mod:`.metrics`: nDCG@10, recall@100, MRR@10 by ``pytrec_eval`` (the ``eval`` extra);
* :mod:`.runner`: index through an ingest pipeline, query each way through a search pipeline;
* :mod:`.chart`: the PNG bar chart (matplotlib, the ``eval`` extra).

``neuralpipe eval`` (``processors/cli/eval_cmds.py``) runs them in that order.

Example:
    >>> data = load_beir(Path("scifact"))                          # doctest: +SKIP
    >>> evaluate(data.qrels, {"1": ["31715818"]})["nDCG@10"]       # doctest: +SKIP
"""

from __future__ import annotations

from processors.evaluation.beir import BeirDataset, load_beir, write_beir
from processors.evaluation.cranfield import convert_cranfield, cranfield_gain, is_cranfield_dir
from processors.evaluation.metrics import MEASURES, evaluate, per_query
from processors.evaluation.runner import WAYS, QueryFields, index_corpus, query_body, run_way

__all__ = [
    "MEASURES",
    "WAYS",
    "BeirDataset",
    "QueryFields",
    "convert_cranfield",
    "cranfield_gain",
    "evaluate",
    "index_corpus",
    "is_cranfield_dir",
    "load_beir",
    "per_query",
    "query_body",
    "run_way",
    "write_beir",
]
