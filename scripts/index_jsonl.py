"""Thin example of the Python API: index JSONL files through an ingest pipeline YAML.

Usage: python scripts/index_jsonl.py INDEX PIPELINE.yaml FILE.jsonl [FILE...]
(The same as ``neuralpipe index bulk INDEX FILE... --pipeline PIPELINE.yaml``.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from processors import (
    BulkIndexer,
    IngestPipeline,
    RunControl,
    Settings,
    load_ingest_pipeline,
    make_client,
    model_store,
    pipeline_fingerprint,
)

index, pipeline_file, *files = sys.argv[1:]
settings = Settings()
client, store = make_client(settings), model_store(settings)
spec = load_ingest_pipeline(Path(pipeline_file))
indexer = BulkIndexer(
    client,
    index,
    IngestPipeline(spec, encoders=store.get, client=client),
    fingerprint=pipeline_fingerprint(spec, describe=store.registration),
    dead_letter=Path(f"{index}.dead-letter.jsonl"),
    control=RunControl(home=settings.home, resume=True),
    token_stats=store.token_stats,
)
print(json.dumps(indexer.index_files([Path(f) for f in files]).as_dict()))
