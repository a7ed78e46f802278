"""Comparators for the differential check, and its table.

Example:
    >>> compare_json({"v": [0.1, 0.2]}, {"v": [0.1, 0.20001]})
    []
    >>> compare_json({"a": 1}, {"a": 1, "b": 2})
    [".: keys ['a'] vs ['a', 'b']"]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 1e-4
MIN_COSINE = 0.9999


@dataclass
class Case:
    """One input run on both sides; ``differences`` empty when they agree.

    ``known`` explains an expected difference (plugin bug not copied, version difference,
    neuralpipe bug); it is printed with the difference, never hides it.
    """

    category: str
    name: str
    differences: list[str] = field(default_factory=list)
    known: str = ""

    @property
    def identical(self) -> bool:
        return not self.differences


def compare_json(ref: Any, ours: Any, path: str = "", tol: float = TOLERANCE) -> list[str]:
    """Structural diff: same keys (order ignored), same types, numbers within ``tol``;
    vectors (lists of numbers) also by cosine >= 0.9999. ``_ingest.timestamp`` is ignored."""
    if path.endswith("_ingest.timestamp"):
        return []
    if isinstance(ref, dict) and isinstance(ours, dict):
        out = []
        if ref.keys() != ours.keys():
            out.append(f"{path or '.'}: keys {sorted(ref)} vs {sorted(ours)}")
        for key in sorted(ref.keys() & ours.keys()):
            out += compare_json(ref[key], ours[key], f"{path}.{key}", tol)
        return out
    if isinstance(ref, list) and isinstance(ours, list):
        if len(ref) != len(ours):
            return [f"{path}: length {len(ref)} vs {len(ours)}"]
        if ref and all(_number(x) for x in ref + ours):
            return compare_vectors(ref, ours, path, tol)
        out = []
        for i, (a, b) in enumerate(zip(ref, ours, strict=True)):
            out += compare_json(a, b, f"{path}[{i}]", tol)
        return out
    if _number(ref) and _number(ours):
        return [] if abs(ref - ours) <= tol else [f"{path}: {ref} vs {ours}"]
    if ref == ours:
        return []
    return [f"{path}: {json.dumps(ref)[:160]} vs {json.dumps(ours)[:160]}"]


def _number(value: Any) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


def compare_vectors(a: list[float], b: list[float], path: str, tol: float = TOLERANCE) -> list[str]:
    """Empty when cosine >= 0.9999 and every component within ``tol``."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    cos = dot / (na * nb) if na and nb else float(na == nb)
    worst = max(abs(x - y) for x, y in zip(a, b, strict=True))
    if cos < MIN_COSINE or worst > tol:
        return [f"{path}: cosine {cos:.6f}, max |diff| {worst:.2e}"]
    return []


def compare_hits(ref: dict[str, Any], ours: dict[str, Any], tol: float = TOLERANCE) -> list[str]:
    """Same total, same hit order (ids), scores and ``_source`` within ``tol``, same max_score."""
    out: list[str] = []
    r_hits, o_hits = ref["hits"]["hits"], ours["hits"]["hits"]
    r_ids, o_ids = [h["_id"] for h in r_hits], [h["_id"] for h in o_hits]
    if r_ids != o_ids:
        out.append(f"hit order {r_ids} vs {o_ids}")
    r_total, o_total = ref["hits"].get("total"), ours["hits"].get("total")
    if r_total != o_total:
        out.append(f"hits.total {r_total} vs {o_total}")
    out += compare_json(ref["hits"].get("max_score"), ours["hits"].get("max_score"), "max_score")
    for i, (a, b) in enumerate(zip(r_hits, o_hits, strict=False)):
        if a["_id"] != b["_id"]:
            continue
        out += compare_json(a.get("_score"), b.get("_score"), f"hits[{i}]._score", tol)
        out += compare_json(a.get("_source"), b.get("_source"), f"hits[{i}]._source", tol)
    return out


PATH_PREFIX = re.compile(r"^(?:\S+: )?\d+ error\(s\)\s*\n\s*1\.\s+[^:]*:\s*", re.S)


def core_reason(reason: str) -> str:
    """neuralpipe's config errors list every problem with its path
    (``x: 1 error(s)\\n  1. x.processors[0].text_embedding.field_map: <message>``); the
    plugin's is ``<message>``. The message of the first problem, for comparing reasons.

    >>> core_reason("p: 1 error(s)\\n  1. p.processors[0].x.field_map: bad value")
    'bad value'
    """
    return PATH_PREFIX.sub("", reason, count=1).strip()


JAVA_SET = re.compile(r"(Supported [a-z ]+ are |It should be one of )\[([^\]]*)\]")


def unordered_sets(reason: str) -> str:
    """``reason`` with the items of a printed Java ``Set.of`` sorted: its iteration order is
    salted per JVM, so the plugin prints ``Supported tokenizers are [...]`` in an order that
    changes from run to run.

    >>> unordered_sets("Supported tokenizers are [thai, letter, classic]")
    'Supported tokenizers are [classic, letter, thai]'
    """
    return JAVA_SET.sub(lambda m: f"{m[1]}[{', '.join(sorted(m[2].split(', ')))}]", reason)


def compare_errors(
    ref: tuple[int, str, str], ours: tuple[int, str, str], *, reason: bool = True
) -> list[str]:
    """``(status, error.type, reason)`` on both sides; reasons after :func:`core_reason`,
    printed Java sets compared as sets (:func:`unordered_sets`)."""
    out = []
    if ref[0] != ours[0]:
        out.append(f"status {ref[0]} vs {ours[0]}")
    if ref[1] != ours[1]:
        out.append(f"error.type {ref[1]!r} vs {ours[1]!r}")
    mine = core_reason(ours[2])
    if reason and unordered_sets(ref[2]) != unordered_sets(mine):
        out.append(f"reason {ref[2][:200]!r} vs {mine[:200]!r}")
    return out


def table(cases: Iterable[Case], first: int = 3) -> str:
    """Per category: cases, identical, different, with the first differences of each."""
    cases = list(cases)
    categories: dict[str, list[Case]] = {}
    for case in cases:
        categories.setdefault(case.category, []).append(case)
    lines = [f"{'category':<10} {'cases':>5} {'identical':>9} {'different':>9}"]
    for name, group in categories.items():
        same = sum(c.identical for c in group)
        lines.append(f"{name:<10} {len(group):>5} {same:>9} {len(group) - same:>9}")
    same = sum(c.identical for c in cases)
    lines.append(f"{'total':<10} {len(cases):>5} {same:>9} {len(cases) - same:>9}")
    different = [c for c in cases if not c.identical]
    if different:
        lines.append("\ndifferences:")
    for case in different:
        lines.append(f"- [{case.category}] {case.name}")
        lines += [f"    {d}" for d in case.differences[:first]]
        if len(case.differences) > first:
            lines.append(f"    ... {len(case.differences) - first} more")
        lines.append(f"    known: {case.known}" if case.known else "    known: NO (unexplained)")
    return "\n".join(lines)
