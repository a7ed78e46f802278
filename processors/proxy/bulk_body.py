"""``_bulk`` bodies (NDJSON) and the per-item answers OpenSearch gives, for the proxy.

:func:`parse_bulk` reads actions and sources; anything it does not understand returns
``None``, and the proxy then sends the request to the node unchanged, so the node's own error
answers it. Item shapes, as the 2.19 node answers them:

* failed in a pipeline: ``{"index": {"_index", "_id", "status", "error": {"type", "reason"}}}``
  (``_id`` ``null`` when not given);
* dropped (``drop``): ``{"index": {"_index", "_id", "_version": -3, "result": "noop",
  "_shards": {"total": 0, ...}, "status": 200}}``; ``_version`` -4 and ``_id``
  ``"auto-generated"`` for a ``create`` or an action without an id.

Example:
    >>> items = parse_bulk(b'{"index": {"_index": "a", "_id": "1"}}\\n{"x": 1}\\n', None)
    >>> items[0].op, items[0].index, items[0].source_raw
    ('index', 'a', b'{"x": 1}')
    >>> noop_result("index", "a", "1")["index"]["result"]
    'noop'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSONObject = dict[str, Any]
OPS = ("index", "create", "update", "delete")
WITH_SOURCE = ("index", "create", "update")
ERROR_STATUS = {
    "illegal_argument_exception": 400,
    "script_exception": 400,
    "parse_exception": 400,
    "mapper_parsing_exception": 400,
    "json_parse_exception": 400,
    "status_exception": 404,
}
"""HTTP status of a pipeline failure by error type (500 for the others, as the node does)."""


@dataclass
class BulkItem:
    """One action of a bulk body, and what the proxy made of it."""

    op: str
    meta: JSONObject
    action_raw: bytes
    source_raw: bytes | None
    index: str | None
    source: JSONObject | None = None
    pipelines: list[str] = field(default_factory=list)
    """neuralpipe pipelines to run, in order (request or default, then final)."""
    node_pipeline: str | None = None
    """A pipeline the node must run (a default the node does not hold any more)."""
    replaces_request_pipeline: bool = False
    result: JSONObject | None = None
    """The item's answer when it ends here (failed, dropped)."""
    changed: bool = False

    @property
    def doc_id(self) -> str | None:
        value = self.meta.get("_id")
        return None if value is None else str(value)

    def lines(self) -> bytes:
        """The action (and source) lines sent to the node."""
        if not self.changed:
            tail = b"" if self.source_raw is None else self.source_raw + b"\n"
            return self.action_raw + b"\n" + tail
        meta = dict(self.meta)
        if self.replaces_request_pipeline:
            meta["pipeline"] = "_none"
        elif self.node_pipeline:
            meta["pipeline"] = self.node_pipeline
        action = json.dumps({self.op: meta}).encode()
        if self.source is not None:
            return action + b"\n" + json.dumps(self.source).encode() + b"\n"
        tail = b"" if self.source_raw is None else self.source_raw + b"\n"
        return action + b"\n" + tail


def parse_bulk(raw: bytes, url_index: str | None) -> list[BulkItem] | None:
    """The actions of a bulk body, or ``None`` if it is not one the proxy should touch."""
    if raw and not raw.endswith(b"\n"):
        return None
    lines = raw.split(b"\n")
    items: list[BulkItem] = []
    position = 0
    while position < len(lines):
        line = lines[position]
        position += 1
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError:
            return None
        if not isinstance(action, dict) or len(action) != 1:
            return None
        ((op, meta),) = action.items()
        if op not in OPS or not isinstance(meta, dict):
            return None
        source_raw = None
        if op in WITH_SOURCE:
            if position >= len(lines):
                return None
            source_raw = lines[position]
            position += 1
        index = meta.get("_index", url_index)
        items.append(BulkItem(op, meta, line, source_raw, None if index is None else str(index)))
    return items


def status_of(error_type: str | None) -> int:
    """The HTTP status of a pipeline failure of this type."""
    return ERROR_STATUS.get(error_type or "", 500)


def failed_result(
    op: str, index: str | None, doc_id: str | None, status: int, error_type: str, reason: str
) -> JSONObject:
    """A failed item of a ``_bulk`` answer."""
    error = {"type": error_type, "reason": reason}
    return {op: {"_index": index, "_id": doc_id, "status": status, "error": error}}


def noop_result(op: str, index: str | None, doc_id: str | None) -> JSONObject:
    """A dropped document's item of a ``_bulk`` answer."""
    return {op: {**noop_body(op, index, doc_id), "status": 200}}


def noop_body(op: str, index: str | None, doc_id: str | None) -> JSONObject:
    """What the node answers for a dropped document (``_doc`` / ``_create``: without status)."""
    return {
        "_index": index,
        "_id": doc_id if doc_id is not None else "auto-generated",
        "_version": -4 if op == "create" or doc_id is None else -3,
        "result": "noop",
        "_shards": {"total": 0, "successful": 0, "failed": 0},
    }
