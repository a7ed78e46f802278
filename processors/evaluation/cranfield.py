"""Cranfield-1400 (``cran.all.1400``, ``cran.qry``, ``cranqrel``) converted to BEIR format.

* Documents: ``_id`` = the ``.I`` number, ``title`` = ``.T``, ``text`` = ``.W`` (the abstract,
  which in this collection already begins with the title; two documents, 471 and 995, have
  none and are written with an empty text).
* Queries: ``_id`` = the query's position in ``cran.qry`` (1..225). ``cranqrel`` numbers
  queries that way, not by their ``.I`` numbers (which skip values and run to 365).
* Qrels: ``cranqrel`` lines are ``query document code``. Cleverdon's codes (see
  ``cranqrel.readme``) run from 1 = "a complete answer to the question" to 4 = "of minimum
  interest" (5 = "of no interest" never occurs). BEIR gains grow with relevance, so::

      code 1 -> gain 4      code 2 -> gain 3      code 3 -> gain 2      code 4 -> gain 1
      code -1 -> gain 0     (one per query, undocumented; ir_datasets reads it as "no interest")

  Gain 0 keeps the pair as judged not relevant: nDCG, recall and MRR are the same as if it
  were dropped. All four positive codes count as relevant for recall and MRR (trec_eval's
  ``relevance_level`` 1), and nDCG uses the gains as they are (trec_eval's linear gain).

Example:
    >>> cranfield_gain(1), cranfield_gain(4), cranfield_gain(-1)
    (4, 1, 0)
"""

from __future__ import annotations

from pathlib import Path

from processors.datasets.cranfield import read_cranfield_docs, read_cranfield_queries
from processors.errors import ConfigError
from processors.evaluation.beir import BeirDataset, Qrels, load_beir, write_beir

DOCS, QUERIES, QRELS = "cran.all.1400", "cran.qry", "cranqrel"
GAINS = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}
"""Cleverdon's relevance code -> BEIR gain (see the module docstring)."""


def is_cranfield_dir(path: Path) -> bool:
    """True when ``path`` holds the three Cranfield files."""
    return all((path / name).is_file() for name in (DOCS, QUERIES, QRELS))


def cranfield_gain(code: int) -> int:
    """The BEIR gain of a ``cranqrel`` relevance code (1 most relevant .. 4; -1 none)."""
    try:
        return GAINS[code]
    except KeyError:
        raise ConfigError(
            f"cranqrel: relevance code {code} is not one of {sorted(GAINS)}"
        ) from None


def read_cranqrel(path: Path) -> Qrels:
    """``cranqrel`` as ``{query position: {document number: gain}}`` (gains as above).

    A pair judged twice keeps its highest gain.
    """
    qrels: Qrels = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise ConfigError(f"{path}:{number}: expected 'query document code', got {line!r}")
        try:
            query, doc, code = int(fields[0]), int(fields[1]), int(fields[2])
        except ValueError:
            raise ConfigError(f"{path}:{number}: non-numeric field in {line!r}") from None
        judged = qrels.setdefault(str(query), {})
        judged[str(doc)] = max(judged.get(str(doc), 0), cranfield_gain(code))
    return qrels


def convert_cranfield(source: Path, target: Path) -> BeirDataset:
    """Write ``source``'s Cranfield files as a BEIR dataset in ``target`` and load it.

    Raises:
        ConfigError: a file is missing, or ``cranqrel`` names a query or document that the
            collection does not have.
    """
    if not is_cranfield_dir(source):
        raise ConfigError(f"{source}: not a Cranfield directory (needs {DOCS}, {QUERIES}, {QRELS})")
    docs = read_cranfield_docs(source / DOCS)
    queries = {q["_id"]: q["text"] for q in read_cranfield_queries(source / QUERIES)}
    qrels = read_cranqrel(source / QRELS)
    doc_ids = {d["_id"] for d in docs}
    unknown_queries = sorted(set(qrels) - set(queries), key=int)
    unknown_docs = sorted({d for j in qrels.values() for d in j} - doc_ids, key=int)
    if unknown_queries or unknown_docs:
        raise ConfigError(
            f"{source / QRELS}: unknown query positions {unknown_queries[:5]}, "
            f"unknown documents {unknown_docs[:5]}"
        )
    write_beir(target, docs, queries, qrels)
    return load_beir(target)
