"""``create_app(settings)``: the Starlette app of ``neuralpipe serve``.

It serves OpenSearch's REST API with neural-search and ml-commons behind it, in front of a
node that has only k-NN (see :mod:`processors.proxy.routes`). The app is built whole by
:func:`create_app` (so tests can use it through ``httpx.ASGITransport`` without a lifespan);
the lifespan only warms the models the pipeline files name and closes the upstream client.

Example:
    >>> app = create_app(ProxySettings(upstream_url="http://127.0.0.1:9200"))  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=9201)                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from processors.proxy import semantic_routes
from processors.proxy.bridge import bridge_client
from processors.proxy.cluster_settings import ClusterSettings
from processors.proxy.fastpath import FastPath
from processors.proxy.pipeline_store import STORE_INDEX, IndexMeta, PipelineStore
from processors.proxy.query_cache import QueryModels
from processors.proxy.routes import passthrough, routes
from processors.proxy.state import ProxyState, chained
from processors.proxy.upstream import Upstream
from processors.settings import Settings, default_home, default_pipelines_dir

logger = logging.getLogger(__name__)
ModelFor = Callable[[str], Any]
RegistryFactory = Callable[[Any], Any]
MODEL_KEYS = ("model_id", "default_model_id")


def default_slots() -> int:
    """Inference threads per query model: one per core (of this process), at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@dataclass(frozen=True)
class ProxySettings:
    """How one proxy runs.

    Example:
        >>> ProxySettings(upstream_url="http://127.0.0.1:9200").max_body_bytes
        104857600
    """

    upstream_url: str
    username: str | None = None
    password: str | None = None
    lend_identity: bool = False
    """Send ``username``/``password`` for client requests without ``Authorization`` (off: the
    client's credentials, or none, go upstream)."""
    verify_certs: bool = True
    ca_certs: Path | None = None
    pipelines_dir: Path | None = field(default_factory=default_pipelines_dir)
    """``ingest/``, ``search/`` and ``models/`` bodies read at start."""
    home: Path = field(default_factory=default_home)
    """Model zips (``home/models``) and the registry's cache."""
    embedded_node: bool = False
    """The upstream is neuralpipe's embedded node, whose k-NN has no native libraries: index
    bodies get ``lucene`` for vectors that name no engine, ``faiss``/``nmslib`` are refused
    (:func:`~processors.opensearch.indices.check_for_embedded_node`)."""
    max_body_bytes: int = 100 * 1024 * 1024
    """Largest request body (OpenSearch's ``http.max_content_length`` default); 413 beyond."""
    timeout: float = 60.0
    query_cache_size: int = 10_000
    micro_batch: bool = True
    inference_slots: int = field(default_factory=default_slots)
    """Query model calls run at once per model (micro-batched or not): one per core, up to 4."""
    max_batch: int = 64
    """Most query texts merged into one model call."""
    model_threads: int | None = 1
    """Intra-op threads of the models the proxy loads (None: the backend's default, one per
    core). One: concurrent requests already keep the cores busy, and on a shared or small
    machine threads of one call waiting on each other cost more than they give."""
    cache_ttl: float = 1.0
    """Seconds pipelines and index settings read from the node are reused."""
    ml_index_prefix: str = ".plugins-ml"
    pipeline_index: str = STORE_INDEX
    """The node's (hidden) index of pipelines PUT through the API."""
    warm_models: bool = True
    model_files_dir: Path | None = None
    """The only directory whose files ``_register`` may read (``url`` as a path or ``file:``
    URL, when ``plugins.ml_commons.allow_registering_model_via_local_file`` is true); default
    ``home/models``."""

    @classmethod
    def from_settings(cls, settings: Settings, upstream_url: str, **options: Any) -> ProxySettings:
        """From the CLI's settings (auth, TLS, home, pipelines directory); ``embedded_node``
        defaults to "no URL configured" (the CLI asks the upstream itself)."""
        options.setdefault("embedded_node", settings.uses_embedded_node)
        return cls(
            upstream_url=upstream_url, username=settings.opensearch_username,
            password=settings.opensearch_password, verify_certs=settings.opensearch_verify_certs,
            ca_certs=settings.opensearch_ca_certs, pipelines_dir=settings.pipelines_dir,
            home=settings.home, model_files_dir=settings.model_files_dir,
            **options,
        )  # fmt: skip


