"""Processor options read as OpenSearch's ``ConfigurationUtils`` reads them, with its messages.

One reader for every processor; one error policy: problems are collected as ``(option,
message)`` pairs and raised together in one
:class:`~processors.errors.InvalidProcessorConfigError` (:func:`raise_problems`), which the
registry (:func:`processors.registry.parse_options`) reports with their paths.

Example:
    >>> problems: Problems = []
    >>> read({"tag": 3_000_000_000}, "tag", str, "string", problems), problems[0][1]
    (None, "[tag] property isn't a string, but of type [java.lang.Long]")
    >>> read_int({"batch_size": "2147483648"}, "batch_size", 1, problems), problems[-1][1]
    (None, '[batch_size] property cannot be converted to an int [2147483648]')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from processors.compat.java_text import java_class, java_parse_int
from processors.errors import InvalidProcessorConfigError

Problems = list[tuple[str, str]]
"""``(option, message)`` pairs, in the order OpenSearch would find them."""


def missing(key: str) -> str:
    """``[key] required property is missing``."""
    return f"[{key}] required property is missing"


def wrong_type(key: str, what: str, value: Any) -> str:
    """``[key] property isn't a <what>, but of type [<java class>]`` (``what``: "string"...)."""
    return f"[{key}] property isn't a {what}, but of type [{java_class(value)}]"


def not_an_int(key: str, value: Any) -> str:
    """``readIntProperty``'s message when ``Integer.parseInt`` refuses the value."""
    return f"[{key}] property cannot be converted to an int [{value}]"


def unsupported(type_name: str, keys: Sequence[str]) -> str:
    """Core's refusal of options left over after the factory read its own."""
    return (
        f"processor [{type_name}] doesn't support one or more provided configuration "
        f"parameters [{', '.join(keys)}]"
    )


def read(
    body: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    what: str,
    problems: Problems,
    *,
    required: bool = False,
) -> Any:
    """``readStringProperty`` / ``readMap`` / ``readBooleanProperty``...: the value, or None
    with a problem added (missing when ``required``, or of another type)."""
    value = body.get(key)
    if value is None:
        if required:
            problems.append((key, missing(key)))
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        problems.append((key, wrong_type(key, what, value)))
        return None
    return value


def read_int(body: dict[str, Any], key: str, default: int, problems: Problems) -> int | None:
    """``readIntProperty``: ``Integer.parseInt(String.valueOf(value))``, so ``"5"`` is read,
    ``5.0``, ``true``, ``"1_0"`` and anything beyond the int range are refused."""
    value = body.get(key, default)
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        return java_parse_int(str(value))
    except ValueError:
        problems.append((key, not_an_int(key, value)))
        return None


def raise_problems(problems: Problems) -> None:
    """Raise every collected problem at once (nothing when there is none)."""
    if problems:
        raise InvalidProcessorConfigError("; ".join(m for _, m in problems), problems=problems)
