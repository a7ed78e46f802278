"""Search rewrites against the real node: exact neural_sparse scores, neural -> knn, pipelines."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from processors.config.search_body import load_search_pipeline, parse_search_pipeline
from processors.errors import InvalidQueryError
from processors.opensearch.indices import create_index, load_mapping
from processors.pipeline.search import SearchPipeline
from processors.testing.fakes import CountSparseEncoder, HashEmbedder

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def dec9(value: float) -> np.float32:
    """What a rank_features field stores: the float32 with its low 15 bits cleared."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0] >> 15 << 15
    return np.float32(struct.unpack("<f", struct.pack("<I", bits))[0])


def plugin_score(
    query: Mapping[str, float], doc: Mapping[str, float], boost: float = 1.0
) -> np.float32:
    """The plugin's score: Σ float(float(boost·w_q) · dec9(w_d)), summed in double, as float."""
    total = 0.0
    for token, weight in query.items():
        if token in doc:
            clause = np.float32(np.float32(boost) * np.float32(weight)) * dec9(doc[token])
            total += float(np.float32(clause))
    return np.float32(total)


def models(model_id: str) -> Any:
    return CountSparseEncoder() if model_id.startswith("sparse") else HashEmbedder(384)


def _index(client: Any, name: str, mapping: str, docs: dict[str, dict[str, Any]]) -> None:
    create_index(client, name, load_mapping(REPO / "mappings" / mapping), embedded=True)
    for doc_id, source in docs.items():
        client.index(index=name, id=doc_id, body=source)
    client.indices.refresh(index=name)


SPARSE_DOCS = {
    "a": {"hello": 6.937756538391113, "world": 3.4208686351776123, "x": 0.1},
    "b": {"hello": 0.8708904, "planet": 3.6415958, "3.14": 2.7182817},
    "c": {"3.14": 1.2345678, ".": 0.33333334},
    "d": {"unrelated": 1.0},
}


@pytest.mark.parametrize(
    ("tokens", "boost"),
    [
        ({"hello": 1.2345678, "world": 0.7, "x": 2.5, "planet": 0.3333333}, None),
        ({"hello": 1.2345678, "world": 0.7, "planet": 0.3333333}, 2.5),
        ({"hello": 0.9, "3.14": 1.7, ".": 0.3}, None),
        ({"world": 0.25, "3.14": 1.1, "planet": 3.0}, 1.75),
    ],
    ids=["rank_features", "boosted", "dotted", "dotted-boosted"],
)
def test_neural_sparse_score_is_the_plugins_exactly(
    client: Any, index_name: str, tokens: dict[str, float], boost: float | None
) -> None:
    _index(
        client, index_name, "sparse.json", {k: {"text_sparse": v} for k, v in SPARSE_DOCS.items()}
    )
    params: dict[str, Any] = {"query_tokens": tokens, **({"boost": boost} if boost else {})}
    body = {"query": {"neural_sparse": {"text_sparse": params}}}
    hits = SearchPipeline(None, models=models, client=client).search(index_name, body)["hits"][
        "hits"
    ]
    expected = {
        doc_id: plugin_score(tokens, doc, boost or 1.0)
        for doc_id, doc in SPARSE_DOCS.items()
        if set(tokens) & set(doc)
    }
    assert {h["_id"] for h in hits} == set(expected)
    for hit in hits:  # OpenSearch prints the float32 score in its shortest form: compare as float32
        assert np.float32(hit["_score"]) == expected[hit["_id"]], hit["_id"]


def test_neural_sparse_with_a_model_scores_exactly_and_empty_maps_match_nothing(
    client: Any, index_name: str
) -> None:
    encoder = CountSparseEncoder()
    texts = {"1": "red apple red apple", "2": "green apple", "3": "blue sky", "4": "red red red"}
    sparse = {k: encoder.encode([t])[0] for k, t in texts.items()}
    docs = {k: {"text": t, "text_sparse": sparse[k]} for k, t in texts.items()}
    _index(client, index_name, "sparse.json", docs)
    pipeline = SearchPipeline(None, models=models, client=client)
    query = "red apple apple"
    body = {"query": {"bool": {"should": [{"neural_sparse": {"text_sparse": {"query_text": query, "model_id": "sparse-m"}}}]}}}  # fmt: skip
    hits = pipeline.search(index_name, body)["hits"]["hits"]
    weights = encoder.encode([query], "query")[0]
    expected = {k: plugin_score(weights, d) for k, d in sparse.items() if set(weights) & set(d)}
    assert [h["_id"] for h in hits] == sorted(expected, key=lambda k: -expected[k])
    assert all(np.float32(h["_score"]) == expected[h["_id"]] for h in hits)
    empty: dict[str, Any] = {"query": {"neural_sparse": {"text_sparse": {"query_tokens": {}}}}}
    assert pipeline.search(index_name, empty)["hits"]["total"]["value"] == 0
    with pytest.raises(InvalidQueryError, match=r"only works on \[rank_features\] fields"):
        pipeline.search(
            index_name, {"query": {"neural_sparse": {"text": {"query_tokens": {"red": 1}}}}}
        )


TEXTS = [
    "the quick brown fox",
    "a lazy dog sleeps",
    "neural search with vectors",
    "sparse retrieval with tokens",
    "hybrid search fuses scores",
    "rerank with a cross encoder",
]


