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
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processors.proxy.bridge import bridge_client
from processors.proxy.pipeline_store import STORE_INDEX, IndexMeta, PipelineStore
from processors.proxy.query_cache import QueryModels
from processors.proxy.routes import routes
from processors.proxy.state import ProxyState, chained
from processors.proxy.upstream import FORWARDED, PASSED_ON, TIMINGS, Timings, Upstream
from processors.settings import Settings, default_home

logger = logging.getLogger(__name__)
ModelFor = Callable[[str], Any]
RegistryFactory = Callable[[Any], Any]
MODEL_KEYS = ("model_id", "default_model_id")


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
    verify_certs: bool = True
    ca_certs: Path | None = None
    pipelines_dir: Path | None = Path("pipelines")
    """``ingest/``, ``search/`` and ``models/`` bodies read at start."""
    home: Path = field(default_factory=default_home)
    """Model zips (``home/models``) and the registry's cache."""
    max_body_bytes: int = 100 * 1024 * 1024
    """Largest request body (OpenSearch's ``http.max_content_length`` default); 413 beyond."""
    timeout: float = 60.0
    query_cache_size: int = 10_000
    micro_batch: bool = True
    cache_ttl: float = 1.0
    """Seconds pipelines and index settings read from the node are reused."""
    ml_index_prefix: str = ".plugins-ml"
    pipeline_index: str = STORE_INDEX
    """The node's (hidden) index of pipelines PUT through the API."""
    warm_models: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, upstream_url: str, **options: Any) -> ProxySettings:
        """From the CLI's settings (auth, TLS, home, pipelines directory)."""
        return cls(
            upstream_url=upstream_url, username=settings.opensearch_username,
            password=settings.opensearch_password, verify_certs=settings.opensearch_verify_certs,
            ca_certs=settings.opensearch_ca_certs, pipelines_dir=settings.pipelines_dir,
            home=settings.home, **options,
        )  # fmt: skip


class RequestContext:
    """Pure ASGI middleware: the headers passed on upstream, and ``Server-Timing``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        FORWARDED.set({k: headers[k] for k in PASSED_ON if k in headers})
        timings = Timings()
        TIMINGS.set(timings)

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start" and timings.stages:
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"server-timing", timings.header().encode()),
                    ],
                }
            await send(message)

        await self.app(scope, receive, timed)


def default_models(settings: ProxySettings) -> ModelFor:
    """``model_id -> model`` over ``<pipelines_dir>/models/<id>.yaml`` and ``home/models``."""
    from processors.models.store import ModelStore, yaml_resolver

    yaml_dir = (settings.pipelines_dir or Path("pipelines")) / "models"
    return ModelStore(yaml_resolver(yaml_dir, settings.home / "models")).get


def default_registry(settings: ProxySettings) -> RegistryFactory:
    def make(client: Any) -> Any:
        from processors.models.registry import ModelRegistry

        return ModelRegistry(
            client, index_prefix=settings.ml_index_prefix, models_dir=settings.home / "models",
            cache_dir=settings.home / "registry-cache",
        )  # fmt: skip

    return make


def create_app(
    settings: ProxySettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    models: ModelFor | None = None,
    registry: RegistryFactory | None = None,
    with_registry: bool = True,
) -> Starlette:
    """The proxy app.

    Args:
        settings: Upstream, limits, caches.
        transport: The httpx transport to the upstream (tests: ``httpx.MockTransport``).
        models: ``model_id -> model`` (default: a ``ModelStore`` over the pipelines'
            ``models/`` bodies); a deployed registry model is used when this one does not
            know an id.
        registry: Builds the ml-commons registry from a synchronous client.
        with_registry: Serve ``/_plugins/_ml`` (and registry models) at all.

    Raises:
        ConfigError: a pipeline file is invalid.
    """
    upstream = Upstream(
        settings.upstream_url, transport=transport, username=settings.username,
        password=settings.password, verify=settings.verify_certs, ca_certs=settings.ca_certs,
        timeout=settings.timeout, max_body_bytes=settings.max_body_bytes,
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
                                 micro_batch=settings.micro_batch),
        pipelines=pipelines, meta=IndexMeta(upstream, ttl=settings.cache_ttl),
        registry=model_registry, max_body_bytes=settings.max_body_bytes,
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.warm_models:
            await run_in_threadpool(_warm, resolve, _model_ids(pipelines.files.values()))
        try:
            yield
        finally:
            await upstream.aclose()

    app = Starlette(routes=routes(), lifespan=lifespan)
    app.state.neuralpipe = state
    app.add_middleware(RequestContext)
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
