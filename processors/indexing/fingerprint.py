"""How an index's vectors were made, recorded in its ``_meta`` and checked before writing.

The fingerprint of an ingest pipeline lists, for each neuralpipe step, the model (id, artifact
hash, format, pooling, normalisation, prefixes, max length, truncation mode) and the options
that change its output (field_map, pruning, chunking). Its digest goes to
``_meta.neuralpipe.fingerprint`` of the index. Writing with another fingerprint would mix
vectors from different models or settings in one field, so it is refused unless forced.

Example:
    >>> fp = pipeline_fingerprint(None, describe=None)
    >>> fp["steps"], len(fp["digest"])
    ([], 16)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from processors.config.ingest_body import IngestPipelineSpec
from processors.errors import FingerprintMismatchError
from processors.models.registration import ModelRegistration

JSONObject = dict[str, Any]
Describe = Callable[[str], ModelRegistration]
IGNORED_KEYS = ("tag", "description", "ignore_failure", "on_failure", "batch_size", "if")


def _model_facts(reg: ModelRegistration, truncation: str) -> JSONObject:
    cfg = reg.model_config_
    return {
        "hash": reg.model_content_hash_value,
        "format": reg.model_format.value if reg.model_format else None,
        "function": reg.function_name.value,
        "pooling_mode": cfg.pooling_mode.value if cfg and cfg.pooling_mode else None,
        "normalize_result": cfg.normalize_result if cfg else None,
        "query_prefix": cfg.query_prefix if cfg else None,
        "passage_prefix": cfg.passage_prefix if cfg else None,
        "max_length": cfg.model_max_length if cfg else None,
        "truncation": truncation,
    }


def pipeline_fingerprint(
    spec: IngestPipelineSpec | None, *, describe: Describe | None, truncation: str = "warn"
) -> JSONObject:
    """``{"pipeline", "steps", "digest"}`` for a pipeline (or for indexing without one)."""
    steps: list[JSONObject] = []
    for step in spec.steps if spec else ():
        if step.runs_on_node:
            continue
        entry: JSONObject = {"processor": step.type_name}
        entry.update({k: v for k, v in step.body.items() if k not in IGNORED_KEYS})
        model_id = step.body.get("model_id")
        if isinstance(model_id, str) and describe is not None:
            entry["model"] = _model_facts(describe(model_id), truncation)
        steps.append(entry)
    canonical = json.dumps(steps, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return {"pipeline": spec.pipeline_id if spec else None, "steps": steps, "digest": digest}


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out.extend(_differences(old.get(key), new.get(key), f"{path}.{key}" if path else key))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in _differences(a, b, f"{path}[{i}]")]  # fmt: skip
    return [] if old == new else [f"{path}: index has {old!r}, pipeline gives {new!r}"]


def check_index_fingerprint(
    client: Any, index: str, fingerprint: JSONObject, *, force: bool
) -> str:
    """Compare with the index's recorded fingerprint; record it when absent (or forced).

    Returns:
        ``"recorded"``, ``"matched"``, ``"forced"`` or ``"no-index"`` (nothing to compare yet).

    Raises:
        FingerprintMismatchError: naming each difference, unless ``force``.
    """
    if not client.indices.exists(index=index):
        return "no-index"
    mapping = client.indices.get_mapping(index=index)
    meta = next(iter(mapping.values()))["mappings"].get("_meta") or {}
    ours = meta.get("neuralpipe") or {}
    recorded = ours.get("fingerprint")
    if recorded is not None and recorded.get("digest") == fingerprint["digest"]:
        return "matched"
    if recorded is not None and not force:
        diffs = _differences(recorded.get("steps"), fingerprint["steps"], "steps") or [
            f"pipeline {recorded.get('pipeline')!r} vs {fingerprint['pipeline']!r}"
        ]
        raise FingerprintMismatchError(
            f"index {index!r} holds vectors made another way than pipeline "
            f"{fingerprint['pipeline']!r} makes them: "
            + "; ".join(diffs[:8])
            + ". Write to a new index, or pass --force to overwrite the record."
        )
    new_meta = {**meta, "neuralpipe": {**ours, "fingerprint": fingerprint}}
    client.indices.put_mapping(index=index, body={"_meta": new_meta})
    return "forced" if recorded is not None else "recorded"
