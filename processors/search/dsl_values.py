"""Read query-DSL values as OpenSearch's ``XContentParser`` does, with its error messages.

A JSON value maps to the parser's token names (``START_OBJECT``, ``VALUE_NUMBER``, ...), and
numbers, booleans and strings are coerced as ``floatValue()``, ``booleanValue()``,
``text()`` and ``NumberType.INTEGER.parse(.., coerce=false)`` coerce them. Processor options
read by ``ConfigurationUtils`` are read by :mod:`processors.compat.options`.

Example:
    >>> token_name([1]), is_value("x"), is_value(None)
    ('START_ARRAY', True, False)
    >>> single_field("neural", {"v": {"k": 3}})
    ('v', {'k': 3})
    >>> to_int("5"), float(to_float("0.5"))
    (5, 0.5)
"""

from __future__ import annotations

import math
from typing import Any, TypeVar, cast

import numpy as np

from processors.compat.floats import f32, java_parse_float
from processors.compat.java_text import INT_MAX, INT_MIN
from processors.errors import InvalidQueryError

PARSING = "parsing_exception"
_LEAVES = (str, int, float, bool, type(None))
_Json = TypeVar("_Json")


def copy_json(value: _Json) -> _Json:
    """A copy of a parsed-JSON value: new dicts and lists, leaves shared (they are immutable).

    What ``copy.deepcopy`` gives for such trees, without its memo: on a query carrying a
    384-float vector deepcopy costs about a quarter of a millisecond, this a few microseconds.

    >>> body = {"knn": {"v": {"vector": [0.5, 1.0], "k": 2}}}
    >>> copied = copy_json(body)
    >>> copied == body and copied["knn"]["v"]["vector"] is not body["knn"]["v"]["vector"]
    True
    """
    if isinstance(value, dict):
        return cast("_Json", {key: copy_json(item) for key, item in value.items()})
    if isinstance(value, list):
        return cast("_Json", [i if isinstance(i, _LEAVES) else copy_json(i) for i in value])
    return value


def token_name(value: Any) -> str:
    """The ``XContentParser.Token`` a JSON value starts with."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if value is None:
        return "VALUE_NULL"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    return "VALUE_STRING"


def is_value(value: Any) -> bool:
    """``token.isValue()``: a string, number or boolean (not null, not a container)."""
    return token_name(value) in ("VALUE_STRING", "VALUE_NUMBER", "VALUE_BOOLEAN")


def single_field(kind: str, body: Any) -> tuple[str, Any]:
    """The one ``{field: params}`` entry of a field query, or the plugin's parsing error."""
    if not isinstance(body, dict):
        raise InvalidQueryError(
            f"[{kind}] query malformed, no start_object after query name", PARSING
        )
    if not body:
        raise InvalidQueryError(f"Field name must be provided for {kind} query")
    names = list(body)
    if len(names) > 1:
        raise InvalidQueryError(
            f"[{kind}] query doesn't support multiple fields, found [{names[0]}] and [{names[1]}]",
            PARSING,
        )
    name = names[0]
    if not isinstance(body[name], dict):
        raise InvalidQueryError(
            f"[{kind}] unknown token [{token_name(body[name])}] after [{name}]", PARSING
        )
    return name, body[name]


def to_text(value: Any) -> str:
    """``parser.text()`` of a value token."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_float(value: Any) -> np.float32:
    """``parser.floatValue()``: numbers, and numeric strings (coerced)."""
    if isinstance(value, bool):
        raise InvalidQueryError(
            "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors"
            if value
            else "Current token (VALUE_FALSE) not numeric, can not use numeric value accessors"
        )
    if isinstance(value, int | float):
        return f32(value)
    try:
        return java_parse_float(str(value))
    except ValueError:
        raise InvalidQueryError(f'For input string: "{value}"') from None


def to_int(value: Any) -> int:
    """``NumberType.INTEGER.parse(value, coerce=false)``: no decimal part, within int range."""
    number: float
    if isinstance(value, bool):
        raise InvalidQueryError(f'For input string: "{to_text(value)}"')
    if isinstance(value, int):
        number = value
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidQueryError(f'For input string: "{value}"') from None
        if math.isfinite(number) and number % 1 != 0:
            raise InvalidQueryError(f"Value [{value}] has a decimal part")
    if not math.isfinite(number) or not INT_MIN <= number <= INT_MAX:
        raise InvalidQueryError(f"Value [{value}] is out of range for an integer")
    return int(number)


def to_bool(value: Any) -> bool:
    """``parser.booleanValue()``: ``true``/``false``, also as strings."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise InvalidQueryError(
        f"Failed to parse value [{to_text(value)}] as only [true] or [false] are allowed."
    )
