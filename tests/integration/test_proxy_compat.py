"""The proxy on the real node, as OpenSearch takes requests: settings in every form (cluster
and index, templates, aliases, wildcards), every endpoint with a query body, trailing slashes,
scroll and point in time, one error per refused pipeline. Models are the test fakes."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch, TransportError

from processors.opensearch.indices import load_mapping
from processors.proxy.cluster_settings import merge
from tests.integration.proxy_server import fake_proxy

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:8]
EMBED = f"compat-embed-{RUN}"
ENRICH = f"compat-enrich-{RUN}"
NEURAL = {"neural": {"text_embedding": {"query_text": "wing lift", "model_id": "dense", "k": 3}}}
TEXTS = ["the wing produces lift", "a shock wave in a nozzle", "boundary layer on a plate"]


@pytest.fixture(scope="module")
def proxied(
    opensearch_url: str, client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenSearch]:
    try:
        with fake_proxy(opensearch_url, client, tmp_path_factory, RUN, timeout=60) as proxy:
            proxy.ingest.put_pipeline(id=EMBED, body={"processors": [{"text_embedding": {
                "model_id": "dense", "field_map": {"text": "text_embedding"}}}]})  # fmt: skip
            proxy.transport.perform_request(
                "PUT",
                f"/_search/pipeline/{ENRICH}",
                body={
                    "request_processors": [{"neural_query_enricher": {"default_model_id": "dense"}}]
                },
            )
            yield proxy
    finally:
        for name in ("compat-*", f"tmpl-{RUN}-*", f"legacy-{RUN}-*"):
            client.indices.delete(index=name, ignore=[404])
        client.indices.delete_index_template(name=f"tmpl-{RUN}", ignore=[404])
        client.indices.delete_template(name=f"legacy-{RUN}", ignore=[404])


def _index(proxied: OpenSearch, name: str, settings: dict[str, Any]) -> str:
    body = load_mapping(REPO / "mappings" / "combined.json")
    body["settings"] = merge(body["settings"], copy.deepcopy(settings))
    proxied.indices.create(index=name, body=body)
    return name


def _fill(proxied: OpenSearch, name: str) -> None:
    for number, text in enumerate(TEXTS, 1):
        proxied.index(index=name, id=str(number), body={"text": text, "n": number})
    proxied.indices.refresh(index=name)


FORMS = [
    {"default_pipeline": EMBED},
    {"index.default_pipeline": EMBED},
    {"index": {"default_pipeline": EMBED}},
]


@pytest.mark.parametrize("form", FORMS, ids=["short", "prefixed", "nested"])
def test_index_settings_every_form(proxied: OpenSearch, client: Any, form: dict[str, Any]) -> None:
    name = _index(proxied, f"compat-{uuid.uuid4().hex[:8]}", form)
    _fill(proxied, name)  # no ?pipeline: the default pipeline of the index
    assert len(client.get(index=name, id="1")["_source"]["text_embedding"]) == 384
    shown = proxied.indices.get_settings(index=name)[name]["settings"]["index"]
    assert shown["default_pipeline"] == EMBED
    flat = proxied.indices.get_settings(index=name, params={"flat_settings": "true"})
    assert flat[name]["settings"]["index.default_pipeline"] == EMBED
    one = proxied.indices.get_settings(index=name, name="index.default_pipeline")
    assert one[name]["settings"] == {"index": {"default_pipeline": EMBED}}
    assert proxied.indices.get(index=name)[name]["settings"]["index"]["default_pipeline"] == EMBED


@pytest.mark.parametrize("form", [
    {"search.default_pipeline": ENRICH},
    {"index": {"search.default_pipeline": ENRICH}},
    {"settings": {"index": {"search": {"default_pipeline": ENRICH}}}},
], ids=["short", "half-nested", "wrapped"])  # fmt: skip
def test_put_settings_every_form_on_aliases_and_wildcards(
    proxied: OpenSearch, client: Any, form: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [_index(proxied, f"compat-{tag}-{n}", {"default_pipeline": EMBED}) for n in (1, 2)]
    for name in names:
        _fill(proxied, name)
    proxied.indices.put_alias(index=names[0], name=f"compat-alias-{tag}")
    assert proxied.indices.put_settings(index=f"compat-alias-{tag}", body=form) == {
        "acknowledged": True
    }
    assert proxied.indices.put_settings(index=f"compat-{tag}-*", body=form) == {
        "acknowledged": True
    }
    for name in names:
        shown = proxied.indices.get_settings(index=name)[name]["settings"]["index"]
        assert shown["search"]["default_pipeline"] == ENRICH
    no_model = {"query": {"neural": {"text_embedding": {"query_text": "wing lift", "k": 2}}}}
    hits = proxied.search(index=names[1], body=no_model)["hits"]["hits"]  # enricher's model
    assert hits[0]["_id"] == "1"
    reset = {"index.search.default_pipeline": None}
    proxied.indices.put_settings(index=names[1], body=reset)
    assert (
        "search" not in proxied.indices.get_settings(index=names[1])[names[1]]["settings"]["index"]
    )


def test_templates_composable_and_legacy(proxied: OpenSearch, client: Any) -> None:
    body = {"index_patterns": [f"tmpl-{RUN}-*"], "template": {
        "settings": {"default_pipeline": EMBED, "index.knn": True},
        "mappings": load_mapping(REPO / "mappings" / "combined.json")["mappings"]}}  # fmt: skip
    assert proxied.indices.put_index_template(name=f"tmpl-{RUN}", body=body)["acknowledged"]
    proxied.index(index=f"tmpl-{RUN}-a", id="1", body={"text": TEXTS[0]}, refresh=True)
    assert len(client.get(index=f"tmpl-{RUN}-a", id="1")["_source"]["text_embedding"]) == 384
    legacy = {"index_patterns": [f"legacy-{RUN}-*"], "settings": {"index.default_pipeline": EMBED, "index.knn": True},
              "mappings": load_mapping(REPO / "mappings" / "combined.json")["mappings"]}  # fmt: skip
    assert proxied.indices.put_template(name=f"legacy-{RUN}", body=legacy)["acknowledged"]
    proxied.indices.create(index=f"legacy-{RUN}-a")
    proxied.index(index=f"legacy-{RUN}-a", id="1", body={"text": TEXTS[1]}, refresh=True)
    assert len(client.get(index=f"legacy-{RUN}-a", id="1")["_source"]["text_embedding"]) == 384


def test_every_query_body_endpoint(proxied: OpenSearch, client: Any) -> None:
    name = _index(proxied, f"compat-{uuid.uuid4().hex[:8]}", {"default_pipeline": EMBED})
    _fill(proxied, name)
    query = {"query": NEURAL}
    assert proxied.count(index=name, body=query)["count"] == 3
    assert proxied.explain(index=name, id="1", body=query)["matched"] is True
    assert proxied.indices.validate_query(index=name, body=query)["valid"] is True
    perform = proxied.transport.perform_request
    assert perform("POST", f"/{name}/_search/", body=query)["hits"]["hits"][0]["_id"] == "1"
    lines = [{"index": name}, query, {"index": name}, {"query": {"match_all": {}}}]
    ndjson = "".join(json.dumps(line) + "\n" for line in lines)
    msearch = perform("POST", "/_msearch/", body=ndjson,
                      headers={"content-type": "application/x-ndjson"})  # fmt: skip
    first_hits, all_hits = (r["hits"]["hits"] for r in msearch["responses"])
    assert first_hits[0]["_id"] == "1" and len(all_hits) == 3
    update = {"query": {"neural": {"text_embedding": {"query_text": "wing lift", "model_id": "dense",
                                                       "k": 1}}},
              "script": {"source": "ctx._source.tag = 'hit'"}}  # fmt: skip
    try:
        updated = proxied.update_by_query(index=name, body=update, refresh=True)
    except TransportError as missing:  # a node without the reindex module: its answer, as is
        assert "no handler found" in str(missing.error)
        has_reindex = False
    else:
        assert updated["updated"] == 1
        assert client.get(index=name, id="1")["_source"]["tag"] == "hit"
        has_reindex = True
    scrolled = proxied.search(index=name, body={"size": 1, **query}, scroll="1m")
    rest = proxied.scroll(scroll_id=scrolled["_scroll_id"], scroll="1m")
    assert len(scrolled["hits"]["hits"]) == 1 and len(rest["hits"]["hits"]) == 1
    pit = perform("POST", f"/{name}/_search/point_in_time", params={"keep_alive": "1m"})
    page = {"size": 2, "pit": {"id": pit["pit_id"], "keep_alive": "1m"}, "sort": [{"_score": "desc"}, {"n": "asc"}], **query}  # fmt: skip
    first = proxied.search(body=page)["hits"]["hits"]
    after = proxied.search(body={**page, "search_after": first[-1]["sort"]})["hits"]["hits"]
    assert len(first) == 2 and len(after) == 1 and first[0]["_id"] == "1"
    if has_reindex:
        deleted = proxied.delete_by_query(index=name, body={"query": NEURAL}, refresh=True)
        assert deleted["deleted"] == 3


def test_cluster_settings_on_the_node(proxied: OpenSearch, client: Any) -> None:
    body = {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False,
                           "plugins": {"neural_search": {"hybrid_search_disabled": "false"}},
                           "cluster.routing.allocation.disk.threshold_enabled": False}}  # fmt: skip
    answer = proxied.cluster.put_settings(body=body)
    assert answer["acknowledged"] is True
    assert answer["persistent"]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"
    assert (
        answer["persistent"]["cluster"]["routing"]["allocation"]["disk"]["threshold_enabled"]
        == "false"
    )
    got = proxied.cluster.get_settings(include_defaults=True, flat_settings=True)
    assert got["persistent"]["plugins.ml_commons.only_run_on_ml_node"] == "false"
    assert got["defaults"]["plugins.ml_commons.allow_registering_model_via_url"] == "false"
    assert "cluster.name" in got["defaults"]  # the node's own defaults too
    assert "plugins.ml_commons.only_run_on_ml_node" not in client.cluster.get_settings(
        flat_settings=True)["persistent"]  # fmt: skip
    proxied.cluster.put_settings(
        body={
            "persistent": {
                "plugins.*": None,
                "cluster.routing.allocation.disk.threshold_enabled": None,
            }
        }
    )
    assert proxied.cluster.get_settings()["persistent"] == {}


def test_refused_pipeline_is_one_error(proxied: OpenSearch) -> None:
    body = {"processors": [{"text_embedding": {"field_map": {"text": "v"}}},
                           {"sparse_encoding": {"model_id": "sparse"}}]}  # fmt: skip
    with pytest.raises(TransportError) as refused:
        proxied.ingest.put_pipeline(id=f"bad-{RUN}", body=body)
    error = refused.value.info["error"]
    assert refused.value.status_code == 400 and error["type"] == "parse_exception"
    assert error["reason"] == "[model_id] required property is missing"
    assert error["root_cause"] == [{"type": "parse_exception", "reason": error["reason"]}]


def test_vectors_without_an_engine_get_lucene_on_the_embedded_node(
    proxied: OpenSearch, client: Any
) -> None:
    """The k-NN default engine (faiss on 3.x, nmslib on 2.x) has no native library on the
    embedded node and would kill it at the first write: the proxy gives such fields lucene."""
    name = f"compat-engine-{RUN}"
    vector = {"type": "knn_vector", "dimension": 3, "space_type": "l2"}
    proxied.indices.create(
        index=name,
        body={"settings": {"index.knn": True}, "mappings": {"properties": {"v": vector}}},
    )
    field = client.indices.get_mapping(index=name)[name]["mappings"]["properties"]["v"]
    assert field["method"]["engine"] == "lucene" and field["method"]["space_type"] == "l2"
    proxied.index(index=name, id="1", body={"v": [1.0, 2.0, 3.0]}, refresh=True)
    hits = proxied.search(index=name, body={"query": {"knn": {"v": {"vector": [1, 2, 3], "k": 1}}}})
    assert [h["_id"] for h in hits["hits"]["hits"]] == ["1"]
    assert client.cluster.health()["status"] in ("green", "yellow")  # the node is alive

    template = f"compat-engine-tmpl-{RUN}"
    proxied.indices.put_index_template(name=template, body={
        "index_patterns": [f"compat-engine-tmpl-{RUN}-*"], "priority": 7,
        "template": {"settings": {"index.knn": True}, "mappings": {"properties": {"v": vector}}},
    })  # fmt: skip
    try:
        made_name = f"compat-engine-tmpl-{RUN}-1"
        proxied.index(index=made_name, id="1", body={"v": [1, 2, 3]}, refresh=True)
        made = client.indices.get_mapping(index=made_name)
        assert made[made_name]["mappings"]["properties"]["v"]["method"]["engine"] == "lucene"
    finally:
        client.indices.delete_index_template(name=template, ignore=[404])

    faiss = {**vector, "method": {"name": "hnsw", "engine": "faiss"}}
    with pytest.raises(TransportError) as refused:
        proxied.indices.create(
            index=f"{name}-faiss", body={"mappings": {"properties": {"v": faiss}}}
        )
    assert refused.value.status_code == 400
    assert "needs native libraries" in str(refused.value.info)


MALFORMED = [b'{"processors": [{"text_embedding": {}', b'{"a": }', b"[1]"]


@pytest.mark.parametrize("raw", MALFORMED, ids=["eof", "unexpected", "not-an-object"])
def test_unparsable_bodies_get_the_nodes_answer_and_change_nothing(
    proxied: OpenSearch, client: Any, raw: bytes
) -> None:
    """A pipeline ``PUT`` / ``_simulate`` whose body is not a JSON object is answered as the
    node's core route answers it (it used to be a bare ``json_e_o_f_exception`` with Python's
    message where OpenSearch says ``parse_exception`` "Failed to parse content to map"); a
    document for a neuralpipe pipeline as the node's mapper refuses it. The stored pipeline
    stays as it was and no document is written."""
    import httpx

    proxy_url = proxied.transport.hosts[0]
    base = f"http://{proxy_url['host']}:{proxy_url['port']}"
    node = client.transport.hosts[0]
    node_base = f"{node.get('scheme', 'http')}://{node['host']}:{node['port']}"
    before = proxied.ingest.get_pipeline(id=EMBED)
    headers = {"Content-Type": "application/json"}
    for method, path in [("PUT", f"/_ingest/pipeline/{EMBED}"), ("PUT", f"/_search/pipeline/{ENRICH}"),
                         ("POST", f"/_ingest/pipeline/{EMBED}/_simulate"),
                         ("POST", "/_ingest/pipeline/_simulate")]:  # fmt: skip
        ours = httpx.request(method, base + path, content=raw, headers=headers)
        theirs = httpx.request(method, node_base + path, content=raw, headers=headers)
        assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json()), path
        assert ours.status_code == 400
    assert proxied.ingest.get_pipeline(id=EMBED) == before
    name = f"compat-malformed-{RUN}"
    client.indices.create(index=name)
    try:
        ours = httpx.put(f"{base}/{name}/_doc/1?pipeline={EMBED}", content=raw, headers=headers)
        theirs = httpx.put(f"{node_base}/{name}/_doc/1", content=raw, headers=headers)
        assert ours.status_code == theirs.status_code == 400
        mine, node_error = ours.json()["error"], theirs.json()["error"]
        assert (mine["type"], mine["reason"]) == (node_error["type"], node_error["reason"])
        assert mine["root_cause"] == node_error["root_cause"]
        assert mine["caused_by"]["type"] == node_error["caused_by"]["type"]
        assert client.count(index=name)["count"] == 0
    finally:
        client.indices.delete(index=name, ignore=[404])
