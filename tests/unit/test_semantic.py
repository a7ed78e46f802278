"""``semantic`` fields without a node: mapping in and out, the ingest writer, the query rewrite."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from processors.semantic.fields import SemanticMappingError, shown_mapping, to_node
from processors.semantic.ingest import SemanticIngest
from processors.semantic.query import SemanticQueryError, rewrite

DOCS = {
    "dense": {"algorithm": "TEXT_EMBEDDING", "name": "d",
              "model_config": {"embedding_dimension": 3,
                               "additional_config": {"space_type": "l2"}}},
    "sparse": {"algorithm": "SPARSE_ENCODING", "name": "s"},
    "cross": {"algorithm": "TEXT_SIMILARITY", "name": "c"},
    "nospace": {"algorithm": "TEXT_EMBEDDING", "name": "n", "model_config": {"embedding_dimension": 3}},
}  # fmt: skip


def doc_of(model_id: str) -> dict[str, Any]:
    return DOCS[model_id]


def test_dense_chunked_field_becomes_raw_text_and_nested_knn() -> None:
    mappings = {"properties": {"t": {"type": "semantic", "model_id": "dense", "chunking": True,
                                     "dense_embedding_config": {"method": {"engine": "lucene"}},
                                     "fields": {"raw": {"type": "keyword"}}}}}  # fmt: skip
    node, kept = to_node(mappings, doc_of)
    assert node["properties"]["t"] == {"type": "text", "fields": {"raw": {"type": "keyword"}}}
    chunks = node["properties"]["t_semantic_info"]["properties"]["chunks"]
    assert chunks["type"] == "nested"
    assert chunks["properties"]["embedding"] == {
        "type": "knn_vector", "dimension": 3,
        "method": {"engine": "lucene", "name": "hnsw", "space_type": "l2"},
    }  # fmt: skip
    assert kept == {"t": mappings["properties"]["t"]}
    shown = shown_mapping(node, kept)
    assert shown["properties"]["t"]["type"] == "semantic"
    assert shown["properties"]["t"]["raw_field_type"] == "text"
    assert shown["properties"]["t"]["fields"] == {"raw": {"type": "keyword"}}


def test_sparse_field_under_an_object_with_a_custom_info_name() -> None:
    mappings = {
        "properties": {
            "o": {
                "properties": {
                    "t": {
                        "type": "semantic",
                        "model_id": "sparse",
                        "semantic_info_field_name": "info",
                    }
                }
            }
        }
    }
    node, _ = to_node(mappings, doc_of)
    info = node["properties"]["o"]["properties"]["info"]
    assert info["properties"]["embedding"] == {"type": "rank_features"}
    assert set(info["properties"]["model"]["properties"]) == {"id", "name", "type"}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"type": "semantic"}, "model_id is required for the semantic field at t"),
        ({"type": "semantic", "model_id": "cross"},
         "Failed to transform the mapping for the semantic field at t due to The algorithm "
         "TEXT_SIMILARITY of the model cross is not supported in the semantic field."),
        ({"type": "semantic", "model_id": "nospace"}, "space_type is not defined"),
        ({"type": "semantic", "model_id": "sparse", "raw_field_type": "long"},
         "raw_field_type long is not supported"),
        ({"type": "semantic", "model_id": "sparse", "search_model_id": "x",
          "semantic_field_search_analyzer": "standard"},
         "search_model_id can not coexist with semantic_field_search_analyzer"),
    ],
)  # fmt: skip
def test_refusals_in_the_plugins_words(field: dict[str, Any], message: str) -> None:
    with pytest.raises(SemanticMappingError, match=message.replace("(", r"\(")):
        to_node({"properties": {"t": field}}, doc_of)


class _Dense:
    def embed(self, texts: list[str], side: str) -> Any:
        assert side == "passage"
        return np.array([[float(len(t)), 0.0, 1.0] for t in texts])


class _Sparse:
    def encode(self, texts: list[str], side: str) -> list[dict[str, float]]:
        return [{"big": 2.0, "tiny": 0.1} for _ in texts]


def _encoders(model_id: str) -> Any:
    return _Dense() if model_id == "dense" else _Sparse()


def test_ingest_writes_info_next_to_each_value_and_prunes_sparse() -> None:
    fields = {"a": {"type": "semantic", "model_id": "dense"},
              "list.b": {"type": "semantic", "model_id": "sparse"}}  # fmt: skip
    source = {"a": "wing", "list": [{"b": "x"}, {"b": "y"}]}
    errors = SemanticIngest(fields, doc_of, _encoders, None).run(
        [{"_index": "i", "_id": "1", "_source": source}]
    )
    assert errors == [None]
    assert source["a_semantic_info"] == {
        "model": {"id": "dense", "name": "d", "type": "TEXT_EMBEDDING"},
        "embedding": [4.0, 0.0, 1.0],
    }
    assert source["list"][1]["b_semantic_info"]["embedding"] == {"big": 2.0}  # max_ratio 0.1


def test_ingest_refuses_a_value_that_is_not_a_string() -> None:
    fields = {"a": {"type": "semantic", "model_id": "dense"}}
    docs = [{"_index": "i", "_id": "1", "_source": {"a": 5}},
            {"_index": "i", "_id": "2", "_source": {"a": "ok"}}]  # fmt: skip
    errors = SemanticIngest(fields, doc_of, _encoders, None).run(docs)
    assert errors[0] == (
        "Expect the semantic field at path: a to be a string but found: class java.lang.Integer."
    )
    assert errors[1] is None and "a_semantic_info" in docs[1]["_source"]


def test_neural_on_a_semantic_field_is_rewritten_inside_hybrid() -> None:
    fields = {"t": {"type": "semantic", "model_id": "sparse", "search_model_id": "tok"}}
    body = {"query": {"hybrid": {"queries": [{"neural": {"t": {"query_text": "q"}}}]}}}
    out = rewrite(body, fields, lambda d: False)
    assert out["query"]["hybrid"]["queries"][0] == {
        "neural_sparse": {"t_semantic_info.embedding": {"query_text": "q", "model_id": "tok"}}
    }


def test_dense_semantic_field_refuses_query_tokens() -> None:
    fields = {"t": {"type": "semantic", "model_id": "dense"}}
    with pytest.raises(SemanticQueryError, match="Target field is a semantic field using a dense"):
        rewrite({"query": {"neural": {"t": {"query_tokens": {"a": 1}}}}}, fields, lambda d: True)


def test_prepare_batch_writes_semantic_info_after_the_pipeline() -> None:
    from processors.indexing.prepare import prepare_batch
    from processors.indexing.records import SourceRecord

    fields = {"a": {"type": "semantic", "model_id": "dense"}}
    writer = SemanticIngest(fields, doc_of, _encoders, None)
    records = [SourceRecord(1, "f:1", {"a": "wing"}, "x"), SourceRecord(2, "f:2", {"a": 1}, "y")]
    batch = prepare_batch(records, None, "docs", semantic=writer)
    assert [a["_id"] for a in batch.actions] == ["x"]
    assert batch.actions[0]["_source"]["a_semantic_info"]["embedding"] == [4.0, 0.0, 1.0]
    assert batch.failures[0].doc_id == "y" and "java.lang.Integer" in batch.failures[0].reason
