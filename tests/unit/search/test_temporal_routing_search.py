"""``temporal_routing_search`` is accepted and sent to the node verbatim, before our steps."""

from __future__ import annotations

from typing import Any

import pytest

from processors.config.search_body import parse_search_pipeline
from processors.errors import ConfigError
from processors.pipeline.search import SearchPipeline
from processors.testing.fakes import HashEmbedder

ROUTING = {"temporal_routing_search": {"timestamp_field": "ts", "granularity": "day"}}
ENRICH = {"neural_query_enricher": {"default_model_id": "m"}}


class Client:
    def __init__(self) -> None:
        self.searches: list[tuple[Any, Any]] = []

    def search(self, index: Any, body: Any, params: Any = None) -> Any:
        self.searches.append((index, body))
        return {"hits": {"hits": []}}


def test_it_runs_on_the_node_after_our_request_processors() -> None:
    spec = parse_search_pipeline("p", {"request_processors": [ROUTING, ENRICH]})
    assert [(s.type_name, s.runs_on_node) for s in spec.request] == [
        ("temporal_routing_search", True),
        ("neural_query_enricher", False),
    ]
    client = Client()
    pipeline = SearchPipeline(spec, models=lambda m: HashEmbedder(4), client=client)
    body = {"query": {"neural": {"v": {"query_text": "hi", "k": 2}}}}
    pipeline.search("logs", body)
    [(index, sent)] = client.searches
    assert index == "logs" and "knn" in sent["query"]  # our enricher ran first
    assert sent["search_pipeline"] == {"request_processors": [ROUTING]}


@pytest.mark.parametrize("section", ["response_processors", "phase_results_processors"])
def test_it_is_a_request_processor(section: str) -> None:
    with pytest.raises(ConfigError, match="it belongs in request_processors"):
        parse_search_pipeline("p", {section: [ROUTING]})
