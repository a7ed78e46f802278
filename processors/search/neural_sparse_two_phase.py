"""``neural_sparse_two_phase_processor``: search high-weight query tokens, rescore with the rest.

The plugin's search request processor (the same options and defaults from 2.19.0 to 3.6; the
``sparse_vector`` refusal since 3.3) visits the
request's ``query``: a ``neural_sparse`` clause at the top, or reached from the top through
``bool.should`` clauses only, is split by ``two_phase_parameter`` (``prune_type`` /
``prune_ratio``, the rules of ``sparse_encoding`` pruning): the clause keeps the high-weight
tokens (phase one, over every document) and a copy with the low-weight tokens goes into a
``rescore`` appended to the request (phase two, over the top ``window_size`` hits only), so a
hit in the window scores ``high + low`` and the others ``high``:

* the copy's boost is the product of the boosts on the way (each ``bool`` and the clause),
  equal clauses are merged with their boosts summed; the copies sit in one ``bool.should``
  whose boost is the product of the ``query_weight`` of the request's own rescorers;
* ``window_size = int(size * expansion_rate)`` (``size`` 10 when the request has none), an
  error above ``max_window_size``;
* nothing happens with ``enabled: false`` or ``prune_ratio: 0``, or when no clause qualifies;
* on a ``sparse_vector`` (seismic) field: the plugin's refusal.

Since neuralpipe computes the query tokens itself, the split is done before the node sees the
request: it gets the high tokens as ``rank_feature`` clauses in place and the low ones in the
``rescore`` -- the request the plugin's node builds.

Example:
    >>> config = TwoPhaseConfig.from_body({"two_phase_parameter": {"prune_ratio": 0.5}})
    >>> split_tokens({"a": 4.0, "b": 1.0, "c": 3.0}, config.prune_type, config.prune_ratio)
    ({'a': 4.0, 'c': 3.0}, {'b': 1.0})
    >>> config.window_size(None), config.window_size(3)
    (50, 15)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from processors.compat import options
from processors.compat.floats import f32, json_score
from processors.compat.java_text import java_str
from processors.errors import InvalidProcessorConfigError, InvalidQueryError
from processors.ingest.prune import check_prune_config, prune
from processors.neural_stats.events import increment
from processors.registry import Kind, register_processor
from processors.search.neural_sparse import NeuralSparseQuery
from processors.search.query_walk import ClauseRef
from processors.search.rewrite import Found

JSONObject = dict[str, Any]
TYPE = "neural_sparse_two_phase_processor"
PARAMETER = "two_phase_parameter"
KEYS = ("enabled", PARAMETER, "tag", "description", "ignore_failure")
SEISMIC = "Two phase search processor is not compatible with [seismic] field for now"
COLLECTED = re.compile(r"query(\.bool\.should(\[\d+\])?)*")
"""Where the plugin looks: the top query, then ``bool.should`` clauses only."""
DEFAULT_SIZE = 10


@dataclass(frozen=True)
class TwoPhaseConfig:
    """The processor's options, with the plugin's defaults (the same in 2.19-3.6)."""

    enabled: bool = True
    prune_type: str = "max_ratio"
    prune_ratio: float = 0.4
    expansion_rate: float = 5.0
    max_window_size: int = 10_000
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False

    @classmethod
    def from_body(cls, body: Any) -> TwoPhaseConfig:
        """The options read as the plugin's factory reads them, with its messages.

        >>> TwoPhaseConfig.from_body({"two_phase_parameter": {"prune_type": "top_k",
        ...     "prune_ratio": 0.5}})
        Traceback (most recent call last):
        ...
        processors.errors.InvalidProcessorConfigError: Illegal prune_ratio 0.500000 for \
