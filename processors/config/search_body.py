"""Load ``pipelines/search/<id>.yaml`` (the body of ``PUT _search/pipeline/<id>``); check it all.

Every problem is collected with its path (``<id>.response_processors[0].rerank.model_id``) and
reported at once in one :class:`~processors.errors.ConfigError`, with did-you-mean for unknown
keys and processor types. neuralpipe's processors (``neural_query_enricher``,
``normalization-processor``, ``score-ranker-processor``, ``rerank``) are parsed with their own
rules; the core processors of the node's ``search-pipeline-common`` module are kept verbatim,
to be run by the node as an inline pipeline.

Example:
    >>> spec = parse_search_pipeline("p", {"request_processors": [
    ...     {"neural_query_enricher": {"default_model_id": "m"}},
    ...     {"filter_query": {"query": {"term": {"lang": "en"}}}}]})
    >>> [(s.type_name, s.runs_on_node) for s in spec.request]
    [('neural_query_enricher', False), ('filter_query', True)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.compat.java_text import java_class
from processors.compat.options import wrong_type
from processors.config.ingest_body import read_body
from processors.errors import (
    ConfigError,
    configuration_error_type,
)
from processors.registry import (
    Kind,
    load_builtin,
    parse_options,
    processor_type,
    registered,
    suggest,
)

JSONObject = dict[str, Any]
REQUEST, RESPONSE, PHASE = "request_processors", "response_processors", "phase_results_processors"
SECTIONS = (REQUEST, RESPONSE, PHASE)
BODY_KEYS = ("description", "version", *SECTIONS)

KINDS = {
    REQUEST: Kind.SEARCH_REQUEST,
    RESPONSE: Kind.SEARCH_RESPONSE,
    PHASE: Kind.SEARCH_PHASE_RESULTS,
}
"""Each section's processors in the registry (:mod:`processors.registry`)."""


def ours(section: str) -> list[str]:
    """The processors neuralpipe runs itself in ``section``."""
    load_builtin()
    return registered(KINDS[section])


CORE: dict[str, tuple[str, ...]] = {
    REQUEST: ("filter_query", "oversample", "script"),
    RESPONSE: ("collapse", "rename_field", "sort", "split", "truncate_hits"),
    PHASE: (),
}
"""The node's ``search-pipeline-common`` processors (2.19, ``GET _nodes/search_pipelines``)."""
NOT_EMULATED: dict[str, tuple[str, ...]] = {
    REQUEST: ("agentic_query_translator",),
    RESPONSE: (
        "retrieval_augmented_generation",
        "personalize_search_ranking",
    ),
    PHASE: (),
}


@dataclass(frozen=True)
class SearchStep:
    """One processor: ours (``config`` parsed) or a core one (``config`` None, run by the node)."""

    section: str
    type_name: str
    body: JSONObject
    config: Any

    @property
    def runs_on_node(self) -> bool:
        return self.config is None


@dataclass(frozen=True)
class SearchPipelineSpec:
    """A validated search pipeline body."""

    pipeline_id: str
    description: str | None
    request: tuple[SearchStep, ...]
    response: tuple[SearchStep, ...]
    phase_results: tuple[SearchStep, ...]
    body: JSONObject

    def node_pipeline(self) -> JSONObject | None:
        """The core processors as an inline ``search_pipeline`` body (None when there are none)."""
        inline = {
            section: [{s.type_name: s.body} for s in steps if s.runs_on_node]
            for section, steps in ((REQUEST, self.request), (RESPONSE, self.response))
        }
        inline = {k: v for k, v in inline.items() if v}
        return inline or None


def load_search_pipeline(path: Path) -> SearchPipelineSpec:
    """Read and validate one pipeline file; its id is the file stem."""
    return parse_search_pipeline(path.stem, read_body(path), source=str(path))


def find_search_pipeline(pipelines_dir: Path, name: str) -> Path:
    """``name`` as a file, else ``<pipelines_dir>/search/<name>.yaml|.yml|.json``."""
    given = Path(name)
    if given.suffix in (".yaml", ".yml", ".json") and given.is_file():
        return given
    for suffix in (".yaml", ".yml", ".json"):
        candidate = pipelines_dir / "search" / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise ConfigError(f"search pipeline [{name}] not found (no {pipelines_dir}/search/{name}.yaml)")


