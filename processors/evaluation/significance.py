"""Paired significance of one way against a baseline, per measure, over the same queries.

Each judged query gives a pair (baseline value, other value); the test asks whether the mean
difference could be chance:

* ``randomization`` (default): a paired (sign-flip) permutation test of the mean difference,
  two-sided, 10,000 resamples with a fixed seed (``scipy.stats.permutation_test``); the test
  Smucker et al. (CIKM 2007) recommend for IR;
* ``ttest``: the paired Student t-test (``scipy.stats.ttest_rel``), two-sided.

Example:
    >>> base = {"q1": {"nDCG@10": 0.2}, "q2": {"nDCG@10": 0.4}, "q3": {"nDCG@10": 0.1}}
    >>> other = {"q1": {"nDCG@10": 0.2}, "q2": {"nDCG@10": 0.4}, "q3": {"nDCG@10": 0.1}}
    >>> paired(base, other, ["nDCG@10"])["nDCG@10"]
    {'delta': 0.0, 'p': 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processors.errors import ConfigError

TESTS = ("randomization", "ttest")
RESAMPLES = 10_000
SEED = 0
PerQuery = Mapping[str, Mapping[str, float]]


def p_value(
    baseline: Sequence[float], other: Sequence[float], test: str = "randomization"
) -> float:
    """Two-sided p-value of ``mean(other - baseline) != 0`` (1.0 when every pair is equal)."""
    import numpy as np
    from scipy import stats

    if test not in TESTS:
        raise ConfigError(f"unknown significance test {test!r}; known: {list(TESTS)}")
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        raise ConfigError(f"paired test needs as many values on each side ({a.size} vs {b.size})")
    if a.size < 2 or np.allclose(a, b, rtol=0.0, atol=1e-12):
        return 1.0
    if test == "ttest":
        differences = b - a
        if np.allclose(differences, differences[0], rtol=0.0, atol=1e-12):
            return 0.0  # the same non-zero gain on every query: no variance, no doubt
        return float(stats.ttest_rel(b, a).pvalue)

    def mean_difference(x: Any, y: Any, axis: int) -> Any:
        return np.mean(x - y, axis=axis)

    result = stats.permutation_test(
        (b, a), mean_difference, permutation_type="samples", vectorized=True,
        n_resamples=RESAMPLES, alternative="two-sided", rng=np.random.default_rng(SEED),
    )  # fmt: skip
    return float(result.pvalue)


def paired(
    baseline: PerQuery, other: PerQuery, measures: Sequence[str], test: str = "randomization"
) -> dict[str, dict[str, float]]:
    """``{measure: {"delta": mean(other - baseline), "p": p-value}}`` over the baseline's queries
    (a query the other way lacks scores 0 there)."""
    queries = sorted(baseline)
    out: dict[str, dict[str, float]] = {}
    for measure in measures:
        a = [baseline[q][measure] for q in queries]
        b = [other.get(q, {}).get(measure, 0.0) for q in queries]
        delta = (sum(b) - sum(a)) / len(queries) if queries else 0.0
        out[measure] = {"delta": round(delta, 6), "p": round(p_value(a, b, test), 6)}
    return out
