"""Elastic's ``inference`` and OpenSearch's ``ml_inference`` ingest processors over local models.

``inference`` (Elastic): ``model_id``, ``target_field`` (default ``ml.inference.<tag>``, or
``ml.inference`` without a tag), ``field_map`` (document field -> the model's input field,
``text_field``), ``inference_config`` (``{<task>: {options}}``: ``ner``, ``fill_mask``,
``question_answering``, ``text_classification``, ``zero_shot_classification``,
``text_embedding``). The result object, with ``model_id``, is written at ``target_field``.

``ml_inference`` (OpenSearch ml-commons, local models): ``model_id``, ``function_name``,
``input_map`` (one map per prediction: model input key -> document field or JSON path),
``output_map`` (one map per prediction: document field -> JSON path in the model response),
``model_config`` (the task's options, also ``${model_config.<key>}`` in ``model_input``),
``model_input`` (a JSON template with ``${input_map.<key>}``), ``full_response_path`` (default
true for local models: output paths start at the whole ``_predict`` response; false: at the
first result's ``dataAsMap``), ``ignore_missing``, ``ignore_failure``,
``max_prediction_tasks`` (10).

Example:
    >>> parse_ml_inference({"model_id": "m", "input_map": [{"text_docs": "body"}],
    ...                     "output_map": [{"label": "$.inference_results[0].output[0]"
    ...                                     ".dataAsMap.predicted_value"}]}).function_name
    'remote'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.compat.options import missing, unsupported
from processors.errors import InvalidProcessorConfigError, ModelError, ProcessorRuntimeError
from processors.models.mlcommons.errors import MLCommonsError
from processors.models.mlcommons.task_predict import task_response
from processors.models.runtimes import DenseRuntime
from processors.models.task_runtime import ELASTIC_TASKS, TASK_OPTIONS, TaskRuntime
from processors.registry import Kind, register_processor

JSONObject = dict[str, Any]
TEXT_FIELD = "text_field"
INFERENCE_KEYS = ("model_id", "target_field", "field_map", "inference_config", "tag",
                  "description", "ignore_failure", "ignore_missing", "on_failure")  # fmt: skip
ML_INFERENCE_KEYS = ("model_id", "function_name", "input_map", "output_map", "model_config",
                     "model_input", "full_response_path", "ignore_missing", "ignore_failure",
                     "max_prediction_tasks", "tag", "description", "on_failure")  # fmt: skip
LOCAL_FUNCTIONS = ("remote", "text_embedding", *(t for t in ELASTIC_TASKS))
"""``function_name`` values ``ml_inference`` runs (lower case, as ml-commons writes them)."""
_PLACEHOLDER = re.compile(r'"?\$\{(input_map|model_config)\.([^}]+)\}"?')


def _problem(problems: list[tuple[str, str]], key: str, message: str) -> None:
    problems.append((key, message))


def _raise(type_name: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise InvalidProcessorConfigError(
            "; ".join(m for _, m in problems), problems=problems
        ) from None


def _common(
    type_name: str, body: Any, allowed: tuple[str, ...], problems: list[tuple[str, str]]
) -> JSONObject:
    if not isinstance(body, dict):
        raise InvalidProcessorConfigError(f"[{type_name}] options must be an object")
    model_id = body.get("model_id")
    if not isinstance(model_id, str) or not model_id.strip():
        _problem(problems, "model_id", missing("model_id"))
    unknown = [k for k in body if k not in allowed]
    if unknown:
        _problem(problems, unknown[0], unsupported(type_name, unknown))
    if body.get("on_failure"):
        _problem(problems, "on_failure", "on_failure inside a neuralpipe processor is not emulated")
    for flag in ("ignore_failure", "ignore_missing", "full_response_path"):
        if flag in body and not isinstance(body[flag], bool):
            _problem(problems, flag, f"[{flag}] must be true or false")
    return body


# ---- paths in documents -------------------------------------------------------------------


def read_path(source: Any, path: str) -> list[Any]:
    """Values at a dotted field path or a JSON path (``$...``) of ``source``; [] if none.

    >>> read_path({"a": {"b": [1, 2]}}, "a.b"), read_path({"a": {"b": [1, 2]}}, "$.a.b[1]")
    ([[1, 2]], [2])
    """
    if not path.startswith("$"):
        value: Any = source
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return []
            value = value[part]
        return [value]
    from jsonpath_ng.ext import parser

    try:
        expression = parser.parse(path)
    except Exception as exc:  # the parser raises several exception types
        raise ProcessorRuntimeError(f"invalid JSON path [{path}]: {exc}") from None
    return [match.value for match in expression.find(source)]


def _definite(path: str) -> bool:
    """A JSON path that names one place (no wildcard, slice, filter or deep scan)."""
    return not any(token in path for token in ("*", "..", "?", ":", ","))


def write_path(target: JSONObject, path: str, value: Any) -> None:
    """Set a dotted field path of ``target`` (objects created on the way)."""
    parts = path.removeprefix("$.").split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


# ---- Elastic's inference processor --------------------------------------------------------


@dataclass(frozen=True)
class ElasticInferenceConfig:
    """Parsed options of ``inference``."""

    model_id: str
    target_field: str
    input_field: str
    task: str | None
    options: JSONObject
    tag: str | None = None
    ignore_failure: bool = False
    ignore_missing: bool = False
    description: str | None = None


def parse_inference(body: Any) -> ElasticInferenceConfig:
    """Validate ``inference`` options (every problem at once)."""
    problems: list[tuple[str, str]] = []
    body = _common("inference", body, INFERENCE_KEYS, problems)
    fmap = body.get("field_map", {})
    if not isinstance(fmap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fmap.items()
    ):
        _problem(problems, "field_map", "[field_map] must map document fields to model fields")
        fmap = {}
    sources = [k for k, v in fmap.items() if v == TEXT_FIELD]
    config = body.get("inference_config", {})
    task: str | None = None
    options: JSONObject = {}
    if not isinstance(config, dict) or len(config) > 1:
        _problem(problems, "inference_config", "[inference_config] must hold one task")
    elif config:
        ((task, raw),) = config.items()
        allowed = ("text_embedding", *ELASTIC_TASKS)
        if task not in allowed:
            _problem(
                problems,
                "inference_config",
                f"unknown inference_config task [{task}]; one of {', '.join(allowed)}",
            )
        elif not isinstance(raw, dict):
            _problem(problems, "inference_config", f"[inference_config.{task}] must be an object")
        else:
            options = dict(raw)
            known = TASK_OPTIONS.get(ELASTIC_TASKS[task], ()) if task in ELASTIC_TASKS else (
                "results_field", "tokenization")  # fmt: skip
            extra = [k for k in options if k not in known]
            if extra:
                _problem(
                    problems,
                    f"inference_config.{task}",
                    f"[{task}] unknown option(s) [{', '.join(extra)}]; known: {', '.join(known)}",
                )
    target = body.get("target_field")
    tag = body.get("tag")
    if target is None:
        target = "ml.inference" + (f".{tag}" if tag else "")
    if not isinstance(target, str) or not target:
        _problem(problems, "target_field", "[target_field] must be a non-empty string")
    _raise("inference", problems)
    return ElasticInferenceConfig(
        model_id=body["model_id"],
        target_field=target,
        input_field=sources[0] if sources else TEXT_FIELD,
        task=task,
        options=options,
        tag=tag,
        ignore_failure=bool(body.get("ignore_failure", False)),
        ignore_missing=bool(body.get("ignore_missing", False)),
        description=body.get("description"),
    )


class ElasticInferenceProcessor:
    """``inference``: one model call for the batch; a failed call is retried per document."""

    type_name = "inference"

    def __init__(self, config: ElasticInferenceConfig, model: object) -> None:
        self.config = config
        self.model = model
        self._run_texts = self._bind(model)

    @classmethod
    def parse(cls, body: Any) -> ElasticInferenceConfig:
        return parse_inference(body)

    @classmethod
    def from_body(cls, body: Any, *, model: object) -> ElasticInferenceProcessor:
        return cls(parse_inference(body), model)

    def _bind(self, model: object) -> Callable[[list[str]], list[JSONObject]]:
        cfg = self.config
        if isinstance(model, TaskRuntime):
            wanted = model.function.value.lower()
            if cfg.task not in (None, wanted):
                raise InvalidProcessorConfigError(
                    f"model [{cfg.model_id}] is a [{wanted}] model; inference_config asks for "
                    f"[{cfg.task}]",
                    problems=[("inference_config", f"model [{cfg.model_id}] is [{wanted}]")],
                )
            return lambda texts: model.infer(texts, cfg.options)
        if isinstance(model, DenseRuntime) and cfg.task in (None, "text_embedding"):
            field = str(cfg.options.get("results_field", "predicted_value"))
            return lambda texts: [{field: v.tolist()} for v in model.embed(texts)]
        raise InvalidProcessorConfigError(
            f"model [{cfg.model_id}] cannot run inference_config [{cfg.task}]",
            problems=[("inference_config", f"model [{cfg.model_id}] cannot run [{cfg.task}]")],
        )

    def _error(self, message: str) -> ProcessorRuntimeError:
        return ProcessorRuntimeError(message, processor_type=self.type_name, tag=self.config.tag)

    def run(self, sources: list[JSONObject]) -> list[ProcessorRuntimeError | None]:
        """Enrich ``sources`` in place; one error (or None) per document."""
        outcome: list[ProcessorRuntimeError | None] = [None] * len(sources)
        rows: list[tuple[int, str]] = []
        for i, source in enumerate(sources):
            values = read_path(source, self.config.input_field)
            if not values:
                if not self.config.ignore_missing:
                    outcome[i] = self._error(
                        f"Input field [{self.config.input_field}] does not exist in the source "
                        "document"
                    )
                continue
            if not isinstance(values[0], str):
                outcome[i] = self._error(
                    f"Input field [{self.config.input_field}] is not a string but "
                    f"{type(values[0]).__name__}"
                )
                continue
            rows.append((i, values[0]))
        if not rows:
            return outcome
        try:
            results = self._run_texts([t for _, t in rows])
            done = list(zip(rows, results, strict=True))
        except ModelError:  # isolate the documents that fail
            done = []
            for row in rows:
                try:
                    done.append((row, self._run_texts([row[1]])[0]))
                except ModelError as exc:
                    outcome[row[0]] = self._error(str(exc))
        for (i, _), result in done:
            write_path(
                sources[i], self.config.target_field, {**result, "model_id": self.config.model_id}
            )
        return outcome


# ---- OpenSearch's ml_inference processor --------------------------------------------------


@dataclass(frozen=True)
class MLInferenceConfig:
    """Parsed options of ``ml_inference``."""

    model_id: str
    function_name: str
    input_map: list[dict[str, str]]
    output_map: list[dict[str, str]]
    model_config: JSONObject = field(default_factory=dict)
    model_input: str | None = None
    full_response_path: bool = True
    ignore_missing: bool = False
    ignore_failure: bool = False
    max_prediction_tasks: int = 10
    tag: str | None = None
    description: str | None = None


def _maps(body: JSONObject, key: str, problems: list[tuple[str, str]]) -> list[dict[str, str]]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
        for m in value
    ):
        _problem(problems, key, f"[{key}] must be a list of maps of strings")
        return []
    return [dict(m) for m in value]


def parse_ml_inference(body: Any, extra_keys: tuple[str, ...] = ()) -> MLInferenceConfig:
    """Validate ``ml_inference`` options (every problem at once), with ml-commons' messages;
    ``extra_keys`` are the search response processor's own (validated by it)."""
    problems: list[tuple[str, str]] = []
    body = _common("ml_inference", body, (*ML_INFERENCE_KEYS, *extra_keys), problems)
    function = str(body.get("function_name", "remote")).lower()
    if function not in LOCAL_FUNCTIONS:
        _problem(
            problems,
            "function_name",
            f"function_name [{function}] is not supported; one of {', '.join(LOCAL_FUNCTIONS)}",
        )
    inputs = _maps(body, "input_map", problems)
    outputs = _maps(body, "output_map", problems)
    limit = body.get("max_prediction_tasks", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        _problem(problems, "max_prediction_tasks", "[max_prediction_tasks] must be >= 1")
        limit = 10
    if len(inputs) > limit:
        _problem(
            problems,
            "input_map",
            f"The number of prediction task setting in this process is {len(inputs)}. It "
            f"exceeds the max_prediction_tasks of {limit}. Please reduce the size of input_map "
            "or increase max_prediction_tasks.",
        )
    if outputs and inputs and len(outputs) != len(inputs):
        _problem(
            problems,
            "output_map",
            "when output_map and input_map are provided, their length need to match. The "
            f"input is in length of {len(inputs)}, while output_map is in the length of "
            f"{len(outputs)}. Please adjust mappings.",
        )
    config = body.get("model_config", {})
    if not isinstance(config, dict):
        _problem(problems, "model_config", "[model_config] must be an object")
        config = {}
    template = body.get("model_input")
    if template is not None and not isinstance(template, str):
        _problem(problems, "model_input", "[model_input] must be a string (a JSON template)")
    _raise("ml_inference", problems)
    return MLInferenceConfig(
        model_id=body["model_id"],
        function_name=function,
        input_map=inputs,
        output_map=outputs,
        model_config=dict(config),
        model_input=template,
        full_response_path=bool(body.get("full_response_path", function != "remote")),
        ignore_missing=bool(body.get("ignore_missing", False)),
        ignore_failure=bool(body.get("ignore_failure", False)),
        max_prediction_tasks=limit,
        tag=body.get("tag"),
        description=body.get("description"),
    )


class _Missing(Exception):
    """An input_map field the document does not have."""


class MLInferenceProcessor:
    """``ml_inference``: per document, one model call per ``input_map`` entry."""

    type_name = "ml_inference"

    def __init__(self, config: MLInferenceConfig, predict: Callable[[JSONObject], JSONObject]):
        self.config = config
        self._predict = predict

    @classmethod
    def parse(cls, body: Any) -> MLInferenceConfig:
        return parse_ml_inference(body)

    @classmethod
    def from_body(cls, body: Any, *, model: object) -> MLInferenceProcessor:
        config = parse_ml_inference(body)
        return cls(config, predictor(config, model))

    def _error(self, message: str) -> ProcessorRuntimeError:
        return ProcessorRuntimeError(message, processor_type=self.type_name, tag=self.config.tag)

    def run(self, sources: list[JSONObject]) -> list[ProcessorRuntimeError | None]:
        """Enrich ``sources`` in place; one error (or None) per document."""
        outcome: list[ProcessorRuntimeError | None] = []
        for source in sources:
            try:
                self._one(source)
                outcome.append(None)
            except _Missing:
                outcome.append(None)  # ignore_missing: the document goes on unchanged
            except (ProcessorRuntimeError, ModelError) as exc:
                outcome.append(self._error(str(exc)))
        return outcome

    def _one(self, source: JSONObject) -> None:
        tasks = self.config.input_map or [{}]
        writes: list[tuple[str, Any]] = []
        for index, inputs in enumerate(tasks):
            values: JSONObject = {}
            for model_key, path in inputs.items():
                found = read_path(source, path)
                if not found:
                    if self.config.ignore_missing:
                        raise _Missing(path)
                    raise ProcessorRuntimeError(f"cannot find all required input fields: [{path}]")
                values[model_key] = found[0]
            response = self._predict(self._request(values))
            outputs = self.config.output_map[index] if self.config.output_map else {}
            writes.extend(self._outputs(response, outputs))
        for path, value in writes:  # nothing is written unless every prediction succeeded
            write_path(source, path, value)

    def predict(self, request: JSONObject) -> JSONObject:
        """One model call (the ``_predict`` response)."""
        return self._predict(request)

    def request(self, values: JSONObject) -> JSONObject:
        """The ``_predict`` body for one prediction's input values (``model_input`` filled)."""
        return self._request(values)

    def _request(self, values: JSONObject) -> JSONObject:
        cfg = self.config
        if cfg.model_input is None:
            request: JSONObject = dict(values)
            if isinstance(request.get("text_docs"), str):
                request["text_docs"] = [request["text_docs"]]
            if cfg.model_config:
                request["parameters"] = {**cfg.model_config, **request.get("parameters", {})}
            return request

        def substitute(match: re.Match[str]) -> str:
            scope, key = match.group(1), match.group(2)
            pool = values if scope == "input_map" else cfg.model_config
            if key not in pool:
                raise ProcessorRuntimeError(f"model_input refers to a missing {scope}.{key}")
            return json.dumps(pool[key])

        text = _PLACEHOLDER.sub(substitute, cfg.model_input)
        try:
            request = json.loads(text)
        except ValueError as exc:
            raise ProcessorRuntimeError(
                f"model_input is not valid JSON once filled: {exc}"
            ) from None
        if not isinstance(request, dict):
            raise ProcessorRuntimeError("model_input must fill into a JSON object")
        return request

    def _outputs(self, response: JSONObject, outputs: Mapping[str, str]) -> list[tuple[str, Any]]:
        if not outputs:
            return [("inference_results", response.get("inference_results"))]
        base: Any = response
        if not self.config.full_response_path:
            try:
                base = response["inference_results"][0]["output"][0]["dataAsMap"]
            except (KeyError, IndexError, TypeError):
                base = response
        writes = []
        for target, path in outputs.items():
            found = read_path(base, path if path.startswith("$") else f"$.{path}")
            if not found:
                raise ProcessorRuntimeError(
                    "An unexpected error occurred: model inference output cannot find such "
                    f"json path: {path}"
                )
            writes.append((target, found[0] if _definite(path) and len(found) == 1 else found))
        return writes


def predictor(config: MLInferenceConfig, model: object) -> Callable[[JSONObject], JSONObject]:
    if isinstance(model, TaskRuntime):
        wanted = model.function.value.lower()
        if config.function_name not in ("remote", wanted):
            raise InvalidProcessorConfigError(
                f"model [{config.model_id}] is a [{wanted}] model, not [{config.function_name}]",
                problems=[("function_name", f"model [{config.model_id}] is [{wanted}]")],
            )

        def predict(request: JSONObject) -> JSONObject:
            try:
                return task_response(model, request)
            except MLCommonsError as exc:
                raise ProcessorRuntimeError(str(exc)) from None

        return predict
    if isinstance(model, DenseRuntime):

        def embed(request: JSONObject) -> JSONObject:
            from processors.models.mlcommons.predict import predict_response

            try:
                return predict_response("TEXT_EMBEDDING", model, request)
            except MLCommonsError as exc:
                raise ProcessorRuntimeError(str(exc)) from None

        return embed
    raise InvalidProcessorConfigError(
        f"model [{config.model_id}] is not a model ml_inference can run locally",
        problems=[("model_id", f"model [{config.model_id}] cannot run in ml_inference")],
    )


register_processor(
    Kind.INGEST,
    "inference",
    parse=parse_inference,
    build=lambda body, encoders, client: ElasticInferenceProcessor.from_body(
        body, model=encoders(body["model_id"])
    ),
)
register_processor(
    Kind.INGEST,
    "ml_inference",
    parse=parse_ml_inference,
    build=lambda body, encoders, client: MLInferenceProcessor.from_body(
        body, model=encoders(body["model_id"])
    ),
)
