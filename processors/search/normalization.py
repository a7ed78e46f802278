"""Hybrid score fusion with the plugin's exact float arithmetic (reference §9.3, §9.4).

Input is what each shard's hybrid collector holds: per sub-query, its top hits in score order
(ties by Lucene doc id). Normalization runs per sub-query over the hits of *all* shards;
combination, ordering and truncation run per shard; shards are then merged by score (ties by
shard, as the coordinator's ``TopDocs.merge``). Every step mirrors neural-search 2.19 (``z_score``
and RRF weights as 3.x): float32 scores, ``Math.log`` / ``Math.exp`` / ``Math.sqrt`` in double then
cast, commons-math statistics for ``z_score``, ``BigDecimal`` reciprocal ranks for RRF, and the
iteration order of the plugin's ``HashMap<Integer, float[]>`` for combined-score ties.

Example:
    >>> from processors.search.fusion_config import NormalizationConfig
    >>> a = [Hit("d1", 4.0, 1), Hit("d2", 2.0, 2), Hit("d3", 1.0, 3)]
    >>> b = [Hit("d2", 10.0, 2), Hit("d3", 5.0, 3), Hit("d4", 1.0, 4)]
    >>> [(f.key, json_score(f.score)) for f in fuse([[a, b]], NormalizationConfig())]
    [('d2', 0.6666667), ('d1', 0.5), ('d3', 0.22272222), ('d4', 0.0005)]
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from processors.compat.floats import f32, java_float_compare_key, json_score, nearest_f32
from processors.errors import InvalidQueryError
from processors.search.fusion_config import FusionConfig
from processors.search.minmax_bounds import Bounds, bounded_min_max, check_count

__all__ = [
    "Fused",
    "Hit",
    "combine",
    "combine_rows",
    "fuse",
    "java_hashmap_order",
    "json_score",
    "normalize",
]

F32 = np.float32
MIN_SCORE = F32(0.001)
ONE, ZERO = F32(1.0), F32(0.0)
FLOAT_MIN_VALUE = F32(np.finfo(np.float32).smallest_subnormal)  # Java Float.MIN_VALUE
FLOAT_MAX_VALUE = F32(np.finfo(np.float32).max)
Normalized = list[list[list[np.float32]]]  # [shard][sub-query][hit]


@dataclass(frozen=True)
class Hit:
    """One hit of one sub-query on one shard: identity, raw score, Lucene doc id (ties)."""

    key: Hashable
    score: float
    doc: int = 0


ShardHits = Sequence[Sequence[Hit]]  # per sub-query, in score order


@dataclass(frozen=True)
class Fused:
    """A combined hit: its score, where it came from, and each sub-query's raw/normalized score."""

    key: Hashable
    score: np.float32
    shard: int
    doc: int
    raw: tuple[np.float32 | None, ...]
    normalized: tuple[np.float32 | None, ...]


def _per_subquery(shards: Sequence[ShardHits]) -> list[list[np.float32]]:
    """All raw scores of each sub-query, shard after shard (the plugin's accumulation order)."""
    count = max((len(s) for s in shards), default=0)
    out: list[list[np.float32]] = [[] for _ in range(count)]
    for shard in shards:
        for j, hits in enumerate(shard):
            out[j].extend(F32(h.score) for h in hits)
    return out


def _bounds(scores: list[np.float32]) -> tuple[np.float32, np.float32]:
    low = min([FLOAT_MAX_VALUE, *scores])  # Arrays.fill(MAX_VALUE) then Math.min per shard
    high = max([FLOAT_MIN_VALUE, *scores])  # Float.MIN_VALUE is the smallest *positive* float
    return low, high


def _min_max(bounds: tuple[np.float32, np.float32], score: np.float32) -> np.float32:
    low, high = bounds
    if high == low and high == score:
        return ONE
    normalized = F32((score - low) / (high - low))
    return MIN_SCORE if normalized == 0.0 else normalized


def _l2_norm(scores: list[np.float32]) -> np.float32:
    total = ZERO
    for s in scores:
        total = F32(total + F32(s * s))
    return f32(math.sqrt(float(total)))


def _commons_mean(values: list[float]) -> float:
    """``org.apache.commons.math3...Mean.evaluate``: definitional mean plus a correction pass."""
    n = float(len(values))
    total = 0.0
    for v in values:
        total += v
    xbar = total / n
    correction = 0.0
    for v in values:
        correction += v - xbar
    return xbar + correction / n


def _commons_std(values: list[float], mean: float) -> float:
    """``DescriptiveStatistics.getStandardDeviation``: bias-corrected, 0 for one value."""
    if len(values) == 1:
        return 0.0
    accum = accum2 = 0.0
    for v in values:
        dev = v - mean
        accum += dev * dev
        accum2 += dev
    n = float(len(values))
    return math.sqrt((accum - accum2 * accum2 / n) / (n - 1.0))


