"""neuralpipe: OpenSearch's neural-search and ml-commons behaviour, run in Python.

The package is named ``processors``; the distribution and the command are ``neuralpipe``.
``__all__`` is the public API: the names below keep working whatever module they live in.
Importing the package loads no model runtime (no torch, no onnxruntime): the errors and
``Settings`` are imported at once, everything else on first use.

Example:
    >>> import processors
    >>> processors.load_ingest_pipeline.__name__
    'load_ingest_pipeline'
    >>> issubclass(processors.ModelNotRegisteredError, processors.NeuralpipeError)
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from processors.errors import (
    ArtifactError,
    ConfigError,
    CrossReferenceError,
    FingerprintMismatchError,
    IndexingError,
    InvalidProcessorConfigError,
    InvalidQueryError,
    ModelError,
    ModelNotRegisteredError,
    NeuralpipeError,
    NodeError,
    ProcessorRuntimeError,
    UnknownProcessorError,
    UnsupportedFeatureError,
)
from processors.settings import Settings

if TYPE_CHECKING:
    from processors.config.ingest_body import load_ingest_pipeline, parse_ingest_pipeline
    from processors.config.search_body import load_search_pipeline, parse_search_pipeline
    from processors.indexing.bulk import BulkIndexer, RunControl
    from processors.indexing.fingerprint import pipeline_fingerprint
    from processors.models.binding import model_store
    from processors.models.loader import load_model
    from processors.models.store import ModelStore
    from processors.opensearch.client import make_client
    from processors.opensearch.indices import create_index, delete_index, load_mapping
    from processors.pipeline.ingest import IngestPipeline
    from processors.pipeline.search import SearchPipeline
    from processors.pipeline.simulate import simulate
    from processors.proxy.app import ProxySettings, create_app

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # pipelines and their loaders
    "IngestPipeline": "processors.pipeline.ingest",
    "SearchPipeline": "processors.pipeline.search",
    "simulate": "processors.pipeline.simulate",
    "load_ingest_pipeline": "processors.config.ingest_body",
    "parse_ingest_pipeline": "processors.config.ingest_body",
    "load_search_pipeline": "processors.config.search_body",
    "parse_search_pipeline": "processors.config.search_body",
    # models
    "ModelStore": "processors.models.store",
    "model_store": "processors.models.binding",
    "load_model": "processors.models.loader",
    # bulk indexing
    "BulkIndexer": "processors.indexing.bulk",
    "RunControl": "processors.indexing.bulk",
    "pipeline_fingerprint": "processors.indexing.fingerprint",
    # the node: client and index bodies
    "make_client": "processors.opensearch.client",
    "load_mapping": "processors.opensearch.indices",
    "create_index": "processors.opensearch.indices",
    "delete_index": "processors.opensearch.indices",
    # the proxy
    "create_app": "processors.proxy.app",
    "ProxySettings": "processors.proxy.app",
}
"""Public name -> the module that defines it, imported on first access."""

__all__ = [
    "ArtifactError",
    "BulkIndexer",
    "ConfigError",
    "CrossReferenceError",
    "FingerprintMismatchError",
    "IndexingError",
    "IngestPipeline",
    "InvalidProcessorConfigError",
    "InvalidQueryError",
    "ModelError",
    "ModelNotRegisteredError",
    "ModelStore",
    "NeuralpipeError",
    "NodeError",
    "ProcessorRuntimeError",
    "ProxySettings",
    "RunControl",
    "SearchPipeline",
    "Settings",
    "UnknownProcessorError",
    "UnsupportedFeatureError",
    "__version__",
    "create_app",
    "create_index",
    "delete_index",
    "load_ingest_pipeline",
    "load_mapping",
    "load_model",
    "load_search_pipeline",
    "make_client",
    "model_store",
    "parse_ingest_pipeline",
    "parse_search_pipeline",
    "pipeline_fingerprint",
    "simulate",
]


def __getattr__(name: str) -> Any:
    """The lazy part of the API: import the defining module on first access, then cache."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'processors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