def test_neural_becomes_knn_nearest_neighbour_with_cosine_scores(
    client: Any, index_name: str
) -> None:
    embedder = HashEmbedder(384)
    vectors = embedder.embed(TEXTS)
    _index(client, index_name, "dense.json", {str(i): {"text": t, "text_embedding": v.tolist()} for i, (t, v) in enumerate(zip(TEXTS, vectors, strict=True))})  # fmt: skip
    query = "search with vectors"
    body = {"size": 3, "query": {"neural": {"text_embedding": {"query_text": query, "model_id": "dense-m", "k": 3}}}}  # fmt: skip
    hits = SearchPipeline(None, models=models, client=client).search(index_name, body)["hits"][
        "hits"
    ]
    q = embedder.embed([query], "query")[0]
    cosine = vectors @ q
    assert [int(h["_id"]) for h in hits] == np.argsort(-cosine)[:3].tolist()
    assert hits[0]["_id"] == "2"
    for hit in hits:  # lucene cosinesimil score
        assert hit["_score"] == pytest.approx((1 + cosine[int(hit["_id"])]) / 2, rel=1e-5)


def test_a_yaml_search_pipeline_runs_end_to_end(
    client: Any, index_name: str, tmp_path: Path
) -> None:
    embedder, encoder = HashEmbedder(384), CountSparseEncoder()
    docs = {
        str(i): {
            "title": "keep" if i % 2 == 0 else "drop",
            "text": t,
            "text_embedding": embedder.embed([t])[0].tolist(),
            "text_sparse": encoder.encode([t])[0],
        }
        for i, t in enumerate(TEXTS)
    }
    _index(client, index_name, "combined.json", docs)
    (tmp_path / "search").mkdir()
    path = tmp_path / "search" / "keep-only.yaml"
    path.write_text(yaml.safe_dump({
        "description": "enricher + core filter_query on the node + core rename_field",
        "request_processors": [
            {"filter_query": {"query": {"match": {"title": "keep"}}}},
            {"neural_query_enricher": {"default_model_id": "dense-m", "neural_field_default_id": {"text_sparse": "sparse-m"}}},
        ],
        "response_processors": [{"rename_field": {"field": "text", "target_field": "body"}}],
    }))  # fmt: skip
    seen: list[str] = []

    def tracking(model_id: str) -> Any:
        seen.append(model_id)
        return models(model_id)

    pipeline = SearchPipeline(load_search_pipeline(path), models=tracking, client=client)
    body = {
        "size": 10,
        "_source": {"excludes": ["text_embedding", "text_sparse"]},
        "query": {"bool": {"should": [
            {"neural": {"text_embedding": {"query_text": "search with vectors"}}},
            {"neural_sparse": {"text_sparse": {"query_text": "search with vectors"}}},
        ]}},
    }  # fmt: skip
    hits = pipeline.search(index_name, body)["hits"]["hits"]
    assert sorted(seen) == ["dense-m", "sparse-m"]
    assert hits and {h["_source"]["title"] for h in hits} == {"keep"}
    assert hits[0]["_id"] == "2"  # "neural search with vectors": best on both clauses
    assert all("body" in h["_source"] and "text" not in h["_source"] for h in hits)


def _minmax(scores: dict[str, float]) -> dict[str, float]:
    low, high = min(scores.values()), max(scores.values())
    return {k: 1.0 if high == low else max((v - low) / (high - low), 0.001) for k, v in scores.items()}  # fmt: skip


def test_hybrid_fuses_the_node_scores_min_max_and_rerank_sorts_by_field(
    client: Any, index_name: str
) -> None:
    embedder = HashEmbedder(384)
    docs = {
        str(i): {"text": t, "stars": (i * 7) % 5, "text_embedding": embedder.embed([t])[0].tolist()}
        for i, t in enumerate(TEXTS)
    }
    _index(client, index_name, "combined.json", docs)
    fusion: dict[str, Any] = {"phase_results_processors": [{"normalization-processor": {}}]}
    pipeline = SearchPipeline(parse_search_pipeline("h", fusion), models=models, client=client)
    match = {"match": {"text": "search with vectors"}}
    neural = {"neural": {"text_embedding": {"query_text": "search with vectors", "model_id": "dense-m", "k": 6}}}  # fmt: skip
    body = {"size": 6, "query": {"hybrid": {"queries": [match, neural]}}}
    hits = pipeline.search(index_name, body)["hits"]["hits"]
    knn = {"knn": {"text_embedding": {"vector": embedder.embed(["search with vectors"], "query")[0].tolist(), "k": 6}}}  # fmt: skip
    raw = [
        {
            h["_id"]: h["_score"]
            for h in client.search(index=index_name, body={"size": 6, "query": q})["hits"]["hits"]
        }
        for q in (match, knn)
    ]
    norm = [_minmax(r) for r in raw]
    expected = {
        d: (norm[0].get(d, 0.0) + norm[1].get(d, 0.0)) / 2 for d in set(raw[0]) | set(raw[1])
    }
    assert {h["_id"]: h["_score"] for h in hits} == pytest.approx(expected, rel=1e-5)
    assert hits[0]["_id"] == "2"
    by_stars = {"response_processors": [{"rerank": {"by_field": {"target_field": "stars"}}}]}
    pipeline = SearchPipeline(parse_search_pipeline("r", by_stars), models=models, client=client)
    reranked = pipeline.search(index_name, {"query": neural})["hits"]["hits"]
    assert [h["_score"] for h in reranked] == sorted((float(d["stars"]) for d in docs.values()), reverse=True)  # fmt: skip