def _z_score(scores: list[np.float32]) -> tuple[np.float32, np.float32, np.float32, np.float32]:
    values = [float(s) for s in scores]
    mean = _commons_mean(values)
    return F32(mean), F32(_commons_std(values, mean)), F32(max(values)), F32(min(values))


@lru_cache(maxsize=4096)
def rrf_score(rank_constant: int, position: int) -> np.float32:
    """``BigDecimal.ONE.divide(k + position + 1, 10, HALF_UP).floatValue()``."""
    divisor = rank_constant + position + 1
    quotient, remainder = divmod(10**10, divisor)
    if 2 * remainder >= divisor:
        quotient += 1
    return nearest_f32(Fraction(quotient, 10**10))


def normalize(
    technique: str,
    shards: Sequence[ShardHits],
    rank_constant: int = 60,
    min_max_bounds: tuple[Bounds | None, Bounds | None] = (None, None),
) -> Normalized:
    """Normalized scores, in the shape of ``shards`` (reference §9.3); ``min_max_bounds``:
    ``(lower_bounds, upper_bounds)``, one per sub-query (3.2+)."""
    stats = _per_subquery(shards)
    lower, upper = min_max_bounds
    if technique == "min_max" and (lower is not None or upper is not None):
        for side in (lower, upper):
            for shard in shards:
                try:
                    check_count(side, len(shard))
                except ValueError as exc:
                    raise InvalidQueryError(str(exc)) from None
        return _bounded(shards, stats, lower, upper)
    out: Normalized = []
    with np.errstate(all="ignore"):  # Java float division never traps
        bounds = [_bounds(s) for s in stats] if technique == "min_max" else []
        norms = [_l2_norm(s) for s in stats] if technique == "l2" else []
        zs = [_z_score(s) if s else None for s in stats] if technique == "z_score" else []
        for shard in shards:
            rows: list[list[np.float32]] = []
            for j, hits in enumerate(shard):
                row = []
                for position, hit in enumerate(hits):
                    score = F32(hit.score)
                    if technique == "min_max":
                        row.append(_min_max(bounds[j], score))
                    elif technique == "l2":
                        row.append(ZERO if norms[j] == 0 else F32(score / norms[j]))
                    elif technique == "z_score":
                        row.append(_z_normalize(score, zs[j]))
                    else:
                        row.append(rrf_score(rank_constant, position))
                rows.append(row)
            out.append(rows)
    return out


def _bounded(
    shards: Sequence[ShardHits],
    stats: list[list[np.float32]],
    lower: Bounds | None,
    upper: Bounds | None,
) -> Normalized:
    """min_max with per-sub-query bounds (:func:`minmax_bounds.bounded_min_max`)."""
    limits = [_bounds(s) for s in stats]
    out: Normalized = []
    for shard in shards:
        rows = []
        for j, hits in enumerate(shard):
            low, high = limits[j]
            below, above = (lower[j] if lower else None), (upper[j] if upper else None)
            rows.append([bounded_min_max(F32(h.score), low, high, below, above) for h in hits])
        out.append(rows)
    return out


def _z_normalize(score: np.float32, stats: tuple[np.float32, ...] | None) -> np.float32:
    assert stats is not None  # a sub-query with hits has statistics
    mean, std, high, low = stats
    if mean == score:
        return high
    if std == 0.0:
        return low
    z = F32((score - mean) / std)
    return MIN_SCORE if z <= 0.0 else z


def combine(
    technique: str, scores: Sequence[np.float32], weights: Sequence[np.float32]
) -> np.float32:
    """One document's combined score from its per-sub-query scores (0.0 where missing, §9.4)."""
    matrix = np.asarray([scores], dtype=np.float32).reshape(1, len(scores))
    return F32(combine_rows(technique, matrix, weights)[0])


