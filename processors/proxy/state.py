"""What every route of one proxy app shares: upstream, client, models, pipelines, registry.

Example:
    >>> state = request.app.state.neuralpipe                        # doctest: +SKIP
    >>> await run_in_threadpool(state.search_pipeline(None).search, "docs", body)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from processors.errors import ModelNotRegisteredError
from processors.models.mlcommons.errors import MLNotFoundError
from processors.pipeline.ingest import IngestPipeline
from processors.pipeline.search import SearchPipeline
from processors.proxy.pipeline_store import IndexMeta, PipelineStore
from processors.proxy.query_cache import QueryModels
from processors.proxy.upstream import Upstream

ModelFor = Callable[[str], Any]


def chained(primary: ModelFor, registry: Any) -> ModelFor:
    """``model_id -> model``: ``primary`` (files, a test double), else a deployed registry model.

    A model id unknown to both raises the registry's ``Failed to find model`` (404).
    """

    def resolve(model_id: str) -> Any:
        try:
            return primary(model_id)
        except MLNotFoundError:
            raise
        except ModelNotRegisteredError:
            if registry is None:
                raise
            return registry.runtime(model_id)

    return resolve


def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class ProxyState:
    """The shared parts of a proxy app (``app.state.neuralpipe``)."""

    upstream: Upstream
    client: Any
    """A synchronous opensearch-py client over the upstream, for worker threads."""
    models: ModelFor
    """``model_id -> model`` for ingest (passages, no cache)."""
    query_models: QueryModels
    """``model_id -> model`` for queries (LRU cache, micro-batching)."""
    pipelines: PipelineStore
    meta: IndexMeta
    registry: Any
    max_body_bytes: int
    cluster: Any = None
    """The plugins' cluster settings (a ``ClusterSettings``)."""
    embedded_node: bool = False
    """Index bodies are made safe for the embedded node's k-NN (no native engines)."""
    model_doc: Any = None
    """``model_id -> ml-commons model document`` (semantic fields; None: the registry's)."""
    model_files_dir: Any = None
    """The one directory ``_register`` may read local model files from (``None``: none)."""
    _search: dict[Any, SearchPipeline] = field(default_factory=dict)
    _ingest: dict[Any, IngestPipeline] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def search_pipeline(self, spec: Any) -> SearchPipeline:
        """One SearchPipeline per pipeline body (it caches field checks per index)."""
        key = None if spec is None else (spec.pipeline_id, _digest(spec.body))
        with self._lock:
            pipeline = self._search.get(key)
            if pipeline is None:
                pipeline = SearchPipeline(spec, models=self.query_models, client=self.client)
                self._search[key] = pipeline
            return pipeline

    def ingest_pipeline(self, spec: Any) -> IngestPipeline:
        """One IngestPipeline per pipeline body (built in a worker thread: it loads models)."""
        key = (spec.pipeline_id, _digest(spec.body))
        with self._lock:
            pipeline = self._ingest.get(key)
        if pipeline is None:
            pipeline = IngestPipeline(spec, encoders=self.models, client=self.client)
            with self._lock:
                self._ingest[key] = pipeline
        return pipeline


def state_of(request: Request) -> ProxyState:
    """The :class:`ProxyState` of the app serving ``request``."""
    state: ProxyState = request.app.state.neuralpipe
    return state
