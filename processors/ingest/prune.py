"""Sparse-vector pruning of ``sparse_encoding`` (reference §3.2): validation and math.

Example:
    >>> prune({"a": 4.0, "b": 1.0, "c": 3.0}, "max_ratio", 0.5)
    {'a': 4.0, 'c': 3.0}
"""

from __future__ import annotations

import heapq

import numpy as np

PRUNE_TYPES = ("none", "top_k", "alpha_mass", "max_ratio", "abs_value")


def check_prune_config(prune_type: str, ratio: float | None) -> str | None:
    """The plugin's error message for an invalid (type, ratio) pair, or None when valid."""
    if prune_type not in PRUNE_TYPES:
        return f"Unknown prune type: {prune_type}"
    if prune_type == "none" or ratio is None:
        return None
    shown = f"Illegal prune_ratio {ratio:.6f} for prune_type: {prune_type}. prune_ratio should be"
    if prune_type == "top_k" and (ratio <= 0 or ratio != int(ratio)):
        return f"{shown} positive integer."
    if prune_type in ("max_ratio", "alpha_mass") and not 0 <= ratio < 1:
        return f"{shown} in the range [0, 1)."
    if prune_type == "abs_value" and ratio < 0:
        return f"{shown} non-negative."
    return None


def prune(weights: dict[str, float], prune_type: str, ratio: float) -> dict[str, float]:
    """Apply one prune rule to one token map; weights must all be positive."""
    if any(w <= 0 for w in weights.values()):
        raise ValueError("Pruned values must be positive")
    f32 = {k: np.float32(w) for k, w in weights.items()}
    if prune_type == "none" or not weights:
        return dict(weights)
    if prune_type == "max_ratio":
        cut = np.float32(ratio) * max(f32.values())
        return {k: weights[k] for k, w in f32.items() if w >= cut}
    if prune_type == "abs_value":
        return {k: weights[k] for k, w in f32.items() if w >= np.float32(ratio)}
    if prune_type == "top_k":
        keep = set(heapq.nlargest(int(ratio), weights, key=weights.__getitem__))
        return {k: w for k, w in weights.items() if k in keep}
    total = np.float32(sum(f32.values(), np.float32(0)))
    limit = np.float32(ratio) * total
    kept: dict[str, float] = {}
    running = np.float32(0)
    for key in sorted(weights, key=weights.__getitem__, reverse=True):
        running = np.float32(running + f32[key])
        if running > limit:
            break
        kept[key] = weights[key]
    return kept