def combine_rows(
    technique: str, matrix: npt.NDArray[np.float32], weights: Sequence[np.float32]
) -> npt.NDArray[np.float32]:
    """:func:`combine` for every row of ``matrix`` (documents x sub-queries) at once.

    Element-wise float32 array operations round exactly as Java's float operations; the
    sub-queries are accumulated one after the other, as the plugin's loop does.
    """
    count = matrix.shape[1]
    if weights and len(weights) != count:
        raise InvalidQueryError(
            f"number of weights [{len(weights)}] must match number of sub-queries "
            f"[{count}] in hybrid query"
        )
    weight_of = [F32(weights[j]) if j < len(weights) else ONE for j in range(count)]
    total = np.zeros(matrix.shape[0], dtype=np.float32)
    weight_sum = np.zeros(matrix.shape[0], dtype=np.float32)
    with np.errstate(all="ignore"):  # Java float arithmetic never traps
        for j, weight in enumerate(weight_of):
            column = matrix[:, j]
            used = column >= 0.0 if technique in ("arithmetic_mean", "rrf") else column > 0.0
            weight_sum = np.where(used, weight_sum + weight, weight_sum).astype(np.float32)
            if technique in ("arithmetic_mean", "rrf"):
                step = total + (column * weight).astype(np.float32)
            elif technique == "geometric_mean":  # float += double: summed in double, then cast
                logs = np.log(np.where(used, column, ONE).astype(np.float64))
                step = (total.astype(np.float64) + float(weight) * logs).astype(np.float32)
            else:
                step = total + (weight / np.where(used, column, ONE)).astype(np.float32)
            total = np.where(used, step, total).astype(np.float32)
        if technique == "rrf":
            return np.where(weight_sum == 0.0, ZERO, total).astype(np.float32)
        if technique == "arithmetic_mean":
            return np.where(weight_sum == 0.0, ZERO, total / weight_sum).astype(np.float32)
        if technique == "geometric_mean":
            mean = (total / weight_sum).astype(np.float32).astype(np.float64)
            return np.where(weight_sum == 0.0, ZERO, np.exp(mean)).astype(np.float32)
        return np.where(total > 0.0, weight_sum / total, ZERO).astype(np.float32)


def java_hashmap_order(keys: Iterable[int]) -> list[int]:
    """Iteration order of a ``HashMap<Integer, _>`` filled by ``computeIfAbsent`` in this order.

    New keys go to the head of their bin; the table doubles when a call finds ``size >
    threshold`` (or a bin reaches 8 while the table is under 64). Tree bins are not modelled.
    """
    table: list[list[int]] = []
    size = threshold = 0
    for key in keys:
        if not table or size > threshold:
            table, threshold = _resize(table, threshold)
        spread = key ^ ((key & 0xFFFFFFFF) >> 16)
        chain = table[spread & (len(table) - 1)]
        if key in chain:
            continue
        chain.insert(0, key)
        size += 1
        if len(chain) >= 8 and len(table) < 64:  # treeifyBin on a small table resizes instead
            table, threshold = _resize(table, threshold)
    return [key for chain in table for key in chain]


def _resize(table: list[list[int]], threshold: int) -> tuple[list[list[int]], int]:
    if not table:
        return [[] for _ in range(16)], 12
    bigger: list[list[int]] = [[] for _ in range(2 * len(table))]
    for chain in table:
        for key in chain:  # split keeps relative order
            bigger[(key ^ ((key & 0xFFFFFFFF) >> 16)) & (len(bigger) - 1)].append(key)
    return bigger, 2 * threshold


def _combine_shard(
    index: int, shard: ShardHits, normalized: list[list[np.float32]], config: FusionConfig
) -> list[Fused]:
    count = len(shard)
    raw: dict[int, list[np.float32 | None]] = {}
    norm: dict[int, list[np.float32 | None]] = {}
    keys: dict[int, Hashable] = {}
    order: list[int] = []
    for j, hits in enumerate(shard):
        for hit, value in zip(hits, normalized[j], strict=True):
            order.append(hit.doc)
            if hit.doc not in raw:
                raw[hit.doc], norm[hit.doc] = [None] * count, [None] * count
                keys[hit.doc] = hit.key
            raw[hit.doc][j], norm[hit.doc][j] = F32(hit.score), value
    rows = list(norm)
    matrix = np.array([[ZERO if v is None else v for v in norm[d]] for d in rows], dtype=np.float32)
    scores = combine_rows(config.combination, matrix.reshape(len(rows), count), config.weights)
    combined = {doc: F32(score) for doc, score in zip(rows, scores, strict=True)}
    docs = java_hashmap_order(order)
    docs.sort(key=lambda d: java_float_compare_key(float(combined[d])), reverse=True)  # stable
    return [Fused(keys[d], combined[d], index, d, tuple(raw[d]), tuple(norm[d])) for d in docs]


def fuse(shards: Sequence[ShardHits], config: FusionConfig) -> list[Fused]:
    """Normalize, combine and order every collected hit (all of them; page with from/size later).

    Args:
        shards: Per shard (in the coordinator's shard order), per sub-query, the top hits in
            score order with their Lucene doc ids. One shard for a single-shard index.
        config: The normalization-processor or score-ranker-processor options.
    """
    bounds = (getattr(config, "lower_bounds", None), getattr(config, "upper_bounds", None))
    normalized = normalize(config.technique, shards, config.rank_constant, bounds)
    per_shard = [_combine_shard(i, shard, normalized[i], config) for i, shard in enumerate(shards)]

    def merge_key(f: Fused) -> tuple[tuple[int, float, float], int]:
        score_key = java_float_compare_key(float(f.score))
        return ((-score_key[0], -score_key[1], -score_key[2]), f.shard)

    return list(heapq.merge(*per_shard, key=merge_key))
