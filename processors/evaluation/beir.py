"""BEIR-format datasets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

The layout is the one the BEIR benchmark ships (and ``beir.datasets.data_loader`` reads):

* ``corpus.jsonl``: one ``{"_id", "title", "text"}`` object per line (extra keys such as
  ``metadata`` are kept);
* ``queries.jsonl``: one ``{"_id", "text"}`` object per line, for every split;
* ``qrels/<split>.tsv``: ``query-id<TAB>corpus-id<TAB>score`` with a header line; the score is
  an integer gain (``0`` = judged not relevant).

Only the queries judged in the split are evaluated. The corpus is not read into memory: the
bulk indexer streams ``corpus.jsonl`` itself (``.jsonl.gz`` files work as well).

Example:
    >>> data = load_beir(Path("scifact"))                  # doctest: +SKIP
    >>> len(data.queries), data.corpus_path.name           # doctest: +SKIP
    (300, 'corpus.jsonl')
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from processors.errors import ConfigError

JSONObject = dict[str, Any]
Qrels = dict[str, dict[str, int]]
QRELS_HEADER = ("query-id", "corpus-id", "score")


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR dataset: judged queries and their qrels; the corpus as a file.

    Attributes:
        root: The dataset directory.
        corpus_path: ``corpus.jsonl`` (or ``corpus.jsonl.gz``), streamed by the indexer.
        queries: ``query id -> text`` of the queries judged in ``split``.
        qrels: ``query id -> {document id: gain}``.
        split: The qrels file used (``test``, ``dev``, ...).

    Example:
        >>> data = BeirDataset(Path("."), Path("corpus.jsonl"), {"q1": "wing"},
        ...                    {"q1": {"d1": 1}}, "test")
        >>> data.relevant_count
        1
    """

    root: Path
    corpus_path: Path
    queries: dict[str, str]
    qrels: Qrels
    split: str

    @property
    def relevant_count(self) -> int:
        """Judgements with a positive gain, over all queries."""
        return sum(1 for judged in self.qrels.values() for gain in judged.values() if gain > 0)

    def corpus_size(self) -> int:
        """Documents in the corpus file (non-empty lines), for progress totals."""
        with _open(self.corpus_path) as handle:
            return sum(1 for line in handle if line.strip())

    def iter_corpus(self) -> Iterator[JSONObject]:
        """Corpus documents in file order (``_id`` as a string, ``title``/``text`` default "")."""
        for where, doc in _read_jsonl(self.corpus_path):
            if "_id" not in doc:
                raise ConfigError(f"{where}: a corpus document needs an _id")
            yield {
                **doc,
                "_id": str(doc["_id"]),
                "title": doc.get("title") or "",
                "text": doc.get("text") or "",
            }


def _find(root: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (root / name).is_file():
            return root / name
    raise ConfigError(f"{root}: no {stem} (not a BEIR dataset directory)")


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def _read_jsonl(path: Path) -> Iterator[tuple[str, JSONObject]]:
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{where}: not valid JSON: {exc}") from None
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a JSON object")
            yield where, value


def read_queries(path: Path) -> dict[str, str]:
    """``queries.jsonl`` as ``{query id: text}``."""
    queries: dict[str, str] = {}
    for where, value in _read_jsonl(path):
        if "_id" not in value or not isinstance(value.get("text"), str):
            raise ConfigError(f"{where}: a query needs an _id and a text")
        queries[str(value["_id"])] = value["text"]
    return queries


def read_qrels(path: Path) -> Qrels:
    """``qrels/<split>.tsv`` as ``{query id: {document id: gain}}`` (the header line skipped)."""
    qrels: Qrels = {}
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            row = line.rstrip("\r\n").split("\t")
            if not line.strip() or (number == 1 and tuple(row) == QRELS_HEADER):
                continue
            if len(row) != 3:
                raise ConfigError(
                    f"{path}:{number}: expected query-id<TAB>corpus-id<TAB>score, got {line!r}"
                )
            query_id, doc_id, score = row
            try:
                gain = int(score)
            except ValueError:
                raise ConfigError(f"{path}:{number}: score {score!r} is not an integer") from None
            qrels.setdefault(query_id, {})[doc_id] = gain
    return qrels


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    """Read a BEIR dataset directory: the judged queries of ``split`` and their qrels.

    Raises:
        ConfigError: a missing file, a malformed line, or judged queries absent from
            ``queries.jsonl``.
    """
    corpus = _find(root, "corpus.jsonl")
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise ConfigError(f"{root}: no qrels/{split}.tsv (splits here: {found or 'none'})")
    qrels = read_qrels(qrels_path)
    every = read_queries(_find(root, "queries.jsonl"))
    missing = sorted(set(qrels) - set(every))
    if missing:
        raise ConfigError(
            f"{qrels_path}: {len(missing)} judged queries are not in queries.jsonl "
            f"(first: {missing[:5]})"
        )
    queries = {qid: every[qid] for qid in qrels}
    return BeirDataset(root, corpus, queries, qrels, split)


def write_beir(
    root: Path,
    corpus: Iterable[Mapping[str, Any]],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    split: str = "test",
) -> Path:
    """Write a BEIR dataset directory (``corpus.jsonl``, ``queries.jsonl``, ``qrels/``)."""
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for doc in corpus:
            handle.write(json.dumps(dict(doc), ensure_ascii=False) + "\n")
    with (root / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query_id, text in queries.items():
            handle.write(json.dumps({"_id": query_id, "text": text}, ensure_ascii=False) + "\n")
    with (root / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as handle:
        handle.write("\t".join(QRELS_HEADER) + "\n")
        for query_id, judged in qrels.items():
            for doc_id, gain in judged.items():
                handle.write(f"{query_id}\t{doc_id}\t{gain}\n")
    return root
