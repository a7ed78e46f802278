"""TREC run files: one line per hit, ``query-id Q0 doc-id rank score tag``.

The scores written are rank-derived (``hits - rank + 1``: the first hit highest), the same
numbers :mod:`.metrics` gives trec_eval, so any scorer (``trec_eval``, ``ir_measures``,
``ranx``) that sorts by score sees exactly the engine's order, ties included.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> write_run_lines(out, {"q1": ["d3", "d1"]}, tag="bm25")
    >>> print(out.getvalue(), end="")
    q1 Q0 d3 1 2 bm25
    q1 Q0 d1 2 1 bm25
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from processors.errors import ConfigError

Run = Mapping[str, Sequence[str]]
_SPACE = re.compile(r"\s")


def write_run_lines(handle: IO[str], run: Run, *, tag: str) -> None:
    """Write ``{query id: [doc ids, best first]}`` to ``handle`` in TREC run format."""
    for query_id, ranking in run.items():
        unique = list(dict.fromkeys(ranking))
        for rank, doc_id in enumerate(unique, start=1):
            for name, value in (("query id", query_id), ("document id", doc_id)):
                if _SPACE.search(value) or not value:
                    raise ConfigError(f"{name} {value!r} cannot be written to a TREC run file")
            handle.write(f"{query_id} Q0 {doc_id} {rank} {len(unique) - rank + 1} {tag}\n")


def write_run(path: Path, run: Run, *, tag: str) -> Path:
    """Write one TREC run file (the parent folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        write_run_lines(handle, run, tag=tag)
    return path


def read_run(path: Path) -> dict[str, list[str]]:
    """A TREC run file as ``{query id: [doc ids]}``, ordered by score (rank on ties)."""
    rows: dict[str, list[tuple[float, int, str]]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise ConfigError(f"{path}:{number}: expected 6 columns, got {line!r}")
            query_id, _, doc_id, rank, score, _ = parts
            try:
                rows.setdefault(query_id, []).append((-float(score), int(rank), doc_id))
            except ValueError:
                raise ConfigError(f"{path}:{number}: rank/score not numbers: {line!r}") from None
    return {qid: [doc for *_, doc in sorted(hits)] for qid, hits in rows.items()}
