"""Ray's readers over the input files, cut into blocks of about one actor call each.

Ray reads a file in one task and splits its output into ``override_num_blocks`` blocks; left to
itself it makes about ``2 x CPUs`` blocks, so a 3,000-line file became four blocks of 750 rows:
an actor got a whole block per call, one actor could end a block behind the other, and the
last block's bulk request came after every model call. :func:`planned_blocks` estimates the
rows (files' sizes, uncompressed for ``.gz``, over the mean size of the first lines; Parquet:
its metadata) and asks for
blocks of about ``rows_per_block`` rows.

Example:
    >>> planned_blocks([], 256, floor=4)
    4
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

from processors.errors import ConfigError
from processors.indexing.sources import input_format

MAX_BLOCKS = 4096  # past this a block is large enough that balancing does not need more
SAMPLE_BYTES = 1 << 16


def read_dataset(paths: list[Path], *, rows_per_block: int = 256, floor: int = 4) -> Any:
    """A Ray dataset over the input files with Ray's readers (one format per run).

    JSONL (``.jsonl``/``.json``/``.ndjson``, ``.gz`` too): ``read_text`` (one row per line,
    with its path); ``.csv``: ``read_csv``; ``.parquet``: ``read_parquet``. Read tasks ask Ray
    for no CPU (they are I/O; a read waiting for a CPU the actors hold would stall the run).
    """
    import ray.data

    kinds = {input_format(p) for p in paths}
    if len(kinds) != 1:
        raise ConfigError(
            f"--ray reads one format per run; got {', '.join(sorted(kinds))} "
            f"({', '.join(str(p) for p in paths)})"
        )
    kind = kinds.pop()
    names = [str(p) for p in paths]
    if "-" in names:
        raise ConfigError("--ray reads files (Ray's readers run on the cluster), not stdin (-)")
    blocks = planned_blocks(paths, rows_per_block, floor=floor)
    if kind == "csv":
        return ray.data.read_csv(names, num_cpus=0, override_num_blocks=blocks)
    if kind == "parquet":
        return ray.data.read_parquet(names, num_cpus=0, override_num_blocks=blocks)
    return ray.data.read_text(
        names, include_paths=True, drop_empty_lines=True, num_cpus=0, override_num_blocks=blocks
    )


def planned_blocks(paths: list[Path], rows_per_block: int, *, floor: int) -> int:
    """Blocks of about ``rows_per_block`` rows for ``paths`` (at least ``floor``, at most
    :data:`MAX_BLOCKS`); ``floor`` when a file cannot be measured."""
    try:
        rows = sum(_estimated_rows(p) for p in paths)
    except OSError:
        return floor
    return max(floor, min(MAX_BLOCKS, math.ceil(rows / max(1, rows_per_block))))


def _estimated_rows(path: Path) -> float:
    if input_format(path) == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        return float(pq.read_metadata(path).num_rows)
    with path.open("rb") as raw:
        if path.name.endswith(".gz"):
            head = gzip.GzipFile(fileobj=raw).read(SAMPLE_BYTES)
            raw.seek(-4, 2)  # the trailer's ISIZE: the uncompressed size (mod 2**32)
            size = int.from_bytes(raw.read(4), "little")
        else:
            head = raw.read(SAMPLE_BYTES)
            size = path.stat().st_size
    return size * head.count(b"\n") / max(1, len(head))
