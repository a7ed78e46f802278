"""Java ``float`` semantics for scores: exact rounding, ``Float.toString`` and JSON values.

The plugins keep every score in a 32-bit float. OpenSearch writes a float score to JSON with
its shortest round-trip decimal (``0.6666667``), so a client reads the double nearest to that
decimal. Here scores are computed as ``numpy.float32`` and handed out through
:func:`json_score`, which gives exactly the double a client would read from the real node.

Example:
    >>> from fractions import Fraction
    >>> json_score(nearest_f32(Fraction(2, 3)))
    0.6666667
    >>> java_float_str(np.float32(1e-5)), java_parse_float(" 4.5f ")
    ('1.0E-5', np.float32(4.5))
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from processors.compat.java_text import java_double_str, java_parse_double

F32 = np.float32
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?")


def f32(value: float | int | np.floating) -> np.float32:
    """``(float) value``: one rounding to the nearest float32 (overflow gives infinity)."""
    with np.errstate(over="ignore"):
        return np.float32(value)


def nearest_f32(value: Fraction) -> np.float32:
    """The float32 nearest to an exact rational (ties to even), as ``Float.parseFloat`` rounds."""
    guess = f32(float(value))  # float(Fraction) rounds once to double: the guess may be 1 ulp off
    if not np.isfinite(guess):
        return guess
    candidates = [
        np.nextafter(guess, np.float32(-np.inf)),
        guess,
        np.nextafter(guess, np.float32(np.inf)),
    ]
    finite = [c for c in candidates if np.isfinite(c)]
    best = min(finite, key=lambda c: (abs(Fraction(float(c)) - value), int(c.view(np.uint32)) & 1))
    return np.float32(best)


def json_score(value: np.float32 | float) -> float:
    """The double a client reads for this float score (its shortest decimal, as Java prints)."""
    f = np.float32(value)
    if not np.isfinite(f):
        return float(f)
    return float(str(f))


def json_scores(values: npt.NDArray[np.float32]) -> list[float]:
    """:func:`json_score` of every float32 of ``values``, at once.

    The token weights of a sparse map are float32: the plugins write each one as its shortest
    decimal (``0.05700399``), where ``float(x)`` would be written ``0.057003989815711975``
    (the same float32, twice the characters in every ``_source`` and ``_bulk`` body).

    >>> json_scores(np.array([0.057003989815711975, 1.0, np.inf], np.float32))
    [0.05700399, 1.0, inf]
    """
    return [float(text) for text in np.asarray(values, np.float32).astype(str).tolist()]


def java_float_str(value: np.float32 | float) -> str:
    """``Float.toString``: ``0.3``, ``1.0``, ``1.0E-5``, ``NaN``."""
    return java_double_str(json_score(value))


def java_parse_float(text: str) -> np.float32:
    """``Float.parseFloat``: like ``Double.parseDouble`` but rounded once, straight to float.

    Raises:
        ValueError: where Java throws ``NumberFormatException``.
    """
    body = text.strip("".join(map(chr, range(33))))
    if _DECIMAL.fullmatch(body) and any(c.isdigit() for c in body):
        try:
            return nearest_f32(Fraction(Decimal(body.rstrip("fFdD"))))
        except (InvalidOperation, OverflowError):  # pragma: no cover - regex guards the grammar
            pass
    return f32(java_parse_double(text))  # NaN, Infinity, hex floats (exact in a double)


def java_float_compare_key(value: float) -> tuple[int, float, float]:
    """A sort key ordering floats as ``Float.compare`` does (-0.0 < 0.0, NaN above +inf)."""
    if math.isnan(value):
        return (1, 0.0, 0.0)
    return (0, value, math.copysign(1.0, value))