class ProxyApp(Starlette):
    """Starlette behind :class:`~processors.proxy.fastpath.FastPath`.

    HTTP requests never walk Starlette's middleware stack and router: the fast path relays
    them or calls the matching endpoint itself; ``lifespan`` is Starlette's.
    """

    def __init__(self, state: ProxyState, table: list[BaseRoute], **options: Any) -> None:
        super().__init__(routes=table, **options)
        self.fast = FastPath(self._starlette, state, table, catch_all=passthrough)

    async def _starlette(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self.fast(scope, receive, send)


def server_options() -> dict[str, Any]:
    """uvicorn's fastest loop and HTTP parser where installed (uvloop, httptools), no access
    log, no ``X-Forwarded-*`` rewriting (the proxy passes those headers on unread), and no
    ``server`` / ``date`` headers of uvicorn's own (answers carry the node's headers).

    Example:
        >>> uvicorn.run(app, host="127.0.0.1", port=9201, **server_options())  # doctest: +SKIP
    """
    options: dict[str, Any] = {"access_log": False, "proxy_headers": False,
                               "server_header": False, "date_header": False}  # fmt: skip
    for key, module, fast in (("loop", "uvloop", "uvloop"), ("http", "httptools", "httptools")):
        try:
            importlib.import_module(module)
        except ImportError:
            options[key] = "asyncio" if key == "loop" else "h11"
        else:
            options[key] = fast
    return options


def default_models(settings: ProxySettings) -> ModelFor:
    """``model_id -> model`` over ``<pipelines_dir>/models/<id>.yaml`` and ``home/models``."""
    from processors.models.store import ModelStore, yaml_resolver

    yaml_dir = (settings.pipelines_dir or default_pipelines_dir()) / "models"
    options = {} if settings.model_threads is None else {"threads": settings.model_threads}
    return ModelStore(yaml_resolver(yaml_dir, settings.home / "models"), **options).get


def default_registry(settings: ProxySettings) -> RegistryFactory:
    def make(client: Any) -> Any:
        from processors.models.mlcommons.catalog import PRETRAINED_SUBDIR
        from processors.models.mlcommons.model_registry import ModelRegistry

        models_dir = settings.model_files_dir or settings.home / "models"
        return ModelRegistry(
            client, index_prefix=settings.ml_index_prefix, models_dir=models_dir,
            artifact_dir=models_dir / PRETRAINED_SUBDIR, cache_dir=settings.home / "registry-cache",
        )  # fmt: skip

    return make


def create_app(
    settings: ProxySettings,
    *,
    models: ModelFor | None = None,
    registry: RegistryFactory | None = None,
    with_registry: bool = True,
) -> Starlette:
    """The proxy app.

    Args:
        settings: Upstream, limits, caches.
        models: ``model_id -> model`` (default: a ``ModelStore`` over the pipelines'
            ``models/`` bodies); a deployed registry model is used when this one does not
            know an id.
        registry: Builds the ml-commons registry from a synchronous client.
        with_registry: Serve ``/_plugins/_ml`` (and registry models) at all.

    Raises:
        ConfigError: a pipeline file is invalid.
    """
    upstream = Upstream(
        settings.upstream_url, username=settings.username,
        password=settings.password, verify=settings.verify_certs, ca_certs=settings.ca_certs,
        timeout=settings.timeout, max_body_bytes=settings.max_body_bytes,
        lend_identity=settings.lend_identity,
    )  # fmt: skip
    client = bridge_client(upstream)
    make_registry = registry or default_registry(settings)
    model_registry = make_registry(client) if with_registry else None
    resolve = chained(models or default_models(settings), model_registry)
    pipelines = PipelineStore(
        upstream, settings.pipelines_dir, index=settings.pipeline_index, ttl=settings.cache_ttl
    )
    state = ProxyState(
        upstream=upstream, client=client, models=resolve,
        query_models=QueryModels(resolve, cache_size=settings.query_cache_size,
                                 micro_batch=settings.micro_batch, slots=settings.inference_slots,
                                 max_batch=settings.max_batch),
        pipelines=pipelines, meta=IndexMeta(upstream, ttl=settings.cache_ttl),
        registry=model_registry, max_body_bytes=settings.max_body_bytes,
        cluster=ClusterSettings(pipelines, ttl=settings.cache_ttl),
        model_files_dir=settings.model_files_dir or settings.home / "models",
        embedded_node=settings.embedded_node,
    )  # fmt: skip
    state.model_doc = semantic_routes.model_doc_for(
        (settings.pipelines_dir or default_pipelines_dir()) / "models", model_registry
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.warm_models:
            await run_in_threadpool(_warm, resolve, _model_ids(pipelines.files.values()))
        try:
            yield
        finally:
            await upstream.aclose()

    app = ProxyApp(state, routes(), lifespan=lifespan)
    app.state.neuralpipe = state
    return app


def _model_ids(bodies: Any) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in MODEL_KEYS and isinstance(item, str):
                    found.append(item)
                elif key == "neural_field_default_id" and isinstance(item, dict):
                    found.extend(v for v in item.values() if isinstance(v, str))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(list(bodies))
    return list(dict.fromkeys(found))


def _warm(resolve: ModelFor, model_ids: list[str]) -> None:
    for model_id in model_ids:
        try:
            resolve(model_id)
        except Exception as exc:  # a model that cannot load fails its requests, not the start
            logger.warning("model %s could not be loaded at start: %s", model_id, exc)
