"""Search bodies as compact JSON, query vectors with the 9 digits a float32 needs.

A query vector is float32 (the model's output, and what the node keeps): 9 significant digits
give back exactly the same float32 (``FLT_DECIMAL_DIG``), in half the characters of ``repr``
and in one formatting call instead of one per number. The proxy sends rewritten ``neural``
searches this way, and ``hybrid``'s ``_msearch`` lines too.

Example:
    >>> body_json({"knn": {"v": {"vector": [0.1, 0.25, 1e-05, 3.0, 0.5, 0.75, 2.0, 1.5]}}})
    '{"knn":{"v":{"vector":[0.1,0.25,1e-05,3,0.5,0.75,2,1.5]}}}'
"""

from __future__ import annotations

import json
import secrets
from typing import Any

MIN_VECTOR = 8
"""Shorter ``vector`` lists are written as ``json`` writes them."""
VECTOR_MARK = f"neuralpipe-vector-{secrets.token_hex(8)}-"
"""Stands for a vector while the rest of a body is encoded."""


def body_json(body: Any) -> str:
    """``body`` as compact JSON (``ensure_ascii=False``); every ``"vector": [floats]`` of 8 or
    more numbers written with ``%.9g`` (``nan``/``inf`` as ``json`` spells them). ``body`` is
    left as it was (the vectors are put back after encoding).

    Example:
        >>> body = {"query": {"knn": {"v": {"vector": [0.5] * 8, "k": 1}}}}
        >>> body_json(body)
        '{"query":{"knn":{"v":{"vector":[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5],"k":1}}}}'
        >>> body["query"]["knn"]["v"]["vector"] == [0.5] * 8
        True
    """
    swapped: list[tuple[Any, Any, list[float]]] = []
    try:
        _swap_vectors(body, swapped)
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    finally:
        for node, key, vector in reversed(swapped):
            node[key] = vector
    for number, (_, _, vector) in enumerate(swapped):
        try:
            numbers = ("%.9g," * len(vector))[:-1] % tuple(vector)
        except TypeError:  # not all numbers: as JSON has it
            numbers = "n"
        if "n" in numbers:  # nan or inf: as JSON spells them (the node refuses both)
            numbers = json.dumps(vector)[1:-1]
        text = text.replace(f'"{VECTOR_MARK}{number}"', f"[{numbers}]")
    return text


def _swap_vectors(node: Any, swapped: list[tuple[Any, Any, list[float]]]) -> None:
    """Replace every ``"vector": [floats]`` (8 or more) by a marker, noting where it was."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, dict):
            _swap_vectors(value, swapped)
        elif isinstance(value, list):
            if key == "vector" and len(value) >= MIN_VECTOR and type(value[0]) is float:
                node[key] = f"{VECTOR_MARK}{len(swapped)}"
                swapped.append((node, key, value))
            elif not _flat(value):
                _swap_vectors(value, swapped)


def _flat(values: list[Any]) -> bool:
    """No object or list in ``values`` (nothing to walk into)."""
    return not any(isinstance(v, dict | list) for v in values)
