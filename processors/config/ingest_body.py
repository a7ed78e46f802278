"""Load ``pipelines/ingest/<id>.yaml`` (the body of ``PUT _ingest/pipeline/<id>``); check it all.

Every problem is collected with its path (``<id>.processors[1].sparse_encoding.prune_ratio``) and
reported at once in one :class:`~processors.errors.ConfigError`. Our processors are parsed with
their own option rules; OpenSearch core processors are kept as they are, to be run by the node.

Example:
    >>> spec = load_ingest_pipeline(Path("pipelines/ingest/demo-embed.yaml"))  # doctest: +SKIP
    >>> [step.type_name for step in spec.steps]                                # doctest: +SKIP
    ['text_embedding', 'set']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.bodies import read_body as read_body
from processors.errors import ConfigError, configuration_error_type
from processors.registry import (
    Kind,
    is_registered,
    load_builtin,
    parse_options,
    processor_type,
    suggest,
)
from processors.registry import registered as registered_processors

JSONObject = dict[str, Any]
StepConfig = Any
"""The parsed options of one of our processors (what its registered parser returns)."""

NOT_YET: tuple[str, ...] = ()
"""Neural-search processors known but not emulated yet (refused with a clear error)."""
CORE = tuple(
    "append bytes community_id convert copy csv date date_index_name dissect dot_expander drop "
    "fail fingerprint foreach grok gsub html_strip join json kv lowercase pipeline remove "
    "remove_by_pattern rename script set sort split trim uppercase urldecode uri_parts".split()
)
"""Core processors of the node's ingest-common module: run by the node, never re-implemented."""

BODY_KEYS = ("description", "processors", "on_failure", "version", "_meta")


@dataclass(frozen=True)
class Step:
    """One processor entry: ours (with parsed options) or a core one (kept verbatim)."""

    type_name: str
    body: JSONObject
    config: StepConfig | None

    @property
    def runs_on_node(self) -> bool:
        return self.config is None


@dataclass(frozen=True)
class IngestPipelineSpec:
    """A validated ingest pipeline body."""

    pipeline_id: str
    description: str | None
    steps: tuple[Step, ...]
    body: JSONObject


def load_ingest_pipeline(path: Path) -> IngestPipelineSpec:
    """Read and validate one pipeline file; its id is the file stem."""
    return parse_ingest_pipeline(path.stem, read_body(path), source=str(path))


def parse_ingest_pipeline(pipeline_id: str, body: Any, source: str = "") -> IngestPipelineSpec:
    """Validate a body; raise one ConfigError listing every problem with its path."""
    errors: list[str] = []
    where = pipeline_id
    if not isinstance(body, dict):
        raise ConfigError(f"{source or where}: an ingest pipeline body must be an object")
    for key in body:
        if key not in BODY_KEYS:
            errors.append(f"{where}.{key}: unknown key.{suggest(key, list(BODY_KEYS))}")
    processors = body.get("processors")
    steps: list[Step] = []
    if not isinstance(processors, list) or not processors:
        errors.append(f"{where}.processors: required, a non-empty list of processors")
        processors = []
    for index, entry in enumerate(processors):
        step = _parse_entry(entry, f"{where}.processors[{index}]", errors)
        if step:
            steps.append(step)
    for index, entry in enumerate(body.get("on_failure") or []):
        _parse_entry(entry, f"{where}.on_failure[{index}]", errors)
    if body.get("on_failure") and any(not step.runs_on_node for step in steps):
        errors.append(
            f"{where}.on_failure: a pipeline-level on_failure is only supported when every "
            "processor is a core one (not emulated around neuralpipe's processors); put "
            "on_failure or ignore_failure on each processor instead"
        )
    if errors:
        numbered = "\n".join(f"  {n}. {e}" for n, e in enumerate(errors, 1))
        raise ConfigError(
            f"{source or where}: {len(errors)} error(s)\n{numbered}",
            configuration_error_type(errors[0].split(": ", 1)[-1]),
            reason=errors[0].split(": ", 1)[-1],
        )
    return IngestPipelineSpec(pipeline_id, body.get("description"), tuple(steps), body)


def _parse_entry(entry: Any, path: str, errors: list[str]) -> Step | None:
    if not isinstance(entry, dict) or len(entry) != 1:
        errors.append(
            f"{path}: a processor entry is a map with exactly one key (the processor type)"
        )
        return None
    ((type_name, options),) = entry.items()
    options = options if options is not None else {}
    load_builtin()
    if is_registered(Kind.INGEST, type_name):
        return _parse_ours(type_name, options, f"{path}.{type_name}", errors)
    ours = registered_processors(Kind.INGEST)
    if type_name in NOT_YET:
        errors.append(
            f"{path}.{type_name}: not emulated yet by neuralpipe (supported: {', '.join(ours)})"
        )
        return None
    if type_name in CORE:
        return Step(type_name, options, None)
    candidates = [*ours, *NOT_YET, *CORE]
    errors.append(  # the node's words (a parse_exception), then our suggestion
        f"{path}: No processor type exists with name [{type_name}].{suggest(type_name, candidates)}"
    )
    return None


def _parse_ours(type_name: str, options: Any, path: str, errors: list[str]) -> Step | None:
    if isinstance(options, dict) and "if" in options:
        errors.append(f"{path}.if: a Painless condition on a neuralpipe processor is not emulated")
        options = {k: v for k, v in options.items() if k != "if"}
    before = len(errors)
    config = parse_options(processor_type(Kind.INGEST, type_name), options, path, errors)
    if len(errors) > before:
        return None
    return Step(type_name, options, config)
