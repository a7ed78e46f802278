"""Checkpoints of a bulk run: how many input records are settled, for ``--resume``.

A record is *settled* when the node acknowledged it, or it went to the dead-letter file, or
the pipeline dropped it or found it unchanged. Batches settle in input order, so one number
(``settled``) says where to resume; the dead-letter file's size at that moment is kept too and
the file is cut back to it on resume, so no failure is reported twice. Documents after the
checkpoint may already be in the index: they are written again under the same id (their ids are
stable), which leaves one copy of each.

A checkpoint is found by the run's identity (index, input paths, pipeline fingerprint, id rule)
and also records each input file's size and content digest: resuming after an input was edited
(even to the same size, with its mtime put back) is refused with the file named, since the
record numbers would no longer point at the same documents.

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

VERSION = 2


@dataclass
class Checkpoint:
    """Progress of one run: records settled, dead-letter bytes, counts so far."""

    key: str
    inputs: list[list[Any]] = field(default_factory=list)
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
    def load(cls, path: Path, key: str, inputs: list[list[Any]] | None = None) -> Checkpoint | None:
        """The checkpoint at ``path`` for this run, None when there is none.

        Raises:
            CheckpointError: unreadable, written by a run over other inputs, or an input file
                changed since (``inputs`` as :func:`input_state` gives them).
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
        if inputs is not None and found.inputs != inputs:
            before = {str(entry[0]): entry for entry in found.inputs}
            changed = [str(e[0]) for e in inputs if before.get(str(e[0])) != e] or ["?"]
            raise CheckpointError(
                f"cannot resume: {', '.join(changed)} changed since the interrupted run (size "
                "or content), so its checkpoint no longer points at the same documents; run "
                "again without --resume (ids are stable: documents already indexed are "
                "replaced, not duplicated)"
            )
        return found


def run_key(
    index: str, paths: list[Path], pipeline_fingerprint: str, id_field: str | None = None
) -> str:
    """Identity of a run: index, input paths, pipeline fingerprint and id rule."""
    parts: list[Any] = [index, pipeline_fingerprint, id_field]
    parts.extend("-" if str(p) == "-" else os.path.abspath(p) for p in paths)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def input_state(paths: list[Path]) -> list[list[Any]]:
    """``[path, size, content digest]`` of each input (stdin: ``["-", None, None]``)."""
    state: list[list[Any]] = []
    for path in paths:
        if str(path) == "-":
            state.append(["-", None, None])
            continue
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
        state.append([os.path.abspath(path), path.stat().st_size, digest])
    return state


def default_checkpoint_path(home: Path, key: str) -> Path:
    """``<home>/checkpoints/<key>.json``."""
    return home / "checkpoints" / f"{key}.json"
