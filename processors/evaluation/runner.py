"""The evaluation path: corpus → YAML ingest pipeline → node → search pipeline → ranked ids.

Each way is one query shape, built per query text the way a user would write it:

=================  ============================================================================
way                query
=================  ============================================================================
``bm25``           ``match`` on the text field
``neural``         ``neural`` on the dense field (``k`` = depth), the dense model
``neural_sparse``  ``neural_sparse`` on the sparse field (``query_text``), the sparse model
``hybrid``         ``hybrid`` of the ``match`` and the ``neural`` clause (needs a search
                   pipeline with a ``normalization-processor`` or ``score-ranker-processor``)
=================  ============================================================================

Fields and models come from the ingest pipeline that indexed the corpus: the first
``text_embedding`` / ``sparse_encoding`` step, its model and its (flat) ``field_map`` entry.
A search pipeline with an ``ml_opensearch`` ``rerank`` gets ``ext.rerank.query_context``.

Example:
    >>> fields = QueryFields(dense_model="minilm")
    >>> query_body("neural", "wing", fields, depth=5)["query"]
    {'neural': {'text_embedding': {'query_text': 'wing', 'k': 5, 'model_id': 'minilm'}}}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from processors.errors import ConfigError
from processors.evaluation.beir import BeirDataset

if TYPE_CHECKING:
    from processors.config.ingest_body import IngestPipelineSpec
    from processors.config.search_body import SearchPipelineSpec
    from processors.indexing.runner import IndexReport
    from processors.models.tokenization import TokenStats
    from processors.pipeline.ingest import IngestPipeline
    from processors.pipeline.search import SearchPipeline

JSONObject = dict[str, Any]
WAYS = ("bm25", "neural", "neural_sparse", "hybrid")
NEEDS = {"neural": "dense", "neural_sparse": "sparse", "hybrid": "dense"}


@dataclass(frozen=True)
class QueryFields:
    """Where each way searches and with which models (``None``: the search pipeline's default).

    Example:
        >>> QueryFields().available_ways()
        ('bm25',)
    """

    text: str = "text"
    dense: str = "text_embedding"
    sparse: str = "text_sparse"
    dense_model: str | None = None
    sparse_model: str | None = None
    has_dense: bool = False
    has_sparse: bool = False

    @classmethod
    def from_pipeline(cls, spec: IngestPipelineSpec | None) -> QueryFields:
        """Fields and models of the first ``text_embedding`` / ``sparse_encoding`` step."""
        fields = cls()
        for step in spec.steps if spec else ():
            flat = [(s, t) for s, t in (step.body.get("field_map") or {}).items()
                    if isinstance(t, str)]  # fmt: skip
            if not flat:
                continue
            source, target = flat[0]
            model = step.body.get("model_id")
            if step.type_name == "text_embedding" and not fields.has_dense:
                fields = replace(fields, text=source, dense=target, dense_model=model,
                                 has_dense=True)  # fmt: skip
            elif step.type_name == "sparse_encoding" and not fields.has_sparse:
                text = fields.text if fields.has_dense else source
                fields = replace(fields, text=text, sparse=target, sparse_model=model,
                                 has_sparse=True)  # fmt: skip
        return fields

    def available_ways(self) -> tuple[str, ...]:
        """The ways this index can answer: bm25 always, the others with their field."""
        have = {"dense": self.has_dense, "sparse": self.has_sparse}
        return tuple(w for w in WAYS if w not in NEEDS or have[NEEDS[w]])

    def check(self, ways: tuple[str, ...]) -> None:
        """Refuse ways whose field the ingest pipeline does not fill."""
        missing = [w for w in ways if w not in self.available_ways()]
        if missing:
            raise ConfigError(
                f"way(s) {missing} need a field the ingest pipeline does not fill "
                f"(no {' / '.join(sorted({NEEDS[w] for w in missing}))} step with a flat "
                f"field_map); possible here: {list(self.available_ways())}"
            )


def query_body(
    way: str, text: str, fields: QueryFields, *, depth: int = 100, rerank: bool = False
) -> JSONObject:
    """The search body of one way for one query text (``depth`` hits, ids only)."""
    match = {"match": {fields.text: text}}
    dense: JSONObject = {"query_text": text, "k": depth}
    sparse: JSONObject = {"query_text": text}
    if fields.dense_model:
        dense["model_id"] = fields.dense_model
    if fields.sparse_model:
        sparse["model_id"] = fields.sparse_model
    neural = {"neural": {fields.dense: dense}}
    clauses: dict[str, JSONObject] = {
        "bm25": match,
        "neural": neural,
        "neural_sparse": {"neural_sparse": {fields.sparse: sparse}},
        "hybrid": {"hybrid": {"queries": [match, neural]}},
    }
    if way not in clauses:
        raise ConfigError(f"unknown way {way!r}; known: {list(WAYS)}")
    body: JSONObject = {"size": depth, "query": clauses[way]}
    if rerank:
        body["ext"] = {"rerank": {"query_context": {"query_text": text}}}
    else:
        body["_source"] = False
    return body


def reranks(spec: SearchPipelineSpec | None) -> bool:
    """True when the pipeline has an ``ml_opensearch`` rerank (it needs the query text)."""
    return spec is not None and any(
        s.type_name == "rerank" and "ml_opensearch" in s.body for s in spec.response
    )


@dataclass(frozen=True)
class WayRun:
    """One way over every query: ranked ids per query and the time it took."""

    way: str
    ranking: dict[str, list[str]]
    seconds: float

    @property
    def ms_per_query(self) -> float:
        return 1000 * self.seconds / max(len(self.ranking), 1)


def run_way(
    pipeline: SearchPipeline,
    index: str,
    queries: Mapping[str, str],
    way: str,
    fields: QueryFields,
    *,
    depth: int = 100,
    on_query: Callable[[], None] | None = None,
) -> WayRun:
    """Search ``index`` once per query through ``pipeline``; the hits' ids, best first."""
    rerank = reranks(pipeline.spec)
    ranking: dict[str, list[str]] = {}
    started = time.perf_counter()
    for query_id, text in queries.items():
        body = query_body(way, text, fields, depth=depth, rerank=rerank)
        hits = pipeline.search(index, body)["hits"]["hits"]
        ranking[query_id] = [str(hit["_id"]) for hit in hits]
        if on_query is not None:
            on_query()
    return WayRun(way, ranking, time.perf_counter() - started)


def joined_corpus(dataset: BeirDataset, target: Path) -> Path:
    """``target`` (JSONL): the corpus with ``text`` = ``title + " " + text`` where both exist."""
    with target.open("w", encoding="utf-8") as handle:
        for doc in dataset.iter_corpus():
            text = " ".join(part for part in (doc["title"], doc["text"]) if part)
            handle.write(json.dumps({**doc, "text": text}, ensure_ascii=False) + "\n")
    return target


def index_corpus(
    client: Any,
    index: str,
    corpus: Path,
    *,
    pipeline: IngestPipeline | None,
    fingerprint: JSONObject,
    mapping: JSONObject | None,
    reindex: bool,
    embedded: bool,
    on_batch: Callable[[IndexReport], None] | None = None,
    token_stats: Callable[[], TokenStats] | None = None,
) -> IndexReport:
    """Make ``index`` hold ``corpus`` as indexed by ``pipeline``.

    ``reindex`` deletes and recreates the index first. Otherwise a missing index is created
    from ``mapping`` and an existing one is reused: its recorded fingerprint must match the
    pipeline's (else :class:`~processors.errors.FingerprintMismatchError`), and documents whose
    content hash is already stored are skipped without inference, so only missing or changed
    ones are indexed. Documents stored without a content hash (an index filled by
    ``neuralpipe index bulk``) are trusted when the fingerprint matches: not embedded again.
    ``token_stats`` (the model store's) fills the report's ``tokens`` and ``truncated``.
    """
    from processors.indexing.bulk import BulkIndexer, RunControl
    from processors.opensearch.indices import create_index, delete_index

    exists = bool(client.indices.exists(index=index))
    if exists and reindex:
        delete_index(client, index)
        exists = False
    if not exists:
        if mapping is None:
            raise ConfigError(f"index {index!r} does not exist and no mapping was given")
        create_index(client, index, mapping, embedded=embedded)
    indexer = BulkIndexer(
        client, index, pipeline, fingerprint=fingerprint,
        control=RunControl(skip_unchanged=True, trust_unhashed=True), on_batch=on_batch,
        token_stats=token_stats,
    )  # fmt: skip
    return indexer.index_files([corpus])
