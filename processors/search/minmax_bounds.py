"""``min_max`` normalization's ``lower_bounds`` / ``upper_bounds`` (neural-search 3.2+).

One bound per sub-query, in order: ``{"mode": "apply" | "clip" | "ignore", "min_score": s}``
(lower) or ``{"mode": ..., "max_score": s}`` (upper); mode defaults to ``apply``, scores to
0.0 / 1.0. :func:`parse_bounds` validates a ``normalization.parameters`` object with the
plugin's messages (``MinMaxScoreNormalizationTechnique``, ``ScoreNormalizationUtil``,
``BoundMode``); :func:`bounded_min_max` is the plugin's ``normalizeSingleScore`` in float32.

Example:
    >>> lower, upper = parse_bounds({"lower_bounds": [{"mode": "clip", "min_score": 0.5}]})
    >>> lower[0], upper
    (Bound(mode='clip', score=0.5, shown='0.5'), None)
    >>> float(bounded_min_max(np.float32(0.2), np.float32(0.1), np.float32(0.9), lower[0], None))
    0.0010000000474974513
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

F32 = np.float32
MIN_SCORE, ONE = F32(0.001), F32(1.0)
MODES = ("apply", "clip", "ignore")
MAX_BOUNDS = 5  # MAX_NUMBER_OF_SUB_QUERIES
BOUND_LIMIT = 10_000.0
LOWER, UPPER = "lower_bounds", "upper_bounds"
SCORE_KEY = {LOWER: "min_score", UPPER: "max_score"}
DEFAULT_SCORE = {LOWER: 0.0, UPPER: 1.0}
UNRECOGNIZED = "unrecognized parameters in normalization technique"
MISMATCH = (
    "expected bounds array to contain {count} elements matching the number of sub-queries, but "
    "found a mismatch"
)
_JAVA_FLOAT = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)", re.ASCII)


@dataclass(frozen=True)
class Bound:
    """One sub-query's bound: its mode and score (float32); ``shown``: the score as the plugin's
    explanation prints it (the value as written, else the default)."""

    mode: str
    score: float
    shown: str = field(default="", compare=False)


Bounds = tuple[Bound, ...]


def _java_string(value: Any) -> str:
    """``String.valueOf`` of a JSON value as Jackson read it (enough for numbers and text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).replace("inf", "Infinity")
    return str(value)


def _parse_float(text: str) -> float | None:
    """``Float.parseFloat`` (leading/trailing blanks trimmed), or ``None`` where it throws."""
    text = text.strip()
    if not _JAVA_FLOAT.fullmatch(text):
        return None
    number = text.rstrip("fFdD") if not text.endswith("Infinity") else text
    return float(F32(float(number.replace("Infinity", "inf"))))


def _check_names(params: dict[str, Any]) -> None:
    """``ScoreNormalizationUtil.validateParameters`` for the two bound lists."""
    nested = {LOWER: {"mode", "min_score"}, UPPER: {"mode", "max_score"}}
    unknown = False
    for name, value in params.items():
        if name not in nested:
            unknown = True
        elif isinstance(value, dict):
            unknown |= any(k not in nested[name] for k in value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    unknown |= any(k not in nested[name] for k in item)
                else:
                    unknown = True
        else:
            unknown = True
    if unknown:
        raise ValueError(UNRECOGNIZED)


def _bounds(params: dict[str, Any], name: str) -> Bounds | None:
    if name not in params:
        return None
    items = params[name]
    if not isinstance(items, list):
        raise ValueError(f"{name} must be a List")
    if len(items) > MAX_BOUNDS:
        raise ValueError(f"{name} size {len(items)} should be less than or equal to {MAX_BOUNDS}")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each bound must be a map")
        mode = "" if item.get("mode") is None else _java_string(item["mode"])
        if mode.strip() and mode.lower() not in MODES:
            raise ValueError(f"invalid mode: {mode}, valid values are: {', '.join(MODES)}")
        key = SCORE_KEY[name]
        score = DEFAULT_SCORE[name]
        shown = str(score)
        if item.get(key) is not None:
            shown = _java_string(item[key])
            parsed = _parse_float(_java_string(item[key]))
            if parsed is None:
                raise ValueError(f"invalid format for {key}: must be a valid float value")
            if not -BOUND_LIMIT <= parsed <= BOUND_LIMIT:
                raise ValueError(
                    f"{key} must be a valid finite number between "
                    f"{-BOUND_LIMIT:.6f} and {BOUND_LIMIT:.6f}"
                )
            score = parsed
        out.append(Bound(mode.lower() if mode.strip() else "apply", score, shown))
    return tuple(out)


def parse_bounds(params: dict[str, Any]) -> tuple[Bounds | None, Bounds | None]:
    """``(lower_bounds, upper_bounds)`` of a min_max ``normalization.parameters`` object.

    Raises:
        ValueError: the plugin's message for the first problem.
    """
    _check_names(params)
    return _bounds(params, LOWER), _bounds(params, UPPER)


def check_count(bounds: Bounds | None, count: int) -> None:
    """At search time: one bound per sub-query (``count`` of them), else the plugin's error."""
    if bounds is not None and count and len(bounds) != count:
        raise ValueError(MISMATCH.format(count=count))


def _effective_min(bound: Bound | None, score: float, low: float, high: float) -> float:
    if bound is None or bound.mode == "ignore":
        return low
    if bound.mode == "apply":
        return bound.score if high > bound.score and score > bound.score else low
    return low if high < bound.score else bound.score


def _effective_max(bound: Bound | None, score: float, low: float, high: float) -> float:
    if bound is None or bound.mode == "ignore":
        return high
    if bound.mode == "apply":
        return bound.score if low < bound.score and score < bound.score else high
    return high if low > bound.score else bound.score


def bounded_min_max(
    score: np.float32,
    low: np.float32,
    high: np.float32,
    lower: Bound | None,
    upper: Bound | None,
) -> np.float32:
    """``normalizeSingleScore``: min_max with the sub-query's bounds (float32 throughout)."""
    if high == low and high == score:
        return ONE
    s, lo, hi = float(score), float(low), float(high)
    eff_min = F32(_effective_min(lower, s, lo, hi))
    eff_max = F32(_effective_max(upper, s, lo, hi))
    if lower is not None and lower.mode == "clip" and score < eff_min:
        return MIN_SCORE
    if upper is not None and upper.mode == "clip" and score > eff_max:
        return ONE
    if eff_max == eff_min:
        return ONE
    with np.errstate(all="ignore"):
        normalized = F32(F32(score - eff_min) / F32(eff_max - eff_min))
    return MIN_SCORE if normalized == 0.0 else normalized
