"""Options of ``normalization-processor`` and ``score-ranker-processor`` (reference §9.2, §9.5).

``from_body`` takes the processor's body (the value under its type key) and validates it with
the plugin's own messages, raising :class:`InvalidProcessorConfigError` with every problem.

Versions: the node is 2.19, and so is the arithmetic. Syntax the 2.19 plugin rejects but later
plugins accept is accepted with the later meaning: ``z_score`` (3.0), RRF ``weights`` and
``combination.rank_constant`` (3.1; 2.19 reads ``combination.parameters.rank_constant``, which
is accepted too), and ``min_max`` ``lower_bounds`` / ``upper_bounds`` (3.2, parsed and validated
in :mod:`processors.search.minmax_bounds`; 2.19 silently ignores them). Unknown keys inside
``normalization`` / ``combination`` are errors here (the plugin ignores them, so a typo such as
``rank_constnt`` would silently fall back to the default).

Example:
    >>> body = {"combination": {"parameters": {"weights": [0.3, 0.7]}}}
    >>> cfg = NormalizationConfig.from_body(body)
    >>> cfg.technique, cfg.combination, [float(w) for w in cfg.weights]
    ('min_max', 'arithmetic_mean', [0.30000001192092896, 0.699999988079071])
    >>> RRFConfig.from_body({"combination": {"rank_constant": 40}}).rank_constant
    40
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from processors.compat import options
from processors.compat.floats import f32, java_float_str
from processors.compat.java_text import java_decode_int
from processors.errors import InvalidProcessorConfigError
from processors.registry import Kind, register_processor
from processors.search.minmax_bounds import Bounds, parse_bounds

JSONObject = dict[str, Any]
Weights = tuple[np.float32, ...]
NORMALIZATIONS = ("min_max", "l2", "rrf", "z_score")
COMBINATIONS = ("arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf")
GENERIC_KEYS = ("tag", "description", "ignore_failure")
DEFAULT_RANK_CONSTANT = 60
_WEIGHTS_TOLERANCE = float(np.float32(0.01))  # DoubleMath.fuzzyEquals(1.0f, sum, 0.01f)

UNKNOWN_PROCESSOR_KEYS = (
    "processor [{type_name}] doesn't support one or more provided configuration parameters [{keys}]"
)
UNKNOWN_SECTION_KEY = "unknown key [{key}] in [{path}], expected one of {allowed}"
BAD_NORMALIZATION = "provided normalization technique is not supported"
BAD_COMBINATION = "provided combination technique is not supported"
BAD_NORMALIZATION_PARAMS = "unrecognized parameters in normalization technique"
BAD_COMBINATION_PARAMS = (
    "provided parameter for combination technique is not supported. "
    "supported parameters are [weights]"
)
WEIGHTS_NOT_NUMBERS = "parameter [weights] must be a collection of numbers"
WEIGHTS_RANGE = "all weights must be in range [0.0 ... 1.0], submitted weights: {shown}"
WEIGHTS_SUM = "sum of weights for combination must be equal to 1.0, submitted weights: {shown}"
RANK_NOT_INT = "parameter [rank_constant] must be an integer"
RANK_RANGE = (
    "rank constant must be in the interval between 1 and 10000, submitted rank constant: {value}"
)
Z_SCORE_ONLY_ARITHMETIC = (
    "provided combination technique {combination} is not supported for normalization technique "
    "z_score. Supported techniques are: arithmetic_mean"
)


class _Problems:
    """Collects ``(path, message)`` pairs; :meth:`raise_if_any` raises them all at once."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_if_any(self) -> None:
        if self.items:
            text = "; ".join(m for _, m in self.items)
            raise InvalidProcessorConfigError(f"[{self.type_name}] {text}", self.items)


def _map(body: JSONObject, key: str, path: str, problems: _Problems) -> JSONObject:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, options.wrong_type(key, "map", value))
        return {}
    return value


def _string(body: JSONObject, key: str, default: str, path: str, problems: _Problems) -> str:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        problems.add(path, options.wrong_type(key, "string", value))
        return default
    return value


