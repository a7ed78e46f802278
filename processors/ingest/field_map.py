"""The ``field_map`` machinery shared by ``text_embedding`` and ``sparse_encoding`` (reference §1).

Three steps, in the plugin's order, for one document:

1. :func:`unflatten` every dotted key of the source (2.19+ behaviour);
2. :func:`validate` the values the (un-flattened) field_map reaches;
3. :func:`collect` the texts in pre-order, each with the write-back that stores its result.

Example:
    >>> source = {"title": "hello", "tags": ["a", "b"]}
    >>> slots = collect(source, {"title": "title_vec", "tags": "tags_vec"}, list_key="knn")
    >>> texts = [t for slot in slots for t in slot.texts]
    >>> write_results(slots, [[1.0], [2.0], [3.0]])
    >>> source["tags_vec"]
    [{'knn': [2.0]}, {'knn': [3.0]}]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.errors import ProcessorRuntimeError

JSONObject = dict[str, Any]
DEPTH_LIMIT = 20


def unflatten(value: Any) -> Any:
    """Expand dotted keys into nested objects, also inside lists; the dotted key is removed."""
    if isinstance(value, list):
        return [unflatten(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: JSONObject = {}
    for key, item in value.items():
        if key == "":
            raise ProcessorRuntimeError("Field name cannot be null or empty")
        parts = key.split(".")
        if "." in key and any(p == "" for p in parts):
            raise ProcessorRuntimeError(f"Field name '{key}' contains invalid dot usage")
        target = out
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = target[part] = {}
            target = existing
        _merge_into(target, parts[-1], unflatten(item))
    return out


def _merge_into(target: JSONObject, key: str, value: Any) -> None:
    existing = target.get(key)
    if isinstance(existing, dict) and isinstance(value, dict):
        for sub_key, sub_value in value.items():
            _merge_into(existing, sub_key, sub_value)
    else:
        target[key] = value


def normalise_field_map(field_map: JSONObject) -> JSONObject:
    """The field_map with dotted *keys* expanded (targets stay as written)."""
    return unflatten(field_map)  # type: ignore[no-any-return]


def validate(source: JSONObject, field_map: JSONObject, depth: int = 1) -> None:
    """Raise the plugin's validation error for the first bad value the field_map reaches."""
    for key, spec in field_map.items():
        value = source.get(key)
        if value is None:
            continue
        if depth > DEPTH_LIMIT:
            raise ProcessorRuntimeError(
                f"map type field [{key}] reaches max depth limit, cannot process it"
            )
        if isinstance(value, bool | int | float) or not isinstance(value, str | list | dict):
            raise ProcessorRuntimeError(
                f"map type field [{key}] is neither string nor nested type, cannot process it"
            )
        if isinstance(spec, str) and isinstance(value, dict):
            raise ProcessorRuntimeError(
                f"[{key}] configuration doesn't match actual value type, configuration type is: "
                "java.lang.String, actual value type is: java.util.LinkedHashMap"
            )
        if isinstance(value, list):
            _validate_list(key, value, spec, depth)
        elif isinstance(value, dict) and isinstance(spec, dict):
            validate(value, spec, depth + 1)


def _validate_list(key: str, items: list[Any], spec: Any, depth: int) -> None:
    for item in items:
        if item is None:
            raise ProcessorRuntimeError(f"list type field [{key}] has null, cannot process it")
        if isinstance(item, list):
            raise ProcessorRuntimeError(
                f"list type field [{key}] is nested list type, cannot process it"
            )
        if isinstance(item, dict):
            if isinstance(spec, dict):
                validate(item, spec, depth + 1)
            continue
        if not isinstance(item, str):
            raise ProcessorRuntimeError(
                f"list type field [{key}] has non string value, cannot process it"
            )


@dataclass
class Slot:
    """Texts found at one place of the document and how to write their results back."""

    texts: list[str]
    write: Callable[[list[Any]], None]


def collect(source: JSONObject, field_map: JSONObject, *, list_key: str) -> list[Slot]:
    """Slots in pre-order; empty-list slots are kept and written only if any text was found."""
    slots: list[Slot] = []
    _collect(source, normalise_field_map(field_map), list_key, slots, top_level=True)
    return slots


def _collect(
    obj: JSONObject, fmap: JSONObject, list_key: str, slots: list[Slot], *, top_level: bool
) -> None:
    for key, spec in fmap.items():
        value = obj.get(key)
        if isinstance(spec, dict):
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, dict):
                    _collect(child, spec, list_key, slots, top_level=False)
            continue
        if isinstance(value, str):
            if value.strip():
                slots.append(Slot([value], _writer(obj, spec, top_level, lambda r: r[0])))
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            wrap: Callable[[list[Any]], Any] = lambda r: [{list_key: x} for x in r]  # noqa: E731
            slots.append(Slot(list(value), _writer(obj, spec, top_level, wrap)))


def _writer(
    obj: JSONObject, target: str, top_level: bool, shape: Callable[[list[Any]], Any]
) -> Callable[[list[Any]], None]:
    def write(results: list[Any]) -> None:
        parts = target.split(".")
        holder = obj
        for part in parts[:-1]:
            nxt = holder.get(part)
            if not isinstance(nxt, dict):
                nxt = holder[part] = {}
            holder = nxt
        new = shape(results)
        old = holder.get(parts[-1])
        if (not top_level or len(parts) > 1) and old is not None:
            if isinstance(old, list) and isinstance(new, list):
                new = old + new  # the plugin's merge quirk: lists concatenate
            elif isinstance(old, dict) and isinstance(new, dict):
                new = {**old, **new}
        holder[parts[-1]] = new

    return write


def write_results(slots: list[Slot], results: list[Any]) -> None:
    """Scatter ``results`` (one per text, in collection order) back into the document."""
    if not any(slot.texts for slot in slots):
        return
    position = 0
    for slot in slots:
        slot.write(results[position : position + len(slot.texts)])
        position += len(slot.texts)
