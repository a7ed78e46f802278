"""The processor registry: OpenSearch type names mapped to neuralpipe processor classes.

Example:
    >>> from processors.registry import Kind, register, lookup
    >>> @register(Kind.INGEST, "my_step")
    ... class MyStep: ...
    >>> lookup(Kind.INGEST, "my_step") is MyStep
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from processors.errors import RegistryError, UnknownProcessorError

T = TypeVar("T", bound=type)


class Kind(StrEnum):
    """Where a processor runs: the ingest pipeline or one of the search pipeline sections."""

    INGEST = "ingest"
    SEARCH_REQUEST = "request_processors"
    SEARCH_RESPONSE = "response_processors"
    SEARCH_PHASE_RESULTS = "phase_results_processors"


_REGISTRY: dict[tuple[Kind, str], type] = {}


def register(kind: Kind, type_name: str) -> Callable[[T], T]:
    """Class decorator: register a processor class under its OpenSearch type name."""

    def decorate(cls: T) -> T:
        key = (kind, type_name)
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise RegistryError(f"{kind.value} processor '{type_name}' is already registered")
        _REGISTRY[key] = cls
        return cls

    return decorate


def registered(kind: Kind) -> list[str]:
    """The registered type names of one kind, sorted."""
    return sorted(name for k, name in _REGISTRY if k is kind)


def suggest(name: str, candidates: list[str]) -> str:
    """A ``Did you mean 'x'?`` suffix, or the empty string when nothing is close."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def lookup(kind: Kind, type_name: str) -> type:
    """The class registered for ``type_name``; a clear error with a suggestion otherwise."""
    try:
        return _REGISTRY[(kind, type_name)]
    except KeyError:
        names = registered(kind)
        raise UnknownProcessorError(
            f"unknown {kind.value} processor '{type_name}'.{suggest(type_name, names)}"
            f" Supported: {', '.join(names) or 'none'}"
        ) from None
