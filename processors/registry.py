"""The processor registry: every processor neuralpipe runs, under its OpenSearch type name.

A processor module registers itself once, at import, with the parser of its options (raises
:class:`~processors.errors.InvalidProcessorConfigError` listing every problem) and, for ingest
processors, the factory that builds the runnable processor from the body. The pipeline bodies
(:mod:`processors.config`) and the ingest pipeline find processors only here; adding a
processor is one new module under ``processors/ingest/`` or ``processors/search/`` that calls
:func:`register_processor` (:func:`load_builtin` imports them all).

Example:
    >>> from processors.registry import Kind, register_processor, processor_type, registered
    >>> _ = register_processor(Kind.INGEST, "doc_example", parse=dict)
    >>> processor_type(Kind.INGEST, "doc_example").parse({"field": "x"})
    {'field': 'x'}
    >>> "doc_example" in registered(Kind.INGEST)
    True
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from processors.errors import (
    InvalidProcessorConfigError,
    RegistryError,
    UnknownProcessorError,
    UnsupportedFeatureError,
)

Parser = Callable[[Any], Any]
"""Options (the processor's JSON object) -> its parsed config; raises on invalid options."""
Builder = Callable[[Any, Callable[[str], Any], Any], Any]
"""``(body, encoders, client)`` -> the runnable processor (ingest processors)."""

BUILTIN_PACKAGES = ("processors.ingest", "processors.search")
"""Where the processors neuralpipe ships live; :func:`load_builtin` imports every module."""


class Kind(StrEnum):
    """Where a processor runs: the ingest pipeline or one of the search pipeline sections."""

    INGEST = "ingest"
    SEARCH_REQUEST = "request_processors"
    SEARCH_RESPONSE = "response_processors"
    SEARCH_PHASE_RESULTS = "phase_results_processors"


@dataclass(frozen=True)
class ProcessorType:
    """One registered processor: its kind and name, options parser and (ingest) builder."""

    kind: Kind
    name: str
    parse: Parser
    build: Builder | None = None


_REGISTRY: dict[tuple[Kind, str], ProcessorType] = {}


def register_processor(
    kind: Kind, name: str, *, parse: Parser, build: Builder | None = None
) -> ProcessorType:
    """Register a processor under its OpenSearch type name (once; twice is an error)."""
    entry = ProcessorType(kind, name, parse, build)
    key = (kind, name)
    if key in _REGISTRY and _REGISTRY[key] != entry:
        raise RegistryError(f"{kind.value} processor '{name}' is already registered")
    _REGISTRY[key] = entry
    return entry


def registered(kind: Kind) -> list[str]:
    """The registered type names of one kind, in registration order."""
    return [name for k, name in _REGISTRY if k is kind]


def is_registered(kind: Kind, name: str) -> bool:
    """Whether ``name`` is a processor of ``kind`` neuralpipe runs."""
    return (kind, name) in _REGISTRY


def suggest(name: str, candidates: list[str]) -> str:
    """A ``Did you mean 'x'?`` suffix, or the empty string when nothing is close.

    >>> suggest("text_embeding", ["text_embedding", "sparse_encoding"])
    " Did you mean 'text_embedding'?"
    >>> suggest("zzz", ["text_embedding"])
    ''
    """
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def processor_type(kind: Kind, name: str) -> ProcessorType:
    """The processor registered as ``name``; a clear error with a suggestion otherwise."""
    try:
        return _REGISTRY[(kind, name)]
    except KeyError:
        names = sorted(registered(kind))
        raise UnknownProcessorError(
            f"unknown {kind.value} processor '{name}'.{suggest(name, names)}"
            f" Supported: {', '.join(names) or 'none'}"
        ) from None


def parse_options(entry: ProcessorType, options: Any, where: str, errors: list[str]) -> Any:
    """``entry``'s parsed options, or None with every problem appended to ``errors``.

    The one error policy of every processor: all problems are collected, each prefixed with
    its path (``where.key: message``), and reported together by the caller.

    >>> def strict(body):
    ...     raise InvalidProcessorConfigError("bad", problems=[("a", "x"), ("", "y")])
    >>> errors: list[str] = []
    >>> entry = ProcessorType(Kind.INGEST, "strict", strict)
    >>> parse_options(entry, {}, "p.processors[0].strict", errors), errors
    (None, ['p.processors[0].strict.a: x', 'p.processors[0].strict: y'])
    """
    try:
        return entry.parse(options)
    except InvalidProcessorConfigError as exc:
        errors.extend(
            f"{where}.{key}: {msg}" if key else f"{where}: {msg}" for key, msg in exc.problems
        )
    except UnsupportedFeatureError as exc:
        errors.append(f"{where}: {exc}")
    return None


@functools.cache
def load_builtin() -> None:
    """Import every module of :data:`BUILTIN_PACKAGES` once, so each registers its processors."""
    for package in BUILTIN_PACKAGES:
        loaded = importlib.import_module(package)
        for info in pkgutil.iter_modules(loaded.__path__, prefix=f"{package}."):
            importlib.import_module(info.name)
