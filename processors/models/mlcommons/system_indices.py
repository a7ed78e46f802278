"""Where the registry keeps its state: three indices in the real OpenSearch node.

The indices are ml-commons' system indices by default (``.plugins-ml-model-group``,
``.plugins-ml-model``, ``.plugins-ml-task``), created hidden (``index.hidden: true``) so that
OpenSearch 2.x emits no dot-index deprecation warning. ``index_prefix`` renames all three
(``<prefix>-model-group``, ``<prefix>-model``, ``<prefix>-task``) so tests get isolated ones.

Every write refreshes, so reads and searches in any process see it at once.

Example:
    >>> IndexNames(".plugins-ml").model
    '.plugins-ml-model'
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

JSONObject = dict[str, Any]
Client = Any
"""An ``opensearchpy.OpenSearch`` client (untyped library)."""

DEFAULT_INDEX_PREFIX = ".plugins-ml"
ML_CHUNK_SIZE = 10_000_000
"""ml-commons' chunk size: bytes of the zip per chunk document (before base64)."""

_DATE = {"type": "date", "format": "strict_date_time||epoch_millis"}
_KEYWORD = {"type": "keyword"}
_NAME = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
_SETTINGS = {"index.hidden": True, "number_of_shards": 1, "auto_expand_replicas": "0-1"}

_MAPPINGS: dict[str, JSONObject] = {
    "model-group": {
        "properties": {
            "name": _NAME, "description": {"type": "text"}, "latest_version": {"type": "integer"},
            "access": _KEYWORD, "backend_roles": _KEYWORD,
            "created_time": _DATE, "last_updated_time": _DATE,
        }
    },
    "model": {
        "properties": {
            "name": _NAME, "model_group_id": _KEYWORD, "algorithm": _KEYWORD,
            "model_version": _KEYWORD, "version": _KEYWORD, "model_format": _KEYWORD,
            "model_state": _KEYWORD, "model_id": _KEYWORD, "description": {"type": "text"},
            "model_content_hash_value": _KEYWORD, "model_content_size_in_bytes": {"type": "long"},
            "chunk_number": {"type": "long"}, "total_chunks": {"type": "long"},
            "model_content": {"type": "binary"}, "is_hidden": {"type": "boolean"},
            "model_config": {"properties": {"all_config": {"type": "text", "index": False}}},
            "planning_worker_nodes": _KEYWORD, "url": {"type": "keyword", "index": False},
            "created_time": _DATE, "last_updated_time": _DATE, "last_registered_time": _DATE,
            "last_deployed_time": _DATE, "last_undeployed_time": _DATE,
        }
    },
    "task": {
        "properties": {
            "model_id": _KEYWORD, "task_type": _KEYWORD, "function_name": _KEYWORD,
            "state": _KEYWORD, "worker_node": _KEYWORD, "error": {"type": "text"},
            "is_async": {"type": "boolean"}, "create_time": _DATE, "last_update_time": _DATE,
        }
    },
}  # fmt: skip


def new_id() -> str:
    """A random 20-character URL-safe id, shaped like OpenSearch's auto-generated ``_id``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode("ascii")


def now_ms() -> int:
    """Epoch milliseconds, as ml-commons stores times."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class IndexNames:
    """The three index names derived from one prefix."""

    prefix: str = DEFAULT_INDEX_PREFIX

    @property
    def model_group(self) -> str:
        """``<prefix>-model-group``."""
        return f"{self.prefix}-model-group"

    @property
    def model(self) -> str:
        """``<prefix>-model``: model meta documents and chunk documents."""
        return f"{self.prefix}-model"

    @property
    def task(self) -> str:
        """``<prefix>-task``."""
        return f"{self.prefix}-task"

    def all(self) -> tuple[str, str, str]:
        """All three names."""
        return (self.model_group, self.model, self.task)


class DocStore:
    """Thin document access on the three indices: get, put, partial update, search, delete."""

    def __init__(self, client: Client, names: IndexNames) -> None:
        self.client = client
        self.names = names
        self._ensured = False
        self._node_id: str | None = None

    def ensure_indices(self) -> None:
        """Create the three indices when missing (once per object)."""
        if self._ensured:
            return
        for suffix, index in zip(("model-group", "model", "task"), self.names.all(), strict=True):
            if not self.client.indices.exists(index=index):
                body = {"settings": _SETTINGS, "mappings": _MAPPINGS[suffix]}
                self.client.indices.create(index=index, body=body, ignore=400)
        self._ensured = True

    def node_id(self) -> str:
        """The id of the node this process talks to (``worker_node`` of tasks)."""
        if self._node_id is None:
            info = self.client.nodes.info(node_id="_local", metric="name")
            self._node_id = next(iter(info["nodes"]))
        return self._node_id

    def get(self, index: str, doc_id: str, *, excludes: str | None = None) -> JSONObject | None:
        """The ``_source`` of a document, or ``None`` when it (or its index) does not exist."""
        params = {"_source_excludes": excludes} if excludes else {}
        resp = self.client.get(index=index, id=doc_id, params=params, ignore=404)
        if not resp.get("found"):
            return None
        source: JSONObject = resp["_source"]
        return source

    def get_versioned(self, index: str, doc_id: str) -> tuple[JSONObject, int, int] | None:
        """``(_source, _seq_no, _primary_term)`` for optimistic concurrency, or ``None``."""
        resp = self.client.get(index=index, id=doc_id, ignore=404)
        if not resp.get("found"):
            return None
        return resp["_source"], resp["_seq_no"], resp["_primary_term"]

    def put(self, index: str, doc_id: str, source: Mapping[str, Any], **params: Any) -> JSONObject:
        """Index a whole document (refreshed)."""
        self.ensure_indices()
        resp: JSONObject = self.client.index(
            index=index, id=doc_id, body=dict(source), refresh="true", params=params
        )
        return resp

    def update(self, index: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Merge ``fields`` into an existing document (refreshed)."""
        self.client.update(index=index, id=doc_id, body={"doc": dict(fields)}, refresh="true")

    def search(self, index: str, body: Mapping[str, Any] | None, **params: Any) -> JSONObject:
        """A search response; an empty one when the index does not exist yet."""
        if not self.client.indices.exists(index=index):
            total = {"value": 0, "relation": "eq"}
            empty: JSONObject = {"total": total, "max_score": None, "hits": []}
            return {"took": 0, "timed_out": False, "hits": empty}
        resp: JSONObject = self.client.search(index=index, body=dict(body or {}), params=params)
        return resp

    def hits(self, index: str, query: JSONObject, size: int = 1000) -> Iterator[JSONObject]:
        """The hits of ``query`` (up to ``size``)."""
        resp = self.search(index, {"query": query, "size": size}, _source_excludes="model_content")
        yield from resp["hits"]["hits"]

    def delete(self, index: str, doc_id: str) -> JSONObject:
        """Delete one document (refreshed); the index delete response."""
        resp: JSONObject = self.client.delete(index=index, id=doc_id, refresh="true")
        return resp

    def delete_matching(self, index: str, query: JSONObject) -> int:
        """Delete every document matching ``query`` (refreshed); how many were deleted.

        The minimal OpenSearch distribution has no ``_delete_by_query`` (reindex module), so
        ids are searched and deleted in bulk.
        """
        deleted = 0
        while True:
            body = {"query": query, "_source": False, "size": 1000}
            hits = self.search(index, body)["hits"]["hits"]
            if not hits:
                return deleted
            actions = [{"delete": {"_index": index, "_id": hit["_id"]}} for hit in hits]
            self.client.bulk(body=actions, refresh="true")
            deleted += len(hits)
