"""The real node takes vectors and token maps and scores them as OpenSearch does."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processors.opensearch.indices import create_index, load_mapping

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def stored_feature(value: float) -> float:
    """What a rank_features field gives back: the float32 with its low 15 bits cleared."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0] >> 15 << 15
    return float(struct.unpack("<f", struct.pack("<I", bits))[0])


def expected_linear_score(
    query: dict[str, float], doc: dict[str, float], boost: float = 1.0
) -> float:
    """Σ float32(boost·w_q) · dec(w_d) over shared tokens, summed in double, cast to float32."""
    total = 0.0
    for token, weight in query.items():
        if token in doc:
            clause = np.float32(np.float32(boost) * np.float32(weight)) * np.float32(
                stored_feature(doc[token])
            )
            total += float(np.float32(clause))
    return float(np.float32(total))


def test_stored_feature_matches_the_reference_examples() -> None:
    assert stored_feature(0.1) == 0.099853515625
    assert stored_feature(3.6415958) == 3.640625
    assert stored_feature(6.937756538) == 6.9375
    assert stored_feature(0.8708904) == 0.869140625


def test_knn_returns_the_nearest_neighbour(client: Any, index_name: str) -> None:
    create_index(client, index_name, load_mapping(REPO / "mappings" / "dense.json"), embedded=True)
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i, vector in enumerate(vectors):
        client.index(
            index=index_name,
            id=str(i),
            body={"text": f"doc {i}", "text_embedding": vector.tolist()},
        )
    client.indices.refresh(index=index_name)
    query = vectors[17] + 0.05 * rng.normal(size=384).astype(np.float32)
    expected = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:5]
    body = {"size": 5, "query": {"knn": {"text_embedding": {"vector": query.tolist(), "k": 5}}}}
    hits = client.search(index=index_name, body=body)["hits"]["hits"]
    assert hits[0]["_id"] == "17"
    assert [int(h["_id"]) for h in hits] == expected.tolist()
    cosine = float(vectors[17] @ query / np.linalg.norm(query))
    assert hits[0]["_score"] == pytest.approx(
        (1 + cosine) / 2, rel=1e-5
    )  # lucene cosinesimil score


DOCS = {
    "a": {"hello": 6.937756538391113, "world": 3.4208686351776123, "x": 0.1},
    "b": {"hello": 0.8708904, "planet": 3.6415958},
    "c": {"unrelated": 1.0},
}


def test_rank_features_score_is_the_plugins_exact_score(client: Any, index_name: str) -> None:
    create_index(client, index_name, load_mapping(REPO / "mappings" / "sparse.json"), embedded=True)
    for doc_id, tokens in DOCS.items():
        client.index(index=index_name, id=doc_id, body={"text": doc_id, "text_sparse": tokens})
    client.indices.refresh(index=index_name)
    query = {"hello": 1.2345678, "world": 0.7, "x": 2.5, "planet": 0.3333333}
    should = [
        {"rank_feature": {"field": f"text_sparse.{t}", "linear": {}, "boost": w}}
        for t, w in query.items()
    ]
    body = {"query": {"bool": {"should": should}}}
    hits = client.search(index=index_name, body=body)["hits"]["hits"]
    scores = {h["_id"]: h["_score"] for h in hits}
    assert set(scores) == {"a", "b"}  # c shares no token: not returned
    for doc_id, score in scores.items():
        # OpenSearch prints the float32 score in its shortest form: compare as float32, exactly.
        assert np.float32(score) == np.float32(expected_linear_score(query, DOCS[doc_id])), doc_id


def test_rank_features_store_nine_significant_bits(client: Any, index_name: str) -> None:
    create_index(client, index_name, load_mapping(REPO / "mappings" / "sparse.json"), embedded=True)
    client.index(index=index_name, id="1", body={"text_sparse": {"t": 0.1}}, refresh=True)
    body = {"query": {"rank_feature": {"field": "text_sparse.t", "linear": {}}}}
    hit = client.search(index=index_name, body=body)["hits"]["hits"][0]
    assert np.float32(hit["_score"]) == np.float32(0.099853515625)
    assert np.float32(hit["_score"]) != np.float32(0.1)
