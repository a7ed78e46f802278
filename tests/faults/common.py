"""Shared pieces of the fault group: the index, the pipelines, corpora and the ledger check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opensearchpy import helpers

from processors.config.ingest_body import parse_ingest_pipeline
from processors.indexing.bulk import BulkIndexer
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.records import content_id
from processors.indexing.runner import IndexingOptions
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import HashEmbedder

EMBED = {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}}
OURS_ONLY = {"processors": [EMBED]}
MIXED = {"processors": [{"set": {"field": "stamped", "value": "yes"}}, EMBED]}
MAPPING = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {"properties": {
        "text": {"type": "text"}, "stamped": {"type": "keyword"},
        "text_embedding": {"type": "knn_vector", "dimension": 8, "method": {
            "name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}},
    }},
}  # fmt: skip


def make_indexer(client: Any, index: str, body: Any = OURS_ONLY, **kwargs: Any) -> BulkIndexer:
    spec = parse_ingest_pipeline("faults", body)
    pipeline = IngestPipeline(spec, encoders=lambda _: HashEmbedder(8), client=client)
    kwargs.setdefault("options", IndexingOptions(chunk_docs=100, max_batch_docs=100))
    return BulkIndexer(client, index, pipeline,
                       fingerprint=pipeline_fingerprint(spec, describe=None), **kwargs)  # fmt: skip


def good_docs(count: int, tag: str = "") -> list[dict[str, Any]]:
    """Half with an ``_id``, half without (their id is the content hash)."""
    docs: list[dict[str, Any]] = []
    for i in range(count):
        doc: dict[str, Any] = {"text": f"document {tag}{i} about flow number {i % 97}"}
        if i % 2:
            doc["_id"] = f"d{tag}{i}"
        docs.append(doc)
    return docs


def expected_id(doc: dict[str, Any]) -> str:
    return str(doc["_id"]) if "_id" in doc else content_id(doc)


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def stored_ids(client: Any, index: str) -> list[str]:
    client.indices.refresh(index=index)
    query = {"query": {"match_all": {}}, "_source": False}
    return [hit["_id"] for hit in helpers.scan(client, index=index, query=query)]


def ledger(
    client: Any, index: str, docs: list[dict[str, Any]], dead: Path | None = None
) -> dict[str, int]:
    """sent / indexed / dead-lettered / lost / duplicated for ``docs`` (all valid).

    ``duplicated`` counts documents in the index beyond the expected ones (ids are unique in an
    index, so a duplicate can only show up as an extra document under another id).
    """
    ids = set(stored_ids(client, index))
    expected = {expected_id(d) for d in docs}
    dead_count = len(dead.read_text().splitlines()) if dead is not None and dead.exists() else 0
    return {"sent": len(docs), "indexed": len(ids & expected), "dead": dead_count,
            "lost": len(expected - ids), "duplicated": len(ids - expected)}  # fmt: skip