prune_type: top_k. prune_ratio should be positive integer.
        """
        if not isinstance(body, dict):
            raise InvalidProcessorConfigError(f"[{TYPE}] options must be an object")
        problems: options.Problems = []
        unknown = [k for k in body if k not in KEYS]
        if unknown:  # core checks what the factory left, after it
            problems.append((unknown[0], _unsupported(unknown)))
        for key in ("tag", "description"):
            options.read(body, key, str, "string", problems)
        ignore = options.read(body, "ignore_failure", bool, "boolean", problems)
        enabled = options.read(body, "enabled", bool, "boolean", problems)
        given = options.read(body, PARAMETER, dict, "map", problems)
        config = cls(
            enabled=True if enabled is None else enabled,
            tag=body.get("tag"),
            description=body.get("description"),
            ignore_failure=bool(ignore),
        )
        if given is not None:
            config = _with_parameters(config, given, problems)
        options.raise_problems(sorted(problems, key=lambda p: p[0] in unknown))
        return config

    @property
    def active(self) -> bool:
        """``processRequest`` does anything at all (``enabled`` and a ratio other than 0)."""
        return self.enabled and self.prune_ratio != 0

    def window_size(self, size: int | None) -> int:
        """The rescore window for a request of ``size`` hits, or the plugin's error."""
        base = DEFAULT_SIZE if size is None or size == -1 else size
        window = int(np.float32(base) * np.float32(self.expansion_rate))
        if window > self.max_window_size or window < 0:
            raise InvalidQueryError(
                f"The two-phase window size of {TYPE} should be [0,{self.max_window_size}], "
                f"but get the value of {window}"
            )
        return window


def _unsupported(keys: list[str]) -> str:
    """Core's refusal of leftover options, in a search pipeline's words."""
    return (
        f"processor [{TYPE}] doesn't support one or more provided configuration parameters: "
        f"[{', '.join(keys)}]"
    )


