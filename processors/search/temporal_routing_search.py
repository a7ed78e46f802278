"""``temporal_routing_search``: OpenSearch 3.x's request processor that searches only the shards
holding the time range of the query (core, ``search-pipeline-common``).

It routes a search whose query bounds ``timestamp_field`` (a ``range`` clause) to the shards
the ingest processor ``temporal_routing`` sent those hours/days/weeks/months to. The node
runs it: a pipeline that names it sends it verbatim in the inline ``search_pipeline``, and
the node checks its options (``timestamp_field`` required; ``granularity``, ``format``,
``enable_auto_detection``, ``hash_bucket``) with its own messages.

Example:
    >>> from processors.config.search_body import parse_search_pipeline
    >>> spec = parse_search_pipeline("p", {"request_processors": [
    ...     {"temporal_routing_search": {"timestamp_field": "ts"}}]})
    >>> spec.node_pipeline()
    {'request_processors': [{'temporal_routing_search': {'timestamp_field': 'ts'}}]}
"""

from __future__ import annotations

from processors.registry import Kind, register_processor

TYPE_NAME = "temporal_routing_search"

register_processor(Kind.SEARCH_REQUEST, TYPE_NAME, on_node=True)
