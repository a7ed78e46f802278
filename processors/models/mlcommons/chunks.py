"""Model zips stored in the model index in chunks, as ml-commons does (reference §11.6).

The meta document has ``_id = <model_id>`` and ``total_chunks``; each ``chunk_size``-byte slice
of the zip is one document ``_id = <model_id>_<n>`` (``n`` from 0) with the slice base64-encoded
in ``model_content``, plus ``model_id``, ``name``, ``algorithm``, ``model_version``,
``model_format``, ``chunk_number``, ``total_chunks`` and the timestamps.

Example:
    >>> chunk_count(25_000_000, ML_CHUNK_SIZE)
    3
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from processors.models.mlcommons.errors import CONTENT_CHANGED, MLCommonsError
from processors.models.mlcommons.system_indices import ML_CHUNK_SIZE, DocStore, JSONObject, now_ms

__all__ = ["ML_CHUNK_SIZE", "chunk_count", "chunk_doc", "read_model", "sha256", "write_chunks"]

_CHUNK_FIELDS = ("name", "algorithm", "model_version", "model_format", "model_group_id")


def sha256(data: bytes) -> str:
    """SHA-256 hex digest, as ``model_content_hash_value``."""
    return hashlib.sha256(data).hexdigest()


def chunk_count(size: int, chunk_size: int) -> int:
    """How many chunks ``size`` bytes take (at least one)."""
    return max(1, -(-size // chunk_size))


def chunk_doc(meta: Mapping[str, Any], model_id: str, number: int, content: bytes) -> JSONObject:
    """The chunk document ``<model_id>_<number>`` for ``content``."""
    now = now_ms()
    doc: JSONObject = {key: meta[key] for key in _CHUNK_FIELDS if key in meta}
    doc.update(
        model_id=model_id,
        chunk_number=number,
        total_chunks=meta["total_chunks"],
        model_content=base64.b64encode(content).decode("ascii"),
        created_time=now,
        last_updated_time=now,
    )
    return doc


def write_chunks(
    store: DocStore, meta: Mapping[str, Any], model_id: str, data: bytes, chunk_size: int
) -> int:
    """Store ``data`` as chunk documents; the number of chunks written."""
    total = chunk_count(len(data), chunk_size)
    with_total = {**meta, "total_chunks": total}
    for number in range(total):
        piece = data[number * chunk_size : (number + 1) * chunk_size]
        doc = chunk_doc(with_total, model_id, number, piece)
        store.client.index(index=store.names.model, id=f"{model_id}_{number}", body=doc)
    store.client.indices.refresh(index=store.names.model)
    return total


def read_model(store: DocStore, model_id: str, meta: Mapping[str, Any]) -> bytes:
    """Concatenate chunks ``0..total_chunks-1`` and check the content hash.

    Raises:
        MLCommonsError: a chunk is missing, or the bytes do not hash to
            ``model_content_hash_value`` (``model content changed``).
    """
    total = int(meta.get("total_chunks") or 0)
    if total < 1:
        raise MLCommonsError(f"model {model_id} has no stored content")
    parts: list[bytes] = []
    for number in range(total):
        doc = store.get(store.names.model, f"{model_id}_{number}")
        if doc is None or "model_content" not in doc:
            raise MLCommonsError(f"chunk {number} of {total} of model {model_id} is missing")
        parts.append(base64.b64decode(doc["model_content"]))
    data = b"".join(parts)
    expected = meta.get("model_content_hash_value")
    if expected and sha256(data) != expected:
        raise MLCommonsError(CONTENT_CHANGED)
    return data


def delete_chunks(store: DocStore, model_id: str) -> None:
    """Remove every chunk document of ``model_id``."""
    store.delete_matching(store.names.model, {"term": {"model_id": model_id}})
