"""SearchPipeline loose ends against the real node: ext, rerank's view of the request, windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opensearchpy.exceptions import RequestError

from processors.config.search_body import parse_search_pipeline
from processors.opensearch.indices import create_index, load_mapping
from processors.pipeline.search import SearchPipeline
from processors.testing.fakes import HashEmbedder, OverlapCrossEncoder

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "heat transfer in a boundary layer",
    "shock wave over a flat plate",
    "heat flow over a flat plate at high speed",
    "wing flutter at low speed",
    "boundary layer flow and heat",
    "supersonic flow around a cone",
    "heat flow in laminar boundary layer flow",
    "vortex shedding behind a cylinder",
]
QUERY = "heat flow boundary layer"
NEURAL = {"neural": {"text_embedding": {"query_text": QUERY, "model_id": "dense", "k": 8}}}
RERANK = {
    "response_processors": [
        {"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["text"]}}}
    ]
}
FROM_NEURAL = {"query_context": {"query_text_path": "query.neural.text_embedding.query_text"}}


def models(model_id: str) -> Any:
    return HashEmbedder(384) if model_id == "dense" else OverlapCrossEncoder()


class CountingClient:
    """The real client, counting ``search`` calls."""

    def __init__(self, client: Any) -> None:
        self.client, self.indices, self.searches = client, client.indices, 0

    def search(self, **kwargs: Any) -> Any:
        self.searches += 1
        return self.client.search(**kwargs)


@pytest.fixture
def docs_index(client: Any, index_name: str) -> str:
    create_index(client, index_name, load_mapping(REPO / "mappings" / "combined.json"), embedded=True)  # fmt: skip
    embedder = HashEmbedder(384)
    for i, text in enumerate(TEXTS):
        vector = embedder.embed([text])[0].tolist()
        client.index(index=index_name, id=str(i), body={"text": text, "text_embedding": vector})
    client.indices.refresh(index=index_name)
    return index_name


def _ids(response: dict[str, Any]) -> list[str]:
    return [h["_id"] for h in response["hits"]["hits"]]


def test_the_node_refuses_any_ext_so_ours_is_stripped(client: Any, docs_index: str) -> None:
    ours = {"neuralpipe": {"hybrid_breakdown": True}}
    with pytest.raises(RequestError) as caught:
        client.search(index=docs_index, body={"query": {"match_all": {}}, "ext": ours})
    # 2.19: "unknown named object category [...]"; 3.x: "unknown field [neuralpipe]"
    assert caught.value.error == "named_object_not_found_exception"
    assert "neuralpipe" in str(caught.value) or "named object category" in str(caught.value)
    pipeline = SearchPipeline(None, models=models, client=client)
    out = pipeline.search(docs_index, {"query": NEURAL, "size": 3, "ext": ours})
    assert len(out["hits"]["hits"]) == 3


def test_rerank_reads_query_text_path_from_the_neural_clause(client: Any, docs_index: str) -> None:
    pipeline = SearchPipeline(parse_search_pipeline("r", RERANK), models=models, client=client)
    out = pipeline.search(docs_index, {"query": NEURAL, "size": 8, "ext": {"rerank": FROM_NEURAL}})
    scores = OverlapCrossEncoder().score(QUERY, TEXTS)
    assert [h["_score"] for h in out["hits"]["hits"]] == sorted(scores.tolist(), reverse=True)
    assert _ids(out)[0] == "6"  # all four query words


def test_the_rerank_window_pages_through_one_reranked_list(client: Any, docs_index: str) -> None:
    counting = CountingClient(client)
    pipeline = SearchPipeline(parse_search_pipeline("r", RERANK), models=models, client=counting)
    other = {"query_context": {"query_text": "supersonic cone vortex cylinder wing"}}
    ext = {"rerank": other, "neuralpipe": {"rerank_window": 8}}
    pages = [
        pipeline.search(docs_index, {"query": NEURAL, "size": 3, "from": start, "ext": ext})
        for start in (0, 3, 6)
    ]
    whole = pipeline.search(docs_index, {"query": NEURAL, "size": 8, "ext": {"rerank": other}})
    assert [i for p in pages for i in _ids(p)] == _ids(whole)  # disjoint, complete, in order
    assert [len(p["hits"]["hits"]) for p in pages] == [3, 3, 2]
    assert set(_ids(pages[0])) == {"3", "5", "7"}  # the only docs with those words
    assert counting.searches == 2  # the window once, then the plain search
    plugin_first = pipeline.search(docs_index, {"query": NEURAL, "size": 3, "ext": {"rerank": other}})  # fmt: skip
    assert not {"3", "5", "7"} & set(_ids(plugin_first))  # the plugin reranks each page alone
