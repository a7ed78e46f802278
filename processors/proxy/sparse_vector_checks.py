"""Writes through the proxy to indices with ``sparse_vector`` fields: each document is checked as
the plugin's mapper checks it (:mod:`processors.ingest.sparse_vector_values`) before the node,
which stores the field as ``rank_features``, takes what the plugin refuses (words as tokens)."""

from __future__ import annotations

import json
from typing import Any

from processors.config.sparse_vector_mapping import META_KEY
from processors.ingest.sparse_vector_values import SparseVectorValueError, check_document
from processors.proxy.state import ProxyState

JSONObject = dict[str, Any]


async def sparse_vector_paths(state: ProxyState, index: str | None) -> frozenset[str]:
    """The dotted paths of the ``sparse_vector`` fields of the indices ``index`` names."""
    if not index:
        return frozenset()
    found: set[str] = set()
    for ours in (await state.meta.of(index)).values():
        found.update((ours.get(META_KEY) or {}).keys())
    return frozenset(found)


def refusal(source: Any, paths: frozenset[str]) -> SparseVectorValueError | None:
    """The mapper's first refusal in ``source`` (None: the node may take it)."""
    return check_document(source, paths) if paths else None


async def refuse_bad_sparse_vectors(state: ProxyState, items: list[Any]) -> None:
    """Fail every pending ``index``/``create`` item of a ``_bulk`` whose document the plugin's
    ``sparse_vector`` mapper would refuse, with the node's item error."""
    for item in items:
        if item.result is not None or item.op not in ("index", "create"):
            continue
        paths = await sparse_vector_paths(state, item.index)
        if not paths:
            continue
        source = item.source
        if source is None and item.source_raw is not None:
            try:
                source = json.loads(item.source_raw)
            except ValueError:
                continue  # the node's own parse error
        problem = refusal(source, paths)
        if problem is not None:
            answer = {"_index": item.index, "_id": item.doc_id, "status": 400,
                      "error": problem.error(item.doc_id)}  # fmt: skip
            item.result = {item.op: answer}
