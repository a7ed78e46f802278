"""A bulk run in its own process, for the SIGKILL/--resume fault test.

python -m tests.integration.bulk_child URL INDEX CORPUS CHECKPOINT DEAD_LETTER
"""

from __future__ import annotations

import sys
from pathlib import Path

from processors.config.ingest_body import parse_ingest_pipeline
from processors.indexing.bulk import BulkIndexer, RunControl
from processors.indexing.fingerprint import pipeline_fingerprint
from processors.indexing.runner import IndexingOptions
from processors.opensearch.client import make_client
from processors.pipeline.ingest import IngestPipeline
from processors.settings import Settings
from processors.testing.fakes import HashEmbedder

BODY = {"processors": [
    {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}},
]}  # fmt: skip


def main() -> None:
    url, index, corpus, checkpoint, dead = sys.argv[1:6]
    client = make_client(Settings(opensearch_url=url))
    spec = parse_ingest_pipeline("child", BODY)
    pipeline = IngestPipeline(spec, encoders=lambda _: HashEmbedder(8), client=client)
    indexer = BulkIndexer(
        client, index, pipeline,
        fingerprint=pipeline_fingerprint(spec, describe=None),
        options=IndexingOptions(chunk_docs=200, max_batch_docs=200),
        dead_letter=Path(dead),
        control=RunControl(checkpoint=Path(checkpoint), resume=True),
    )  # fmt: skip
    report = indexer.index_files([Path(corpus)])
    print(report.settled, report.ok, report.failed)


if __name__ == "__main__":
    main()
