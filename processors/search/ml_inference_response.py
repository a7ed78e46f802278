"""The ``ml_inference`` search response processor over local models (ml-commons 2.16+).

Options as the ingest processor's (:mod:`processors.ingest.task_processors`), reading
``input_map`` fields from each hit's ``_source`` and writing ``output_map`` fields into it, plus
``one_to_one`` (default false) and ``override`` (default false):

* ``one_to_one: true``: one prediction per hit, with that hit's fields;
* ``one_to_one: false``: one prediction for the page: each input becomes the list of the hits'
  values (``text_docs`` = every hit's text), and an output path that yields one value per hit
  (``$.inference_results[*]...``) is written back hit by hit; any other result is written to
  every hit;
* ``override: false`` leaves a field the hit already has untouched.

Failures raise :class:`~processors.errors.ProcessorRuntimeError` unless ``ignore_failure``
(the response comes back unchanged); a hit without an input field fails the search unless
``ignore_missing`` (the hit is left as it is).

Example:
    >>> config = MLInferenceResponseConfig.from_body({"model_id": "m",
    ...     "input_map": [{"text_docs": "text"}], "output_map": [{"label": "x"}],
    ...     "one_to_one": True})
    >>> config.one_to_one, config.base.full_response_path
    (True, False)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.errors import InvalidProcessorConfigError, ModelError, ProcessorRuntimeError
from processors.ingest.task_processors import (
    MLInferenceConfig,
    MLInferenceProcessor,
    parse_ml_inference,
    predictor,
    read_path,
    write_path,
)
from processors.registry import Kind, SearchContext, register_processor

JSONObject = dict[str, Any]
RESPONSE_KEYS = ("one_to_one", "override")


@dataclass(frozen=True)
class MLInferenceResponseConfig:
    """Parsed options of the ``ml_inference`` response processor."""

    base: MLInferenceConfig
    one_to_one: bool = False
    override: bool = False

    @property
    def ignore_failure(self) -> bool:
        return self.base.ignore_failure

    @classmethod
    def from_body(cls, body: Any) -> MLInferenceResponseConfig:
        """Validate the options (``InvalidProcessorConfigError`` listing every problem)."""
        base = parse_ml_inference(body, RESPONSE_KEYS)
        flags = {}
        for key in RESPONSE_KEYS:
            value = body.get(key, False)
            if not isinstance(value, bool):
                raise InvalidProcessorConfigError(
                    f"[{key}] must be true or false", problems=[(key, "must be true or false")]
                )
            flags[key] = value
        return cls(base, **flags)


def run_ml_inference_response(
    config: MLInferenceResponseConfig, response: JSONObject, context: SearchContext
) -> JSONObject:
    """The processor on a search response: the hits of one page enriched (a new response; the
    input is untouched)."""
    try:
        return _apply(response, config, context.models)
    except (ProcessorRuntimeError, ModelError):
        if config.ignore_failure:
            return response
        raise


def _apply(
    response: JSONObject, config: MLInferenceResponseConfig, models: Callable[[str], Any]
) -> JSONObject:
    out = copy.deepcopy(response)
    hits = [h for h in out.get("hits", {}).get("hits", []) if isinstance(h.get("_source"), dict)]
    if not hits:
        return out
    processor = MLInferenceProcessor(
        config.base, predictor(config.base, models(config.base.model_id))
    )
    if config.one_to_one:
        for hit in hits:
            staged = copy.deepcopy(hit["_source"])
            (error,) = processor.run([staged])
            if error is not None:
                raise ProcessorRuntimeError(f"hit [{hit.get('_id')}]: {error}")
            _merge(hit["_source"], staged, config.override)
        return out
    tasks = config.base.input_map or [{}]
    for index, inputs in enumerate(tasks):
        values: JSONObject = {}
        for key, path in inputs.items():
            column = []
            for hit in hits:
                found = read_path(hit["_source"], path)
                if not found:
                    if config.base.ignore_missing:
                        return out
                    raise ProcessorRuntimeError(
                        f"cannot find all required input fields: [{path}] in hit [{hit.get('_id')}]"
                    )
                column.append(found[0])
            values[key] = column
        answer = processor.predict(processor.request(values))
        outputs = config.base.output_map[index] if config.base.output_map else {}
        for target, path in outputs.items():
            found = read_path(answer, path if path.startswith("$") else f"$.{path}")
            if not found:
                raise ProcessorRuntimeError(
                    f"model inference output cannot find such json path: {path}"
                )
            per_hit = found if len(found) == len(hits) and len(hits) > 1 else None
            for position, hit in enumerate(hits):
                value = per_hit[position] if per_hit is not None else (
                    found[0] if len(found) == 1 else found)  # fmt: skip
                if config.override or not read_path(hit["_source"], target):
                    write_path(hit["_source"], target, value)
    return out


def _merge(source: JSONObject, staged: JSONObject, override: bool) -> None:
    """Copy what the processor added or changed in ``staged`` back into ``source``."""
    for key, value in staged.items():
        if key not in source or (override and source[key] != value):
            source[key] = value
        elif isinstance(value, dict) and isinstance(source[key], dict):
            _merge(source[key], value, override)


register_processor(
    Kind.SEARCH_RESPONSE, "ml_inference", parse=MLInferenceResponseConfig.from_body,
    run=run_ml_inference_response,
)  # fmt: skip
