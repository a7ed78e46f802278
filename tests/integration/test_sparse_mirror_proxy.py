"""Dotted ``neural_sparse`` tokens answered through the dotted-feature mirror on the real node.

An index created through the proxy gets the hidden mirror of its ``rank_features`` field;
documents written through the proxy (``_bulk``, ``_doc``) get their dotted features there, and a
dotted query token is then a ``rank_feature`` clause on the mirror with the plugin's exact
score. A document written around neuralpipe (straight to the node) or rebuilt from ``_source``
by a partial update makes the two document frequencies differ: the exact script again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opensearchpy import OpenSearch

from processors.config.index_translation import node_index_body
from processors.indexing.bulk import BulkIndexer
from processors.opensearch.indices import create_index
from processors.pipeline.search import SearchPipeline
from processors.proxy.app import ProxySettings, create_app
from tests.integration.proxy_server import fake_models, serve
from tests.integration.test_bulk import FP
from tests.integration.test_search_node import SPARSE_DOCS, models, plugin_score

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
FIELD = "text_sparse"
MIRROR = "text_sparse__np_dotted"
TOKENS = {"hello": 0.9, ".": 0.3, "3.14": 1.1, "planet": 0.3333333}
MAPPING = {
    "settings": {"number_of_shards": 2, "number_of_replicas": 0},
    "mappings": {"properties": {"title": {"type": "text"}, FIELD: {"type": "rank_features"}}},
}


@pytest.fixture(scope="module")
def proxied(opensearch_url: str, client: Any, tmp_path_factory: Any) -> Iterator[OpenSearch]:
    root = tmp_path_factory.mktemp("proxy")
    (root / "pipelines").mkdir()
    settings = ProxySettings(
        upstream_url=opensearch_url, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=f".nptest-{RUN}-ml", pipeline_index=f".nptest-{RUN}-pipelines",
        cache_ttl=0.5,
    )  # fmt: skip
    try:
        with serve(create_app(settings, models=fake_models)) as url:
            yield OpenSearch(hosts=[url], timeout=60)
    finally:
        client.indices.delete(index=f".nptest-{RUN}-*", ignore=[404])


def _rewrite_and_search(client: Any, index: str) -> tuple[Any, dict[str, float]]:
    """The query the node gets, and the scores it answers, for :data:`TOKENS`."""
    pipeline = SearchPipeline(None, models=models, client=client)
    body = {"query": {"neural_sparse": {FIELD: {"query_tokens": TOKENS}}}}
    hits = pipeline.search(index, body)["hits"]["hits"]
    return pipeline.rewrite(body, index)["query"], {h["_id"]: h["_score"] for h in hits}


def _expected(docs: dict[str, dict[str, float]]) -> dict[str, np.float32]:
    return {k: plugin_score(TOKENS, d) for k, d in docs.items() if set(TOKENS) & set(d)}


def _assert_exact(scores: dict[str, float], docs: dict[str, dict[str, float]]) -> None:
    expected = _expected(docs)
    assert set(scores) == set(expected)
    for doc_id, score in scores.items():
        assert np.float32(score) == expected[doc_id], doc_id


def _load(proxied: OpenSearch, index: str) -> None:
    proxied.indices.create(index=index, body=MAPPING)
    actions: list[Any] = []
    for doc_id, features in SPARSE_DOCS.items():
        if doc_id != "d":
            actions += [{"index": {"_id": doc_id}}, {"title": doc_id, FIELD: features}]
    answer = proxied.bulk(index=index, body=actions, refresh=True)
    assert not answer["errors"], answer
    proxied.index(index=index, id="d", body={FIELD: SPARSE_DOCS["d"]}, refresh=True)


def test_documents_written_through_the_proxy_answer_dotted_tokens_by_the_mirror(
    proxied: OpenSearch, client: Any, index_name: str
) -> None:
    _load(proxied, index_name)
    node = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert node["properties"][MIRROR] == {"type": "rank_features"}
    assert node["_source"] == {"excludes": [MIRROR], "recovery_source_enabled": False}
    shown = proxied.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert shown == MAPPING["mappings"]  # the mirror is ours: the user's mapping comes back
    stored = client.get(index=index_name, id="c")["_source"]
    assert stored == {"title": "c", FIELD: SPARSE_DOCS["c"]}  # not in _source either

    sent, scores = _rewrite_and_search(client, index_name)
    fields = [c["rank_feature"]["field"] for c in sent["bool"]["should"]]
    assert fields == [f"{FIELD}.hello", f"{MIRROR}.%2E", f"{MIRROR}.3%2E14", f"{FIELD}.planet"]
    _assert_exact(scores, SPARSE_DOCS)
    body = {"query": {"neural_sparse": {FIELD: {"query_tokens": TOKENS}}}}
    confirmed, deferred = _deferred(client, index_name)
    assert confirmed and deferred["query"] == sent and len(deferred["suggest"]) == 4
    answer = proxied.search(index=index_name, body=body)  # the probe rides with the search
    assert "suggest" not in answer
    hits = answer["hits"]["hits"]
    assert {h["_id"]: h["_score"] for h in hits} == scores
    assert all(MIRROR not in h["_source"] for h in hits)


def _deferred(client: Any, index: str) -> tuple[bool, Any]:
    """Whether the probe that rides with the search confirms the mirror, and the request."""
    pipeline = SearchPipeline(None, models=models, client=client)
    body = {"query": {"neural_sparse": {FIELD: {"query_tokens": TOKENS}}}}
    sent, check = pipeline.node_request_checked(index, body)
    assert sent is not None and check is not None
    raw = client.transport.perform_request("POST", f"/{index}/_search", body=sent)
    return check.confirmed(raw), sent


def _proxied_scores(proxied: OpenSearch, index: str) -> dict[str, float]:
    body = {"query": {"neural_sparse": {FIELD: {"query_tokens": TOKENS}}}}
    answer = proxied.search(index=index, body=body)
    assert "suggest" not in answer
    return {h["_id"]: h["_score"] for h in answer["hits"]["hits"]}


def test_a_document_written_around_neuralpipe_brings_back_the_exact_script(
    proxied: OpenSearch, client: Any, index_name: str
) -> None:
    _load(proxied, index_name)
    extra = {"3.14": 0.5, "world": 1.0}
    client.index(index=index_name, id="e", body={FIELD: extra}, refresh=True)
    sent, scores = _rewrite_and_search(client, index_name)
    assert "script_score" in sent
    _assert_exact(scores, {**SPARSE_DOCS, "e": extra})
    assert _deferred(client, index_name)[0] is False  # the proxy sends the script instead
    _assert_exact(_proxied_scores(proxied, index_name), {**SPARSE_DOCS, "e": extra})


def test_a_partial_update_on_the_node_drops_the_mirror_and_the_script_comes_back(
    proxied: OpenSearch, client: Any, index_name: str
) -> None:
    _load(proxied, index_name)
    changed = {"3.14": 2.5, ".": 0.75}
    client.update(index=index_name, id="c", body={"doc": {FIELD: changed}}, refresh=True)
    sent, scores = _rewrite_and_search(client, index_name)
    assert "script_score" in sent  # the rebuilt document has no mirror: frequencies differ
    _assert_exact(scores, {**SPARSE_DOCS, "c": changed})
    _assert_exact(_proxied_scores(proxied, index_name), {**SPARSE_DOCS, "c": changed})


def test_neuralpipe_index_bulk_writes_the_mirror_too(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    create_index(client, index_name, node_index_body(MAPPING, lambda _: {}), embedded=True)
    corpus = tmp_path / "docs.jsonl"
    lines = [json.dumps({"_id": k, FIELD: v}) for k, v in SPARSE_DOCS.items()]
    corpus.write_text("\n".join(lines) + "\n")
    report = BulkIndexer(client, index_name, None, fingerprint=FP).index_files([corpus])
    assert report.ok == len(SPARSE_DOCS)
    sent, scores = _rewrite_and_search(client, index_name)
    assert f"{MIRROR}.%2E" in [c["rank_feature"]["field"] for c in sent["bool"]["should"]]
    _assert_exact(scores, SPARSE_DOCS)


def test_the_mirror_does_not_make_the_node_keep_a_second_copy_of_each_document(
    proxied: OpenSearch, client: Any, index_name: str
) -> None:
    """A filtered ``_source`` alone made the node store every document again, vectors included
    (``_recovery_source``): 2.4x the disk of the same index without the mirror."""
    rng = np.random.default_rng(7)
    vector = {"type": "knn_vector", "dimension": 384,
              "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}  # fmt: skip
    body = {"settings": {"index.knn": True, "number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {FIELD: {"type": "rank_features"}, "v": vector}}}  # fmt: skip
    docs = [{"v": rng.standard_normal(384).astype(np.float32).tolist(),
             FIELD: {f"t{j}" if j % 9 else f"{j}.5": float(np.float32(rng.random()))
                     for j in rng.choice(3000, 120, replace=False)}}
            for _ in range(400)]  # fmt: skip
    plain = f"{index_name}-plain"
    sizes = {}
    try:
        for index, writer in ((index_name, proxied), (plain, client)):
            writer.indices.create(index=index, body=body)
            lines = [line for i, doc in enumerate(docs)
                     for line in ({"index": {"_index": index, "_id": str(i)}}, doc)]  # fmt: skip
            assert not writer.bulk(body=lines, refresh=True)["errors"]
            client.indices.flush(index=index)
            sizes[index] = client.indices.stats(index=index)["_all"]["primaries"]["store"][
                "size_in_bytes"
            ]
        assert (
            MIRROR
            in client.indices.get_mapping(index=index_name)[index_name]["mappings"]["properties"]
        )
        assert sizes[index_name] < 1.15 * sizes[plain], sizes
    finally:
        client.indices.delete(index=plain, ignore=[404])
