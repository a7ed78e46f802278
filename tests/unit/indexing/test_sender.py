"""The bulk sender against a scripted stand-in for ``client.bulk``: nothing lost, bounded waits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import RequestError, TransportError
from opensearchpy.serializer import JSONSerializer

from processors.errors import ClusterUnavailableError
from processors.indexing.sender import send_actions


class ScriptedNode:
    """Indexes what it is sent unless told otherwise; remembers every request."""

    def __init__(self, *, item_429: int = 0, down: int = 0, busy_forever: bool = False) -> None:
        self.transport = type("T", (), {"serializer": JSONSerializer()})()
        self.item_429, self.down, self.busy_forever = item_429, down, busy_forever
        self.stored: dict[str, Any] = {}
        self.requests = 0

    def bulk(self, body: str) -> Any:
        self.requests += 1
        if self.down > 0:
            self.down -= 1
            raise OSConnectionError("N/A", "refused", None)
        rows = [json.loads(x) for x in body.splitlines()]
        pairs = list(zip(rows[::2], rows[1::2], strict=True))
        if any(len(meta["index"]["_id"]) > 512 for meta, _ in pairs):
            raise RequestError(400, "action_request_validation_exception",
                               {"error": {"type": "action_request_validation_exception",
                                          "reason": "id is too long"}})  # fmt: skip
        items = []
        for number, (meta, source) in enumerate(pairs):
            doc_id = meta["index"]["_id"]
            if self.busy_forever or (self.item_429 > 0 and number % 2 == 0):
                items.append({"index": {"_id": doc_id, "status": 429, "error": {"type": "x"}}})
                continue
            self.stored[doc_id] = source
            items.append({"index": {"_id": doc_id, "status": 201}})
        self.item_429 -= 1
        return {"items": items}


def actions(count: int, *, long_at: int | None = None) -> list[dict[str, Any]]:
    return [{"_index": "i", "_id": "x" * 600 if i == long_at else f"d{i}", "_source": {"n": i}}
            for i in range(count)]  # fmt: skip


def test_per_item_429_is_retried_until_accepted_never_failed() -> None:
    node, waits = ScriptedNode(item_429=6), []
    results = send_actions(node, actions(40), chunk_docs=15, sleep=waits.append)
    assert all(ok for ok, _ in results) and len(results) == 40
    assert len(node.stored) == 40 and waits and max(waits) <= 15


def test_whole_request_refusal_is_narrowed_to_the_one_document() -> None:
    node = ScriptedNode()
    results = send_actions(node, actions(64, long_at=37), sleep=lambda _: None)
    failed = [item["index"] for ok, item in results if not ok]
    assert [f["status"] for f in failed] == [400] and failed[0]["_id"] == "x" * 600
    assert "too long" in failed[0]["error"]["reason"]
    assert len(node.stored) == 63


def test_outage_is_waited_out_and_a_document_that_cannot_be_sent_fails_alone() -> None:
    node = ScriptedNode(down=3)
    batch = actions(5)
    batch[2]["_source"] = {"text": "\ud800"}
    results = send_actions(node, batch, sleep=lambda _: None)
    assert [ok for ok, _ in results] == [True, True, False, True, True]
    assert results[2][1]["index"]["error"]["type"] == "serialization_exception"


def test_endless_back_pressure_stops_resumably_after_the_window() -> None:
    node = ScriptedNode(busy_forever=True)
    with pytest.raises(ClusterUnavailableError, match="--resume"):
        send_actions(node, actions(3), retry_for=5, sleep=lambda _: None)
    assert node.stored == {}


def test_other_errors_are_not_retried() -> None:
    class Forbidden(ScriptedNode):
        def bulk(self, body: str) -> Any:
            raise TransportError(403, "security_exception", {})

    with pytest.raises(TransportError):
        send_actions(Forbidden(), actions(2), sleep=lambda _: None)
