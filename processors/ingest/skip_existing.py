"""``skip_existing`` of ``text_embedding`` and ``sparse_encoding`` (3.0+).

On a write of a document that is already indexed (the request names ``_index`` and ``_id``),
the plugin reads the stored document; for every ``field_map`` entry whose input value is
unchanged and whose output is stored, the stored output is copied and the model is not asked.
:func:`reuse_stored` does that for one document and returns the ``field_map`` left to infer.

Example:
    >>> new = {"t": "same", "u": "new"}
    >>> left = reuse_stored({"t": "vt", "u": "vu"}, new, {"t": "same", "vt": [1.0], "u": "old"})
    >>> left, new["vt"]
    ({'u': 'vu'}, [1.0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from processors.neural_stats.events import increment

JSONObject = dict[str, Any]
_MISSING = object()


def reuse_stored(field_map: JSONObject, new: JSONObject, stored: JSONObject) -> JSONObject:
    """Copy unchanged inputs' stored outputs into ``new``; the ``field_map`` still to infer."""
    left: JSONObject = {}
    for key, spec in field_map.items():
        value, before = _get(new, key), _get(stored, key)
        if isinstance(spec, dict):
            if isinstance(value, dict) and isinstance(before, dict):
                inner = reuse_stored(spec, value, before)
                if inner:
                    left[key] = inner
            else:
                left[key] = spec
            continue
        output = _get(stored, str(spec))
        if value is not _MISSING and value == before and output is not _MISSING:
            new[str(spec)] = output
        else:
            left[key] = spec
    return left


def _get(source: JSONObject, path: str) -> Any:
    if path in source:
        return source[path]
    holder: Any = source
    for part in path.split("."):
        if not isinstance(holder, dict) or part not in holder:
            return _MISSING
        holder = holder[part]
    return holder


def run_skipping(
    processor: Any,
    sources: list[JSONObject],
    metas: list[tuple[str | None, str | None]],
    client: Any,
    run: Callable[[Any, list[JSONObject], list[int]], list[Any]],
) -> list[Any]:
    """Run ``processor`` (with ``skip_existing``) over ``sources`` (``metas``: ``_index``,
    ``_id``), reusing stored outputs; ``run(processor, sources, rows)`` runs one processor
    over some of them. One error (or ``None``) per source."""
    increment("skip_existing_executions", len(sources))
    stored = _stored(client, metas)
    groups: dict[str, tuple[JSONObject, list[int]]] = {}
    for row, source in enumerate(sources):
        existing = stored.get(metas[row])
        left = processor.config.field_map
        if existing:
            left = reuse_stored(processor.config.field_map, source, existing)
        if left:
            groups.setdefault(repr(left), (left, []))[1].append(row)
    errors: list[Any] = [None] * len(sources)
    for field_map, rows in groups.values():
        sub = type(processor)(replace(processor.config, field_map=field_map), processor._infer)
        sub.infer_token_ids = getattr(processor, "infer_token_ids", None)
        for row, error in zip(rows, run(sub, [sources[r] for r in rows], rows), strict=True):
            errors[row] = error
    return errors


def _stored(
    client: Any, metas: list[tuple[str | None, str | None]]
) -> dict[tuple[str | None, str | None], JSONObject]:
    wanted = [{"_index": i, "_id": d} for i, d in dict.fromkeys(metas) if i and d]
    if client is None or not wanted:
        return {}
    answer = client.mget(body={"docs": wanted})
    return {
        (doc.get("_index"), doc.get("_id")): doc.get("_source") or {}
        for doc in answer.get("docs", [])
        if doc.get("found")
    }
