"""A PNG bar chart comparing ways: one group per measure, one bar per way (matplotlib, Agg).

The figure is drawn on an Agg canvas directly (no ``pyplot``), so no display and no global
backend state are involved.

Example:
    >>> scores = {"bm25": {"nDCG@10": 0.4}, "neural": {"nDCG@10": 0.5}}
    >>> write_chart(scores, Path("eval.png"), title="cranfield")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_chart(scores: Mapping[str, Mapping[str, float]], path: Path, *, title: str = "") -> Path:
    """Write ``{way: {measure: value}}`` as a grouped bar chart to ``path`` (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ways = list(scores)
    measures = list(dict.fromkeys(m for values in scores.values() for m in values))
    width = 0.8 / max(len(ways), 1)
    figure = Figure(figsize=(max(6.0, 1.6 * len(measures) * max(len(ways), 1) / 2), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for number, way in enumerate(ways):
        offsets = [m + (number - (len(ways) - 1) / 2) * width for m in range(len(measures))]
        values = [scores[way].get(measure, 0.0) for measure in measures]
        bars = axes.bar(offsets, values, width, label=way)
        axes.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=7, padding=2)
    axes.set_xticks(range(len(measures)), measures)
    highest = max((v for values in scores.values() for v in values.values()), default=0.0)
    axes.set_ylim(0, min(1.1, highest * 1.15) if highest > 0 else 1.0)
    axes.set_ylabel("score")
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path
