"""``neural_sparse`` with an ``analyzer`` of the index: the node's ``_analyze`` gives the tokens.

The plugin tokenizes ``query_text`` with the named analyzer of the shard (an index analyzer or
a built-in one such as ``standard``); each token weighs its payload read as a float, else 1.0;
tokens of weight 0 or less are left out, and a later token replaces an earlier equal one. The
node has the same analyzers, so ``POST /<index>/_analyze`` with ``explain`` (for the payloads)
gives the same tokens. ml-commons' own analyzers (``bert-uncased``, ``mbert-uncased``) do not
come here: they run as the tokenizer models of the same vocabulary and IDF.

Example:
    >>> final_tokens({"detail": {"custom_analyzer": False,
    ...     "analyzer": {"name": "standard", "tokens": [{"token": "hi"}, {"token": "you"}]}}})
    [{'token': 'hi'}, {'token': 'you'}]
    >>> weights_of([{"token": "hi"}, {"token": "x", "payload": "[3f 00 00 00]"}])
    {'hi': 1.0, 'x': 0.5}
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from typing import Any

from opensearchpy.exceptions import TransportError

from processors.errors import InvalidQueryError, UnsupportedFeatureError

_HEX = re.compile(r"[0-9a-fA-F]{2}")


def final_tokens(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tokens of the last stage of an ``_analyze`` ``explain`` answer."""
    detail = answer.get("detail") or {}
    if "analyzer" in detail:
        return list(detail["analyzer"].get("tokens") or [])
    filters = detail.get("tokenfilters") or []
    stage = filters[-1] if filters else detail.get("tokenizer") or {}
    return list(stage.get("tokens") or [])


def _payload_weight(token: str, payload: Any) -> float:
    data = bytes(int(pair, 16) for pair in _HEX.findall(str(payload)))
    if len(data) < 4:
        raise UnsupportedFeatureError(
            f"neural_sparse analyzer: the payload {payload!r} of token [{token}] is not a float"
        )
    weight: float = struct.unpack(">f", data[:4])[0]
    return weight


def weights_of(tokens: list[Mapping[str, Any]]) -> dict[str, float]:
    """``token -> weight`` as the plugin builds it (payload float, else 1.0; weight > 0)."""
    out: dict[str, float] = {}
    for item in tokens:
        token = str(item["token"])
        payload = item.get("payload")
        weight = 1.0 if payload is None else _payload_weight(token, payload)
        if weight > 0:
            out[token] = weight
    return out


class IndexAnalyzerTokens:
    """Tokens of ``text`` by the analyzer ``name`` of ``index`` (or a built-in one).

    Args:
        client: A synchronous opensearch-py client of the node.
        index: The searched index (None: only the node's built-in analyzers).
    """

    def __init__(self, client: Any, index: str | None) -> None:
        self.client = client
        self.index = index.split(",")[0] if index else None

    def __call__(self, name: str, text: str) -> dict[str, float]:
        body = {"analyzer": name, "text": text, "explain": True, "attributes": ["payload"]}
        try:
            answer = self.client.indices.analyze(index=self.index, body=body)
        except TransportError as exc:
            if exc.status_code in (400, 404):
                raise InvalidQueryError(f"Analyzer [{name}] not found in shard context. ") from exc
            raise
        return weights_of(final_tokens(answer))
