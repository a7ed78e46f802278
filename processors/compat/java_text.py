"""Java semantics the ``text_chunking`` port needs: UTF-16 strings, number parsing, ``toString``.

The plugin counts characters and token offsets in Java UTF-16 code units, reads its integer and
double parameters through ``Integer.decode`` / ``Double.valueOf`` of their string form, and prints
values with ``String.valueOf``. Python strings are code points, ``int()`` accepts ``"1_0"`` and
``float()`` accepts ``"inf"``; these helpers reproduce the Java behaviour instead.

A *Java view* of a string is a ``str`` whose code points are the UTF-16 code units of the original
(an astral character becomes its two surrogates), so ``len``, slicing and ``find`` on it behave as
``String.length``, ``substring`` and ``indexOf``. :func:`from_java` turns a slice back into a normal
string; a slice that cut a surrogate pair keeps a lone surrogate, as the Java chunk would.

Example:
    >>> view = to_java("a\\U0001F600b")
    >>> len(view), from_java(view[:2]) == "a\\ud83d", from_java(view[1:3]) == "\\U0001F600"
    (4, True, True)
    >>> java_decode_int("0x10"), java_double_str(1e-5), java_str([1, True, None])
    (16, '1.0E-5', '[1, true, null]')
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from decimal import Decimal
from typing import Any

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CODEC = "utf-16-be" if sys.byteorder == "big" else "utf-16-le"
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?")
_HEX_FLOAT = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]*\.?[0-9a-fA-F]*)[pP]([+-]?[0-9]+)[fFdD]?")
_JAVA_WS = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f")
_NO_BREAK = frozenset("\u00a0\u2007\u202f")


def to_java(text: str) -> str:
    """The Java view of ``text``: one code point per UTF-16 code unit."""
    if not _ASTRAL.search(text):
        return text
    units = memoryview(text.encode(_CODEC, "surrogatepass")).cast("H")
    return "".join(map(chr, units))


def from_java(view: str) -> str:
    """A normal string from a Java view (surrogate pairs joined, lone surrogates kept)."""
    if not _SURROGATE.search(view):
        return view
    return view.encode(_CODEC, "surrogatepass").decode(_CODEC, "surrogatepass")


def utf16_offsets(text: str, offsets: list[int]) -> list[int]:
    """Code-point offsets into ``text`` converted to UTF-16 code-unit offsets (sorted input)."""
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return offsets
    out, seen = [], 0
    for offset in offsets:
        while seen < len(astral) and astral[seen] < offset:
            seen += 1
        out.append(offset + seen)
    return out


def java_is_blank(text: str) -> bool:
    """``StringUtils.isBlank``: empty or only ``Character.isWhitespace`` characters."""
    return all(
        c in _JAVA_WS or (unicodedata.category(c) in ("Zs", "Zl", "Zp") and c not in _NO_BREAK)
        for c in text
    )


def java_str(value: Any) -> str:
    """``String.valueOf`` of a JSON value as the Java config map holds it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


def java_class(value: Any) -> str:
    """The Java class name of a parsed JSON value (``value.getClass().getName()``)."""
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if INT_MIN <= value <= INT_MAX else "java.lang.Long"
    names = {str: "java.lang.String", float: "java.lang.Double", list: "java.util.ArrayList",
             dict: "java.util.LinkedHashMap"}  # fmt: skip
    return names.get(type(value), "null" if value is None else "java.lang.Object")


def java_double_str(value: float) -> str:
    """``Double.toString``: ``0.6``, ``1.0``, ``1.0E-5``, ``1.2E7``, ``NaN``, ``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else f"{text}.0"
    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    power = int(exponent) + len(mantissa) - 1
    return f"{'-' if value < 0 else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


def java_decode_int(text: str) -> int:
    """``Integer.decode``: optional sign, then decimal, ``0x``/``#`` hex or ``0`` octal.

    Raises:
        ValueError: where Java throws ``NumberFormatException``.
    """
    body, negative = text, False
    if body[:1] in ("-", "+"):
        negative, body = body[0] == "-", body[1:]
    radix = 10
    if body[:2] in ("0x", "0X"):
        radix, body = 16, body[2:]
    elif body[:1] == "#":
        radix, body = 16, body[1:]
    elif body[:1] == "0" and len(body) > 1:
        radix, body = 8, body[1:]
    digits = "0123456789abcdef"[:radix]
    if not body or any(c not in digits for c in body.lower()):
        raise ValueError(f"For input string: {text!r}")
    number = -int(body, radix) if negative else int(body, radix)
    if not INT_MIN <= number <= INT_MAX:
        raise ValueError(f"For input string: {text!r}")
    return number


def java_parse_int(text: str) -> int:
    """``Integer.parseInt``: an optional sign, then decimal digits, within the int range.

    Python's ``int()`` also takes ``" 5"`` and ``"1_0"``; Java does not:

    >>> java_parse_int("+42"), java_parse_int("-2147483648")
    (42, -2147483648)
    >>> java_parse_int("2147483648")
    Traceback (most recent call last):
    ...
    ValueError: For input string: '2147483648'

    Raises:
        ValueError: where Java throws ``NumberFormatException``.
    """
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits or not all("0" <= c <= "9" for c in digits):
        raise ValueError(f"For input string: {text!r}")
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise ValueError(f"For input string: {text!r}")
    return number


def java_parse_double(text: str) -> float:
    """``Double.valueOf``: trimmed; decimal or hex float, ``NaN``, ``Infinity``, f/d suffix.

    Raises:
        ValueError: where Java throws ``NumberFormatException``.
    """
    body = text.strip("".join(map(chr, range(33))))
    unsigned = body.lstrip("+-")
    if unsigned in ("NaN", "Infinity") and len(body) - len(unsigned) <= 1:
        return -math.inf if body[0] == "-" and unsigned == "Infinity" else float(unsigned.lower())
    if _DECIMAL.fullmatch(body) and any(c.isdigit() for c in body):
        return float(body.rstrip("fFdD"))
    hex_float = _HEX_FLOAT.fullmatch(body)
    if hex_float and hex_float.group(2).strip("."):
        sign, mantissa, power = hex_float.groups()
        return float.fromhex(f"{sign}0x{mantissa}p{power}")
    raise ValueError(f"For input string: {text!r}")


def java_floor_int(value: float) -> int:
    """``(int) Math.floor(value)``: NaN is 0, out-of-range values saturate."""
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return INT_MAX if value > 0 else INT_MIN
    return max(INT_MIN, min(INT_MAX, math.floor(value)))
