"""Which ``sparse_encoding`` targets are ``sparse_vector`` fields (written with token ids).

The plugin's processor asks the model for ``sparse_embedding_format: TOKEN_ID`` for every
target that is a ``sparse_vector`` field of the document's index and for words elsewhere
(``SparseEncodingProcessor.splitProcessMap``). neuralpipe keeps an index's ``sparse_vector``
fields in ``_meta.neuralpipe.sparse_vector`` (:mod:`processors.config.sparse_vector_mapping`);
:class:`SparseVectorTargets` reads them (cached a second per index) and
:func:`split_field_map` splits a ``field_map`` the same way.

Example:
    >>> split_field_map({"a": "x", "doc": {"b": "y"}}, frozenset({"doc.y"}))
    ({'a': 'x'}, {'doc': {'b': 'y'}})
"""

from __future__ import annotations

import threading
import time
from typing import Any

JSONObject = dict[str, Any]
META_KEY = "sparse_vector"
"""The key of ``_meta.neuralpipe`` where :mod:`processors.config.sparse_vector_mapping` keeps
an index's ``sparse_vector`` methods by field path (``config`` sits above ``ingest``)."""


def split_field_map(
    field_map: JSONObject, token_id_paths: frozenset[str], prefix: str = ""
) -> tuple[JSONObject, JSONObject]:
    """``(words part, token-id part)`` of ``field_map`` by target path."""
    words: JSONObject = {}
    ids: JSONObject = {}
    for key, spec in field_map.items():
        if isinstance(spec, dict):
            sub_words, sub_ids = split_field_map(spec, token_id_paths, f"{prefix}{key}.")
            if sub_words:
                words[key] = sub_words
            if sub_ids:
                ids[key] = sub_ids
        elif f"{prefix}{spec}" in token_id_paths:
            ids[key] = spec
        else:
            words[key] = spec
    return words, ids


class SparseVectorTargets:
    """``index -> its sparse_vector field paths`` (empty without a client or an index)."""

    def __init__(self, client: Any, *, ttl: float = 1.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, index: str | None) -> frozenset[str]:
        if self.client is None or not index:
            return frozenset()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(index)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._read(index)
        with self._lock:
            self._cache[index] = (now + self.ttl, found)
        return found

    def _read(self, index: str) -> frozenset[str]:
        try:
            answer = self.client.indices.get_mapping(index=index)
        except Exception:  # no such index yet (a write creates it): no sparse_vector field
            return frozenset()
        paths: set[str] = set()
        for entry in answer.values():
            meta = ((entry.get("mappings") or {}).get("_meta") or {}).get("neuralpipe") or {}
            paths.update((meta.get(META_KEY) or {}).keys())
        return frozenset(paths)


def run_by_index(
    processor: Any,
    sources: list[JSONObject],
    indices: list[str | None],
    targets: SparseVectorTargets,
) -> list[Any]:
    """A ``SparseEncodingProcessor`` over ``sources``, index by index, token ids into each
    index's ``sparse_vector`` fields; one error (or ``None``) per source, in order."""
    by_index: dict[str | None, list[int]] = {}
    for row, index in enumerate(indices):
        by_index.setdefault(index, []).append(row)
    errors: list[Any] = [None] * len(sources)
    for index, rows in by_index.items():
        found = processor.run_with_targets([sources[r] for r in rows], targets(index))
        for row, error in zip(rows, found, strict=True):
            errors[row] = error
    return errors


def run_inference(
    processor: Any,
    sources: list[JSONObject],
    indices: list[str | None],
    ids: list[str | None],
    client: Any,
    targets: SparseVectorTargets,
) -> list[Any]:
    """``text_embedding`` / ``sparse_encoding`` over ``sources``: token ids into
    ``sparse_vector`` fields, stored outputs reused with ``skip_existing``."""
    from processors.ingest.skip_existing import run_skipping

    sparse = processor.type_name == "sparse_encoding"

    def run(sub: Any, some: list[JSONObject], rows: list[int]) -> list[Any]:
        if sparse:
            return run_by_index(sub, some, [indices[r] for r in rows], targets)
        found: list[Any] = sub.run(some)
        return found

    if processor.skips_existing:
        return run_skipping(processor, sources, list(zip(indices, ids, strict=True)), client, run)
    return run(processor, sources, list(range(len(sources))))
