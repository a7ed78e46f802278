"""The proxy app over a :class:`FakeNode` on a real socket, fake models, pipeline files in a temp
folder. The proxy reaches the node through its production upstream client (one server for the
session, a fresh node per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
import yaml
from starlette.applications import Starlette

from processors.errors import ModelNotRegisteredError
from processors.models.encoders import ContentType
from processors.proxy.app import ProxySettings, create_app
from processors.testing.fakes import CountSparseEncoder, HashEmbedder
from tests.unit.proxy.fake_node import FakeNode, NodeServer

Call = Callable[..., httpx.Response]
FILES = {
    "ingest/embed.yaml": {"processors": [
        {"text_embedding": {"model_id": "dense-1", "field_map": {"text": "text_embedding"}}}]},
    "ingest/tag-and-drop.yaml": {"processors": [
        {"set": {"field": "tagged", "value": True}}, {"drop": {}},
        {"sparse_encoding": {"model_id": "sparse-1", "field_map": {"text": "text_sparse"}}}]},
    "ingest/broken-model.yaml": {"processors": [
        {"text_embedding": {"model_id": "broken", "field_map": {"text": "text_embedding"}}}]},
    "search/enrich.yaml": {"request_processors": [
        {"neural_query_enricher": {"default_model_id": "dense-1"}}]},
}  # fmt: skip


class CountingEmbedder(HashEmbedder):
    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], content_type: ContentType = "passage") -> Any:
        self.calls.append(list(texts))
        return super().embed(texts, content_type)


class BrokenEmbedder(HashEmbedder):
    def embed(self, texts: Sequence[str], content_type: ContentType = "passage") -> Any:
        if any("boom" in t for t in texts):
            raise RuntimeError("the model failed")
        return np.asarray(super().embed(texts, content_type))


class Models:
    def __init__(self) -> None:
        self.dense = CountingEmbedder(8)
        self.sparse = CountSparseEncoder()
        self.broken = BrokenEmbedder(8)

    def __call__(self, model_id: str) -> Any:
        if model_id.startswith("dense"):
            return self.dense
        if model_id.startswith("sparse"):
            return self.sparse
        if model_id == "broken":
            return self.broken
        raise ModelNotRegisteredError(f"model id [{model_id}] not found")


def write_files(root: Path) -> Path:
    for name, body in FILES.items():
        path = root / "pipelines" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(body))
    return root / "pipelines"


@pytest.fixture(scope="session")
def node_server() -> Iterator[NodeServer]:
    with NodeServer.running() as server:
        yield server


@pytest.fixture
def node(node_server: NodeServer) -> Iterator[FakeNode]:
    node_server.node = FakeNode()
    yield node_server.node
    node_server.node = None


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def make_app(
    tmp_path: Path, node_server: NodeServer, node: FakeNode, models: Models
) -> Callable[..., Starlette]:
    def make(**options: Any) -> Starlette:
        registry = options.pop("registry", None)
        settings = ProxySettings(
            upstream_url=node_server.url, pipelines_dir=write_files(tmp_path),
            home=tmp_path / "home", warm_models=False, cache_ttl=0.0, **options,
        )  # fmt: skip
        return create_app(
            settings, models=models,
            registry=(lambda client: registry) if registry is not None else None,
            with_registry=registry is not None,
        )  # fmt: skip

    return make


@pytest.fixture
def app(make_app: Callable[..., Starlette]) -> Starlette:
    return make_app()


def caller(app: Starlette, *, drop: Sequence[str] = ()) -> Call:
    """``call(method, path, **httpx_options)``: one request to ``app``, in an event loop of its
    own; the upstream connections it opened are closed before that loop ends.

    Args:
        app: The proxy app.
        drop: Default headers of the httpx client not to send.
    """

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://proxy"
                ) as client:
                    for name in drop:
                        del client.headers[name]
                    return await client.request(method, path, **kwargs)
            finally:
                await app.state.neuralpipe.upstream.transport.aclose()

        return anyio.run(go)

    return call


@pytest.fixture
def call(app: Starlette) -> Call:
    return caller(app)
