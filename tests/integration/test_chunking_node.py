"""text_chunking against the real node: fixed_token_length through ``_analyze`` (reference §4.2, §4.5).

Also a whole pipeline (YAML, with its JSON twin) through :class:`IngestPipeline` and into an index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.config.ingest_body import load_ingest_pipeline
from processors.ingest.chunkers import WORD_TOKENIZERS
from processors.ingest.chunking import TextChunkingProcessor
from processors.ingest.token_starts import NodeAnalyzer
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import HashEmbedder

pytestmark = pytest.mark.integration

PIPELINES = Path(__file__).resolve().parents[1] / "data" / "pipelines"
T = (
    "This is an example document to be chunked. The document contains a single paragraph, "
    "two sentences and 24 tokens by standard tokenizer in OpenSearch."
)
STANDARD_10 = [
    "This is an example document to be chunked. The document ",
    "contains a single paragraph, two sentences and 24 tokens by ",
    "standard tokenizer in OpenSearch.",
]
LETTER_10 = [
    "This is an example document to be chunked. The document ",
    "contains a single paragraph, two sentences and 24 tokens by standard ",
    "tokenizer in OpenSearch.",
]
STANDARD_10_OVERLAP = [
    "This is an example document to be chunked. The document ",
    "The document contains a single paragraph, two sentences and 24 ",
    "and 24 tokens by standard tokenizer in OpenSearch.",
]
GUARD = (
    "analyzer standard throws exception: The number of tokens produced by calling _analyze has "
    "exceeded the allowed maximum of [100]. This limit can be set by changing the "
    "[index.analyze.max_token_count] index level setting."
)


def hash_encoders(model_id: str) -> HashEmbedder:
    assert model_id == "hash-8"
    return HashEmbedder(8)


def chunker(client: Any, **params: Any) -> TextChunkingProcessor:
    body = {"field_map": {"body": "out"}, "algorithm": {"fixed_token_length": params}}
    return TextChunkingProcessor.from_body(body, client=client)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"token_limit": 10, "tokenizer": "standard"}, STANDARD_10),
        ({"token_limit": 10, "tokenizer": "letter"}, LETTER_10),
        ({"token_limit": 10, "tokenizer": "lowercase"}, LETTER_10),
        ({"token_limit": 10, "overlap_rate": 0.2}, STANDARD_10_OVERLAP),
    ],
)
def test_reference_outputs(client: Any, params: dict[str, Any], expected: list[str]) -> None:
    single = [{"body": T}]
    assert chunker(client, **params).run(single) == [None]
    assert single[0]["out"] == expected
    several = [{"body": T}, {"body": ["Short one.", T]}]  # one batched _analyze for all texts
    assert chunker(client, **params).run(several) == [None, None]
    assert several[0]["out"] == expected
    assert several[1]["out"] == ["Short one.", *expected]


@pytest.mark.parametrize("tokenizer", WORD_TOKENIZERS)
def test_batched_analyze_offsets_equal_one_text_per_call(client: Any, tokenizer: str) -> None:
    """The node numbers a text array's offsets from sum(len + 1): checked for every tokenizer."""
    texts = [
        "a😀b c  ",
        "  😀😀 x.y  ",
        "\tTabs and\nnew lines ",
        "  ",
        "Ünïcödé ﬁne text, 3.14 and 24.",
        "http://example.org/a?b=c mail@example.org",
        "สวัสดีครับ ภาษาไทย",
        "end",
    ]
    batched = NodeAnalyzer(client, tokenizer).starts(texts, None)
    one_by_one = NodeAnalyzer(client, tokenizer, max_texts=1).starts(texts, None)
    assert batched == one_by_one
    assert any(starts for starts in batched)


def test_max_token_count_of_the_target_index(client: Any, index_name: str) -> None:
    client.indices.create(
        index=index_name, body={"settings": {"index.analyze.max_token_count": 100}}
    )
    words = " ".join(f"w{i}" for i in range(101))
    hundred = words.rsplit(" ", 1)[0]
    sources: list[dict[str, Any]] = [{"body": hundred}, {"body": words}, {"body": words}]
    errors = chunker(client, token_limit=60).run(sources, indices=[index_name, index_name, None])
    assert errors[0] is None and len(sources[0]["out"]) == 2
    assert str(errors[1]) == GUARD and "out" not in sources[1]
    assert errors[2] is None and len(sources[2]["out"]) == 2  # no index: the node's 10000


def test_unknown_index_uses_the_node_default(client: Any, index_name: str) -> None:
    sources: list[dict[str, Any]] = [{"body": "a b c"}]
    assert chunker(client, token_limit=2).run(sources, indices=[index_name]) == [None]
    assert sources[0]["out"] == ["a b ", "c"]


def test_yaml_pipeline_chunks_then_embeds(client: Any, index_name: str) -> None:
    spec = load_ingest_pipeline(PIPELINES / "chunk-embed.yaml")
    twin = load_ingest_pipeline(PIPELINES / "chunk-embed.json")
    assert (twin.description, twin.steps) == (spec.description, spec.steps)
    client.indices.create(index=index_name)
    pipeline = IngestPipeline(spec, encoders=hash_encoders, client=client)
    first, second = pipeline.run(
        [
            {"_id": "1", "_index": index_name, "_source": {"passage_text": T}},
            {"_id": "2", "_index": index_name, "_source": {"passage_text": 42}},
        ]
    )
    assert first.ok and first.source is not None
    assert first.source["chunked_by"] == "neuralpipe"
    assert first.source["passage_chunk"] == STANDARD_10_OVERLAP
    vectors = [item["knn"] for item in first.source["passage_chunk_embedding"]]
    expected = HashEmbedder(8).embed(STANDARD_10_OVERLAP)
    assert vectors == [pytest.approx(row.tolist()) for row in expected]
    assert second.error == (
        "[text_chunking] map type field [passage_text] is neither string nor nested type, "
        "cannot process it"
    )


NESTED_MAPPING = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        "properties": {
            "passage_text": {"type": "text"},
            "passage_chunks": {
                "type": "nested",
                "properties": {
                    "text": {"type": "text"},
                    "embedding": {
                        "type": "knn_vector",
                        "dimension": 8,
                        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
                    },
                },
            },
        }
    },
}


def test_chunk_and_vector_stay_together_in_a_nested_object(client: Any, index_name: str) -> None:
    spec = load_ingest_pipeline(PIPELINES / "chunk-embed-objects.yaml")
    twin = load_ingest_pipeline(PIPELINES / "chunk-embed-objects.json")
    assert twin.steps == spec.steps
    (result,) = IngestPipeline(spec, encoders=hash_encoders, client=client).run(
        [{"_id": "1", "_source": {"passage_text": T}}]
    )
    assert result.ok and result.source is not None
    chunks = result.source["passage_chunks"]
    assert [c["text"] for c in chunks] == STANDARD_10  # the fake model's words = standard tokens
    client.indices.create(index=index_name, body=NESTED_MAPPING)
    client.index(index=index_name, id="1", body=result.source, refresh=True)
    target = HashEmbedder(8).embed([STANDARD_10[2]])[0].tolist()
    query = {"nested": {"path": "passage_chunks", "inner_hits": {"size": 1},
                        "query": {"knn": {"passage_chunks.embedding": {"vector": target, "k": 3}}}}}  # fmt: skip
    hits = client.search(index=index_name, body={"query": query})["hits"]["hits"]
    inner = hits[0]["inner_hits"]["passage_chunks"]["hits"]["hits"][0]["_source"]
    assert inner["text"] == STANDARD_10[2]
    assert inner["embedding"] == pytest.approx(target, abs=1e-6)
