"""The proxy in front of the real node (through a recording forwarder): whose credentials go
upstream, a pipeline the node would refuse, and one bad document in a ``_bulk``."""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from processors.proxy.app import ProxySettings, create_app
from processors.testing.fakes import HashEmbedder
from tests.faults.common import MAPPING
from tests.integration.fault_proxy import FaultProxy
from tests.integration.proxy_server import fake_models, serve

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
PROXY_AUTH = "Basic " + base64.b64encode(b"proxy-admin:proxy-secret").decode()
CLIENT_AUTH = "Basic " + base64.b64encode(b"alice:alice-pw").decode()
MAPPING_384 = copy.deepcopy(MAPPING)  # the proxy's fake "dense" model makes 384 dimensions
MAPPING_384["mappings"]["properties"]["text_embedding"]["dimension"] = 384
EMBED = {"text_embedding": {"model_id": "dense", "field_map": {"text": "text_embedding"}}}


@pytest.fixture
def recorder(opensearch_url: str) -> Iterator[FaultProxy]:
    forwarder = FaultProxy(opensearch_url)
    forwarder.start()
    yield forwarder
    forwarder.stop()


class StrictEmbedder(HashEmbedder):
    """Fails the whole call on a text with a lone surrogate, as a real tokenizer does."""

    def embed(self, texts: Sequence[str], content_type: Any = "passage") -> Any:
        for text in texts:
            text.encode("utf-8")  # UnicodeEncodeError: surrogates not allowed
        return super().embed(texts, content_type)


def proxy_app(recorder: FaultProxy, root: Path, client: Any, **options: Any) -> Any:
    store = f".nptest-{RUN}-{uuid.uuid4().hex[:6]}-pipelines"
    models = options.pop("models", fake_models)
    settings = ProxySettings(
        upstream_url=recorder.url, username="proxy-admin", password="proxy-secret",
        pipelines_dir=root / "none", home=root, pipeline_index=store, cache_ttl=0.0,
        warm_models=False, **options,
    )  # fmt: skip
    return create_app(settings, models=models, with_registry=False), store


def exercise(url: str, index: str, headers: dict[str, str]) -> list[int]:
    """Passthrough, a pipeline PUT (the proxy's own requests) and an ingest through it."""
    pipeline = f"np-cred-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        return [
            http.get("/_cluster/health").status_code,
            http.put(f"/_ingest/pipeline/{pipeline}", json={"processors": [EMBED]}).status_code,
            http.post(f"/{index}/_doc?pipeline={pipeline}&refresh=true",
                      json={"text": "hello"}).status_code,
            http.delete(f"/_ingest/pipeline/{pipeline}").status_code,
        ]  # fmt: skip


@pytest.mark.parametrize("lend", [False, True])
def test_credentials_are_the_clients_or_none_and_the_proxys_only_when_lent(
    lend: bool, recorder: FaultProxy, client: Any, index_name: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING_384)
    app, store = proxy_app(recorder, tmp_path, client, lend_identity=lend)
    try:
        with serve(app) as url:
            recorder.authorizations.clear()
            assert exercise(url, index_name, {}) == [200, 200, 201, 200]
            anonymous = set(recorder.authorizations)
            recorder.authorizations.clear()
            assert exercise(url, index_name, {"Authorization": CLIENT_AUTH}) == [200, 200, 201, 200]
            as_alice = set(recorder.authorizations)
    finally:
        client.indices.delete(index=store, ignore=[404])
    assert anonymous == ({PROXY_AUTH} if lend else {None})
    assert as_alice == {CLIENT_AUTH}


def test_a_pipeline_the_node_would_refuse_is_refused_at_put_in_its_shape(
    recorder: FaultProxy, client: Any, tmp_path: Path
) -> None:
    app, store = proxy_app(recorder, tmp_path, client)
    python = {"script": {"lang": "python", "source": "ctx.x = 1"}}
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            mixed = http.put(f"/_ingest/pipeline/np-py-{RUN}", json={"processors": [EMBED, python]})
            core = http.put(f"/_ingest/pipeline/np-py2-{RUN}", json={"processors": [python]})
            gone = http.get(f"/_ingest/pipeline/np-py-{RUN}").status_code
    finally:
        client.indices.delete(index=store, ignore=[404])
    # the node itself answers a PUT of such a pipeline with an error (500 "exception" on
    # 2.19); the proxy gives the same answer when the pipeline also has neuralpipe steps
    assert mixed.status_code == core.status_code >= 400, mixed.text
    assert mixed.json() == core.json()
    error = mixed.json()["error"]
    assert error["root_cause"] and "script_lang not supported [python]" in error["reason"]
    assert gone == 404


def test_one_bad_document_in_a_proxy_bulk_fails_alone(
    recorder: FaultProxy, client: Any, index_name: str, tmp_path: Path
) -> None:
    client.indices.create(index=index_name, body=MAPPING_384)
    app, store = proxy_app(recorder, tmp_path, client, models=lambda _: StrictEmbedder(384))
    pipeline = f"np-bulk-{RUN}"
    batched = {"text_embedding": {**EMBED["text_embedding"], "batch_size": 32}}
    lines = []
    for i in range(12):
        text = "bad \\ud800 text" if i == 5 else f"good text {i}"
        lines += [f'{{"index": {{"_index": "{index_name}", "_id": "b{i}"}}}}',
                  f'{{"text": "{text}"}}']  # fmt: skip
    body = ("\n".join(lines) + "\n").encode()
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            assert http.put(
                f"/_ingest/pipeline/{pipeline}", json={"processors": [batched]}
            ).is_success
            answer = http.post(f"/_bulk?pipeline={pipeline}&refresh=true", content=body,
                               headers={"Content-Type": "application/x-ndjson"}).json()  # fmt: skip
    finally:
        client.indices.delete(index=store, ignore=[404])
    statuses = [item["index"]["status"] for item in answer["items"]]
    assert statuses == [201] * 5 + [400] + [201] * 6, answer["items"][5]
    assert "surrogate" in answer["items"][5]["index"]["error"]["reason"]
    assert client.count(index=index_name)["count"] == 11