def _number(value: Any, key: str, problems: options.Problems) -> float | None:
    """``(Number) value``: anything else is the ClassCastException the plugin fails with."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append((f"{PARAMETER}.{key}", _class_cast(value)))
        return None
    return float(value)


def _class_cast(value: Any) -> str:
    from processors.compat.java_text import java_class

    name = java_class(value)
    module = "java.base" if name.startswith("java.") else "unnamed module"
    return (
        f"class {name} cannot be cast to class java.lang.Number ({name} and java.lang.Number "
        f"are in module {module} of loader 'bootstrap')"
    )


def _with_parameters(
    config: TwoPhaseConfig, given: JSONObject, problems: options.Problems
) -> TwoPhaseConfig:
    ratio = _number(given.get("prune_ratio", config.prune_ratio), "prune_ratio", problems)
    rate = _number(given.get("expansion_rate", config.expansion_rate), "expansion_rate", problems)
    window = _number(
        given.get("max_window_size", config.max_window_size), "max_window_size", problems
    )
    if ratio is None or rate is None or window is None:
        return config
    prune_type = java_str(given.get("prune_type", config.prune_type))
    prune_type = prune_type or "none"  # PruneType.fromString("") is NONE
    ratio32 = float(f32(ratio))
    error = check_prune_config(prune_type, ratio32)
    if error is not None:
        problems.append((f"{PARAMETER}.prune_ratio", error))
        return config
    rate32 = float(f32(rate))
    if rate32 < 1.0:
        problems.append(
            (
                f"{PARAMETER}.expansion_rate",
                f"The two_phase_parameter.expansion_rate must >= 1.0. Received: {rate32:.6f}",
            )
        )
        return config
    max_window = int(window)  # Number.intValue(): truncated
    if max_window < 50:
        problems.append(
            (
                f"{PARAMETER}.max_window_size",
                f"The two_phase_parameter.max_window_size must >= 50. Received: \n{max_window}",
            )  # the plugin's format string has "%n" where "%d" was meant
        )
        return config
    return replace(
        config,
        prune_type=prune_type,
        prune_ratio=ratio32,
        expansion_rate=rate32,
        max_window_size=max_window,
    )


def split_tokens(
    tokens: Mapping[str, float], prune_type: str, ratio: float
) -> tuple[dict[str, float], dict[str, float]]:
    """``PruneUtils.splitSparseVector``: (the tokens kept, the tokens pruned)."""
    try:
        high = prune(dict(tokens), prune_type, ratio)
    except ValueError as exc:  # a weight <= 0
        raise InvalidQueryError(str(exc)) from None
    return high, {t: w for t, w in tokens.items() if t not in high}


@dataclass(frozen=True)
class TwoPhaseSparseQuery(NeuralSparseQuery):
    """A ``neural_sparse`` clause of a two-phase search: phase 1 scores its high tokens, phase
    2 (the rescore copy) its low tokens."""

    phase: Literal[1, 2] = 1
    prune_type: str = "max_ratio"
    prune_ratio: float = 0.4

    def to_query(self, tokens: Mapping[str, float]) -> JSONObject:
        if self.sparse_vector is not None:
            raise InvalidQueryError(SEISMIC)
        high, low = split_tokens(tokens, self.prune_type, self.prune_ratio)
        return super().to_query(high if self.phase == 1 else low)


def apply_two_phase(
    found: Sequence[Found], config: TwoPhaseConfig, request: JSONObject, size: int | None = None
) -> list[Found]:
    """Split the collected clauses and append the rescore to ``request`` (in place); the
    clauses to rewrite, the rescore copies appended. ``size``: the URL's ``size``, if any."""
    increment("neural_sparse_two_phase_executions")
    if not config.active:
        return list(found)
    out = list(found)
    groups: dict[tuple[Any, ...], tuple[NeuralSparseQuery, np.float32]] = {}
    for i, f in enumerate(found):
        if not isinstance(f.query, NeuralSparseQuery) or not COLLECTED.fullmatch(f.ref.path):
            continue
        boost = _path_boost(request, f.ref.path) * f32(
            1.0 if f.query.boost is None else f.query.boost
        )
        query = f.query
        out[i] = replace(f, query=_phase(query, 1, config))
        key = (query.field, query.query_text, query.model_id, query.analyzer, query.name,
               tuple(sorted((query.query_tokens or {}).items())))  # fmt: skip
        before = groups.get(key)
        groups[key] = (query, boost if before is None else f32(before[1] + boost))
    if not groups:
        return out
    body_size = size if size is not None else request.get("size")
    try:
        window = config.window_size(None if body_size is None else int(body_size))
    except InvalidQueryError:
        if config.ignore_failure:
            return out  # as the plugin leaves it: clauses split, no rescore
        raise
    existing = request.get("rescore")
    rescorers = existing if isinstance(existing, list) else [] if existing is None else [existing]
    weight = f32(1.0)
    for rescorer in rescorers:
        query_weight = (rescorer.get("query") or {}).get("query_weight", 1.0)
        weight = f32(weight * f32(query_weight))
    should: list[Any] = [None] * len(groups)
    rescore_query: JSONObject = {"bool": {"should": should}}
    if weight != 1.0:
        rescore_query["bool"]["boost"] = json_score(weight)
    request["rescore"] = [
        *rescorers,
        {"window_size": window, "query": {"rescore_query": rescore_query}},
    ]
    where = f"rescore[{len(rescorers)}].query.rescore_query.bool.should"
    for j, (query, boost) in enumerate(groups.values()):
        copy = replace(_phase(query, 2, config), boost=float(boost))
        should[j] = {"neural_sparse": {query.field: {}}}
        ref = ClauseRef("neural_sparse", should[j]["neural_sparse"], f"{where}[{j}]", should, j)
        out.append(Found(ref, copy))
    return out


def _phase(query: NeuralSparseQuery, phase: Literal[1, 2], config: TwoPhaseConfig) -> Any:
    fields = {f: getattr(query, f) for f in query.__dataclass_fields__}
    fields.pop("phase", None)
    fields.update(phase=phase, prune_type=config.prune_type, prune_ratio=config.prune_ratio)
    return TwoPhaseSparseQuery(**fields)


def _path_boost(request: JSONObject, path: str) -> np.float32:
    """The product of the ``bool`` boosts from the top query down to the clause at ``path``."""
    boost = f32(1.0)
    node: Any = request.get("query")
    for step in re.findall(r"\.bool\.should(?:\[(\d+)\])?", path.removeprefix("query")):
        inner = node["bool"]
        boost = f32(boost * f32(inner.get("boost", 1.0)))
        node = inner["should"][int(step)] if step else inner["should"]
    return boost


register_processor(Kind.SEARCH_REQUEST, TYPE, parse=TwoPhaseConfig.from_body)
