"""``temporal_routing_search`` through a SearchPipeline on the real node: one shard searched."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy.exceptions import RequestError

from processors.config.search_body import parse_search_pipeline
from processors.pipeline.search import SearchPipeline
from processors.testing.fakes import HashEmbedder

pytestmark = pytest.mark.integration
DAY = {"range": {"ts": {"gte": "2024-05-01T00:00:00Z", "lte": "2024-05-01T23:00:00Z"}}}


def _pipeline(client: Any, options: dict[str, Any]) -> SearchPipeline:
    spec = parse_search_pipeline(
        "p", {"request_processors": [{"temporal_routing_search": options}]}
    )
    return SearchPipeline(spec, models=lambda m: HashEmbedder(4), client=client)


def test_a_day_range_searches_one_shard_and_bad_options_are_the_nodes_error(
    client: Any, index_name: str
) -> None:
    mappings = {"properties": {"ts": {"type": "date"}}}
    client.indices.create(index=index_name, body={"settings": {"number_of_shards": 3},
                                                  "mappings": mappings})  # fmt: skip
    plain = client.search(index=index_name, body={"query": DAY})
    assert plain["_shards"]["total"] == 3
    routed = _pipeline(client, {"timestamp_field": "ts", "granularity": "day"})
    assert routed.search(index_name, {"query": DAY})["_shards"]["total"] == 1
    with pytest.raises(RequestError, match=r"\[timestamp_field\] required property is missing"):
        _pipeline(client, {"granularity": "day"}).search(index_name, {"query": DAY})