def parse_search_pipeline(pipeline_id: str, body: Any, source: str = "") -> SearchPipelineSpec:
    """Validate a body; raise one ConfigError listing every problem with its path."""
    where = pipeline_id
    if not isinstance(body, dict):
        raise ConfigError(f"{source or where}: a search pipeline body must be an object")
    errors: list[str] = [
        f"{where}.{key}: unknown key.{suggest(key, list(BODY_KEYS))}"
        for key in body
        if key not in BODY_KEYS
    ]
    _check_envelope(body, where, errors)
    steps = {section: _section(body, section, where, errors) for section in SECTIONS}
    _check_order(steps, where, errors)
    if errors:
        numbered = "\n".join(f"  {n}. {e}" for n, e in enumerate(errors, 1))
        raise ConfigError(
            f"{source or where}: {len(errors)} error(s)\n{numbered}",
            configuration_error_type(errors[0].split(": ", 1)[-1]),
            reason=errors[0].split(": ", 1)[-1],
        )
    description = body.get("description")
    return SearchPipelineSpec(
        pipeline_id, description, steps[REQUEST], steps[RESPONSE], steps[PHASE], body
    )


def _check_envelope(body: JSONObject, where: str, errors: list[str]) -> None:
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        errors.append(f"{where}.description: {wrong_type('description', 'string', description)}")
    version = body.get("version")
    if version is not None and (
        isinstance(version, bool) or not str(version).lstrip("-").isdigit()
    ):
        errors.append(
            f"{where}.version: [version] property cannot be converted to an int [{version}]"
        )


def _section(
    body: JSONObject, section: str, where: str, errors: list[str]
) -> tuple[SearchStep, ...]:
    entries = body.get(section)
    if entries is None:
        return ()
    if not isinstance(entries, list):
        errors.append(f"{where}.{section}: {wrong_type(section, 'list', entries)}")
        return ()
    steps: list[SearchStep] = []
    for index, entry in enumerate(entries):
        path = f"{where}.{section}[{index}]"
        if not isinstance(entry, dict) or not entry:
            errors.append(
                f"{path}: a processor entry is a map from the processor type to its options"
            )
            continue
        for type_name, options in entry.items():
            step = _step(section, type_name, options, path, errors)
            if step is not None:
                steps.append(step)
    return tuple(steps)


def _step(
    section: str, type_name: str, options: Any, path: str, errors: list[str]
) -> SearchStep | None:
    options = {} if options is None else options
    where = f"{path}.{type_name}"
    if not isinstance(options, dict):
        errors.append(f"{where}: processor options must be a map, not [{java_class(options)}]")
        return None
    if type_name in ours(section):
        before = len(errors)
        config = parse_options(processor_type(KINDS[section], type_name), options, where, errors)
        return None if len(errors) > before else SearchStep(section, type_name, options, config)
    if type_name in CORE[section]:
        return SearchStep(section, type_name, options, None)
    errors.append(f"{path}: {_unknown(section, type_name)}")
    return None


def _unknown(section: str, type_name: str) -> str:
    if type_name in NOT_EMULATED[section]:
        return f"search processor [{type_name}] is not emulated by neuralpipe"
    elsewhere = [s for s in SECTIONS if s != section and type_name in (*ours(s), *CORE[s])]
    if elsewhere:
        return f"Invalid processor type {type_name} (it belongs in {elsewhere[0]})"
    known = [*ours(section), *CORE[section], *NOT_EMULATED[section]]
    return f"Invalid processor type {type_name}.{suggest(type_name, known)}"


def _check_order(steps: dict[str, tuple[SearchStep, ...]], where: str, errors: list[str]) -> None:
    response = steps[RESPONSE]
    first_ours = next((i for i, s in enumerate(response) if not s.runs_on_node), len(response))
    for index, step in enumerate(response):
        if index > first_ours and step.runs_on_node:
            errors.append(
                f"{where}.{RESPONSE}: [{step.type_name}] after [{response[first_ours].type_name}] "
                "is not emulated: core response processors run on the node, before neuralpipe's; "
                "move it before"
            )
    if len(steps[PHASE]) > 1:
        errors.append(f"{where}.{PHASE}: more than one phase results processor is not emulated")
