"""``explain=true`` on a ``hybrid`` search, with and without ``hybrid_score_explanation`` (3.x).

Each hit's ``_explanation`` is built from its sub-queries' own explanations (the node's, taken
from the sub-query searches, or from ``_explain`` where the sub-query did not return the hit):

* without the response processor, the hybrid query's shard-level explanation
  (``HybridQueryWeight.explain``): ``"combined score of:"`` with the largest sub-query score and
  every sub-query's explanation;
* with it (``ExplanationResponseProcessor``): the combined score, described by the combination
  (``"arithmetic_mean, weights [0.3, 0.7] combination of:"``, `` [filtered by min_score: 0.5000]``
  when ``min_score`` is set), over one detail per sub-query that matched the hit: its normalized
  score, described by the normalization (``"min_max normalization of:"``), over the sub-query's
  explanation.

Example:
    >>> from processors.search.fusion_config import NormalizationConfig
    >>> weights = {"parameters": {"weights": [0.3, 0.7]}}
    >>> cfg = NormalizationConfig.from_body({"combination": weights})
    >>> describe_normalization(cfg), describe_combination(cfg, None)
    ('min_max normalization of:', 'arithmetic_mean, weights [0.3, 0.7] combination of:')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from processors.compat.floats import java_float_str, json_score
from processors.registry import Kind, register_processor
from processors.search.fusion_config import FusionConfig, RRFConfig
from processors.search.minmax_bounds import Bounds

JSONObject = dict[str, Any]
TYPE_NAME = "hybrid_score_explanation"


def _bounds_text(label: str, bounds: Bounds | None) -> str:
    if bounds is None:
        return ""
    shown = ", ".join(f"({b.mode}, {b.shown})" for b in bounds)
    return f", {label} bounds [{shown}]"


def describe_normalization(config: FusionConfig) -> str:
    """``<technique.describe()> normalization of:``."""
    if config.technique == "rrf":
        text = f"rrf, rank_constant [{config.rank_constant}]"
    else:
        text = config.technique
        if not isinstance(config, RRFConfig) and config.technique == "min_max":
            text += _bounds_text("lower", config.lower_bounds)
            text += _bounds_text("upper", config.upper_bounds)
    return f"{text} normalization of:"


def describe_combination(config: FusionConfig, min_score: float | None) -> str:
    """``<technique.describe()> combination of[ [filtered by min_score: x]]:``."""
    text = config.combination
    if config.weights and config.combination != "rrf":  # RRF describes itself without weights
        text += ", weights [" + ", ".join(java_float_str(w) for w in config.weights) + "]"
    if min_score is not None:
        text += f" [filtered by min_score: {min_score:.4f}]"
    return f"{text} combination of:"


def _value(explanation: JSONObject) -> float:
    value = explanation.get("value", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def raw_explanation(subs: Sequence[JSONObject]) -> JSONObject:
    """``HybridQueryWeight.explain``: the best sub-query score over every sub-query's details."""
    matched = [s for s in subs if s.get("match", _value(s) > 0.0)]
    if not matched:
        return {"value": 0.0, "description": "no matching clause", "details": list(subs)}
    top = max(_value(s) for s in matched)
    return {"value": top, "description": "combined score of:", "details": list(subs)}


def processor_explanation(
    score: float,
    subs: Sequence[JSONObject],
    normalized: Sequence[float | None],
    config: FusionConfig,
    min_score: float | None,
) -> JSONObject:
    """What ``hybrid_score_explanation`` makes of one hit's explanation."""
    description = describe_normalization(config)
    details = [
        {
            "value": json_score(0.0 if norm is None else norm),
            "description": description,
            "details": [sub],
        }
        for sub, norm in zip(subs, normalized, strict=True)
        if _value(sub) > 0.0
    ]
    return {
        "value": json_score(score),
        "description": describe_combination(config, min_score),
        "details": details,
    }


class HybridScoreExplanationConfig:
    """The ``hybrid_score_explanation`` response processor: no options but the common ones.

    Example:
        >>> HybridScoreExplanationConfig.from_body({"tag": "t"}).tag
        't'
    """

    type_name = TYPE_NAME

    def __init__(self, tag: str | None = None, description: str | None = None,
                 ignore_failure: bool = False) -> None:  # fmt: skip
        self.tag, self.description, self.ignore_failure = tag, description, ignore_failure

    @classmethod
    def from_body(cls, body: JSONObject) -> HybridScoreExplanationConfig:
        """Refuses what the node's pipeline service refuses (unknown keys, wrong types)."""
        from processors.errors import InvalidProcessorConfigError

        unknown = [k for k in body if k not in ("tag", "description", "ignore_failure")]
        if unknown:
            message = (
                f"processor [{TYPE_NAME}] doesn't support one or more provided configuration "
                f"parameters [{', '.join(unknown)}]"
            )
            raise InvalidProcessorConfigError(message, [(unknown[0], message)])
        flag = body.get("ignore_failure", False)
        return cls(body.get("tag"), body.get("description"), flag is True)


register_processor(Kind.SEARCH_RESPONSE, TYPE_NAME, parse=HybridScoreExplanationConfig.from_body)
