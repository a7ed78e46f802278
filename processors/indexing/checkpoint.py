"""Checkpoints of a bulk run: how many input records are settled, for ``--resume``.

A record is *settled* when the node acknowledged it, or it went to the dead-letter file, or
the pipeline dropped it or found it unchanged. Batches settle in input order, so one number
(``settled``) says where to resume; the dead-letter file's size at that moment is kept too and
the file is cut back to it on resume, so no failure is reported twice. Documents after the
checkpoint may already be in the index: they are written again under the same id (their ids are
stable), which leaves one copy of each.

The file is replaced atomically (write, fsync, rename), so a crash at any instant leaves either
the previous or the next checkpoint.

Example:
    >>> cp = Checkpoint(key="k")
    >>> cp.settled
    0
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from processors.errors import CheckpointError

VERSION = 1


@dataclass
class Checkpoint:
    """Progress of one run: records settled, dead-letter bytes, counts so far."""

    key: str
    settled: int = 0
    dead_letter_bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    def save(self, path: Path) -> None:
        """Write atomically next to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump({"version": VERSION, **asdict(self)}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, key: str) -> Checkpoint | None:
        """The checkpoint at ``path`` for this run, None when there is none.

        Raises:
            CheckpointError: unreadable, or written by a run over other inputs.
        """
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("version", None)
            found = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {path} is unreadable: {exc}") from exc
        if found.key != key:
            raise CheckpointError(
                f"checkpoint {path} belongs to another run (other files, index or pipeline); "
                "start without --resume or pass --checkpoint with another path"
            )
        return found


def run_key(index: str, paths: list[Path], pipeline_fingerprint: str) -> str:
    """Identity of a run: index, input files (path, size, mtime) and pipeline fingerprint."""
    parts: list[Any] = [index, pipeline_fingerprint]
    for path in paths:
        if str(path) == "-":
            parts.append("-")
            continue
        stat = path.stat()
        parts.append([os.path.abspath(path), stat.st_size, int(stat.st_mtime)])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def default_checkpoint_path(home: Path, key: str) -> Path:
    """``<home>/checkpoints/<key>.json``."""
    return home / "checkpoints" / f"{key}.json"