def _unknown_keys(
    section: JSONObject, allowed: tuple[str, ...], path: str, problems: _Problems
) -> None:
    for key in section:
        if key not in allowed:
            message = UNKNOWN_SECTION_KEY.format(key=key, path=path, allowed=list(allowed))
            problems.add(f"{path}.{key}", message)


def _generic(body: JSONObject, allowed: tuple[str, ...], problems: _Problems) -> JSONObject:
    unknown = [k for k in body if k not in allowed]
    if unknown:
        message = UNKNOWN_PROCESSOR_KEYS.format(
            type_name=problems.type_name, keys=", ".join(unknown)
        )
        problems.add(unknown[0], message)
    for key in ("tag", "description"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.add(key, options.wrong_type(key, "string", body[key]))
    flag = body.get("ignore_failure", False)
    if not isinstance(flag, bool):
        message = options.wrong_type("ignore_failure", "boolean", flag)
        problems.add("ignore_failure", message)
        flag = False
    return {"tag": body.get("tag"), "description": body.get("description"), "ignore_failure": flag}


def _parse_weights(value: Any, path: str, problems: _Problems) -> Weights:
    """``ScoreCombinationUtil.getWeights``: floats in [0, 1] whose float sum is 1 +- 0.01."""
    if not isinstance(value, list) or any(
        isinstance(w, bool) or not isinstance(w, int | float) for w in value
    ):
        problems.add(path, WEIGHTS_NOT_NUMBERS)
        return ()
    weights = tuple(f32(w) for w in value)
    shown = "[" + ", ".join(java_float_str(w) for w in weights) + "]"
    if any(not 0.0 <= w <= 1.0 for w in weights):
        problems.add(path, WEIGHTS_RANGE.format(shown=shown))
        return ()
    total = np.float32(0.0)
    for w in weights:
        total = np.float32(total + w)
    if not abs(1.0 - float(total)) <= _WEIGHTS_TOLERANCE:
        problems.add(path, WEIGHTS_SUM.format(shown=shown))
        return ()
    return weights


def _parse_rank_constant(value: Any, path: str, problems: _Problems) -> int:
    """``NumberUtils.createInteger(String.valueOf(v))`` in [1, 10000]."""
    try:
        if value is None or isinstance(value, bool | float | list | dict):
            raise ValueError(value)  # String.valueOf gives "true", "60.0", "[..]": not integers
        number = java_decode_int(str(value))
    except ValueError:
        problems.add(path, RANK_NOT_INT)
        return DEFAULT_RANK_CONSTANT
    if not 1 <= number <= 10_000:
        problems.add(path, RANK_RANGE.format(value=number))
    return number


def _combination(comb: JSONObject, default: str, problems: _Problems) -> tuple[str, Weights]:
    """The combination technique and its weights (``parameters.weights``)."""
    technique = _string(comb, "technique", default, "combination.technique", problems)
    if technique not in COMBINATIONS:
        problems.add("combination.technique", BAD_COMBINATION)
        return technique, ()
    params = _map(comb, "parameters", "combination.parameters", problems)
    if any(k != "weights" for k in params):
        problems.add("combination.parameters", BAD_COMBINATION_PARAMS)
        return technique, ()
    if "weights" not in params:
        return technique, ()
    return technique, _parse_weights(params["weights"], "combination.parameters.weights", problems)


def _normalization_params(
    norm: JSONObject, technique: str, problems: _Problems
) -> tuple[int, Bounds | None, Bounds | None]:
    """The rank constant of an ``rrf`` normalization, the bounds of a ``min_max`` one."""
    params = _map(norm, "parameters", "normalization.parameters", problems)
    if technique == "rrf" and set(params) <= {"rank_constant"}:
        value = params.get("rank_constant", DEFAULT_RANK_CONSTANT)
        rank = _parse_rank_constant(value, "normalization.parameters.rank_constant", problems)
        return rank, None, None
    if technique == "min_max" and params:
        try:
            lower, upper = parse_bounds(params)
        except ValueError as exc:
            problems.add("normalization.parameters", str(exc))
            return DEFAULT_RANK_CONSTANT, None, None
        return DEFAULT_RANK_CONSTANT, lower, upper
    if params:
        problems.add("normalization.parameters", BAD_NORMALIZATION_PARAMS)
    return DEFAULT_RANK_CONSTANT, None, None


@dataclass(frozen=True)
class NormalizationConfig:
    """``normalization-processor``: a normalization technique, then a weighted combination.

    ``rank_constant`` is used only by the (rarely used) ``rrf`` normalization technique,
    ``lower_bounds`` / ``upper_bounds`` (one per sub-query) only by ``min_max``.

    Example:
        >>> NormalizationConfig.from_body({}).technique
        'min_max'
    """

    technique: str = "min_max"
    combination: str = "arithmetic_mean"
    weights: Weights = ()
    rank_constant: int = DEFAULT_RANK_CONSTANT
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False
    lower_bounds: Bounds | None = None
    upper_bounds: Bounds | None = None
    type_name: ClassVar[str] = "normalization-processor"

    @classmethod
    def from_body(cls, body: JSONObject) -> NormalizationConfig:
        """Parse and validate the processor body (every problem reported at once)."""
        problems = _Problems(cls.type_name)
        generic = _generic(body, ("normalization", "combination", *GENERIC_KEYS), problems)
        norm = _map(body, "normalization", "normalization", problems)
        _unknown_keys(norm, ("technique", "parameters"), "normalization", problems)
        technique = _string(norm, "technique", "min_max", "normalization.technique", problems)
        rank_constant, lower, upper = DEFAULT_RANK_CONSTANT, None, None
        if technique not in NORMALIZATIONS:
            problems.add("normalization.technique", BAD_NORMALIZATION)
        else:
            rank_constant, lower, upper = _normalization_params(norm, technique, problems)
        comb = _map(body, "combination", "combination", problems)
        _unknown_keys(comb, ("technique", "parameters"), "combination", problems)
        combination, weights = _combination(comb, "arithmetic_mean", problems)
        if technique == "z_score" and combination in COMBINATIONS[1:]:
            message = Z_SCORE_ONLY_ARITHMETIC.format(combination=combination)
            problems.add("combination.technique", message)
        problems.raise_if_any()
        return cls(technique, combination, weights, rank_constant, **generic,
                   lower_bounds=lower, upper_bounds=upper)  # fmt: skip


@dataclass(frozen=True)
class RRFConfig:
    """``score-ranker-processor``: reciprocal rank fusion, ``1 / (rank_constant + rank)``.

    The plugin accepts any combination technique here (``rrf``, the default, sums).

    Example:
        >>> cfg = RRFConfig.from_body({"combination": {"technique": "rrf"}})
        >>> cfg.technique, cfg.combination, cfg.rank_constant
        ('rrf', 'rrf', 60)
    """

    rank_constant: int = DEFAULT_RANK_CONSTANT
    weights: Weights = ()
    combination: str = "rrf"
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False
    technique: ClassVar[str] = "rrf"
    type_name: ClassVar[str] = "score-ranker-processor"

    @classmethod
    def from_body(cls, body: JSONObject) -> RRFConfig:
        """Parse and validate the processor body (every problem reported at once)."""
        problems = _Problems(cls.type_name)
        generic = _generic(body, ("combination", *GENERIC_KEYS), problems)
        comb = dict(_map(body, "combination", "combination", problems))
        _unknown_keys(comb, ("technique", "rank_constant", "parameters"), "combination", problems)
        # 3.x reads only combination.rank_constant (2.19 read combination.parameters'); a
        # rank_constant among the parameters is refused as an unsupported parameter.
        rank_value = comb.get("rank_constant", DEFAULT_RANK_CONSTANT)
        rank_constant = _parse_rank_constant(rank_value, "combination.rank_constant", problems)
        combination, weights = _combination(comb, "rrf", problems)
        problems.raise_if_any()
        return cls(rank_constant, weights, combination, **generic)


FusionConfig = NormalizationConfig | RRFConfig


register_processor(
    Kind.SEARCH_PHASE_RESULTS, "normalization-processor", parse=NormalizationConfig.from_body
)
register_processor(Kind.SEARCH_PHASE_RESULTS, "score-ranker-processor", parse=RRFConfig.from_body)
