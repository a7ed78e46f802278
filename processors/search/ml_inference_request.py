"""The ``ml_inference`` search request processor over local models (ml-commons 3.x).

A prediction per ``input_map`` entry (model input key -> a JSON path into the search request,
e.g. ``query.term.text.value``), its ``model_input`` template filled (``${input_map.<key>}``,
``${model_config.<key>}``, ``${ml_inference.<key>}``), then ``output_map`` (request path ->
JSON path into the model output) writes the outputs into the request (only at paths that
exist, or under ``ext.``), or ``query_template`` (``${<output key>}``) becomes the new request.

As ml-commons 3.6 does:

* ``model_input`` is required for a local model (``function_name`` other than ``remote``);
  ``full_response_path`` defaults to true for local models;
* input values are strings as they stand, anything else its JSON;
* a request path of ``input_map`` (or a ``query.`` path of ``output_map``) that matches
  nothing fails the search (``cannot find field: ...``) unless ``ignore_missing`` (the request
  then goes on unchanged); a model output path that matches nothing fails it (with
  ``ignore_missing``: the whole model output is used);
* ``ignore_failure``: any failure leaves the request as it was;
* ``optional_input_map`` / ``optional_output_map`` are used where the request has the field.

The paths are read from the request as written, with the short forms of the leaf queries
expanded (``{"term": {"f": "x"}}`` reads as ``{"term": {"f": {"value": "x"}}}``), as the
plugin reads OpenSearch's rendering of the request.

Example:
    >>> cfg = MLInferenceRequestConfig.from_body({"model_id": "m", "function_name":
    ...     "text_embedding", "input_map": [{"text": "query.term.t.value"}],
    ...     "output_map": [{"query.term.t.value": "$.x"}], "model_input": "{}"})
    >>> cfg.full_response_path, cfg.combined_inputs()
    (True, [{'text': 'query.term.t.value'}])
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from processors.errors import InvalidProcessorConfigError, ModelError, ProcessorRuntimeError
from processors.ingest.task_processors import LOCAL_FUNCTIONS, read_path, write_path
from processors.registry import Kind, SearchContext, Stage, register_processor

JSONObject = dict[str, Any]
KEYS = ("model_id", "query_template", "model_config", "input_map", "output_map",
        "optional_input_map", "optional_output_map", "max_prediction_tasks", "ignore_missing",
        "function_name", "model_input", "full_response_path", "ignore_failure", "tag",
        "description")  # fmt: skip
DEFAULT_REMOTE_INPUT = '{ "parameters": ${ml_inference.parameters} }'
NO_INPUT = (
    "Please provide at least one non-empty input_map or optional_input_map for ML Inference "
    "Search Request Processor"
)
NO_OUTPUT = (
    "Please provide at least one non-empty output_map or optional_output_map for ML Inference "
    "Search Request Processor"
)
NO_MODEL_INPUT = "Please provide model input when using a local model in ML Inference Processor"
SHORT_FORMS = {"term": "value", "prefix": "value", "wildcard": "value", "fuzzy": "value",
               "match": "query", "match_phrase": "query", "match_phrase_prefix": "query",
               "match_bool_prefix": "query"}  # fmt: skip
"""Leaf queries whose ``{field: value}`` short form OpenSearch renders as
``{field: {key: value}}``."""


def _bad(key: str, message: str) -> InvalidProcessorConfigError:
    return InvalidProcessorConfigError(message, problems=[(key, message)])


def _maps(body: JSONObject, key: str) -> list[dict[str, str]]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
        for m in value
    ):
        raise _bad(key, f"[{key}] must be a list of maps of strings")
    return [dict(m) for m in value]


def _flag(body: JSONObject, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        raise _bad(
            key,
            f"[{key}] Failed to parse value [{value}] as only [true] or [false] are allowed.",
        )
    return value


def _combine(first: list[dict[str, str]], second: list[dict[str, str]]) -> list[dict[str, str]]:
    """Merge two lists of maps position by position (the longer list's tail kept)."""
    return [
        {**(first[i] if i < len(first) else {}), **(second[i] if i < len(second) else {})}
        for i in range(max(len(first), len(second)))
    ]


@dataclass(frozen=True)
class MLInferenceRequestConfig:
    """Parsed options of the ``ml_inference`` search request processor."""

    model_id: str
    function_name: str
    input_map: list[dict[str, str]]
    output_map: list[dict[str, str]]
    optional_input_map: list[dict[str, str]] = field(default_factory=list)
    optional_output_map: list[dict[str, str]] = field(default_factory=list)
    model_config: dict[str, str] = field(default_factory=dict)
    model_input: str = DEFAULT_REMOTE_INPUT
    query_template: str | None = None
    full_response_path: bool = True
    ignore_missing: bool = False
    ignore_failure: bool = False
    max_prediction_tasks: int = 10
    tag: str | None = None

    def combined_inputs(self) -> list[dict[str, str]]:
        return _combine(self.input_map, self.optional_input_map)

    def combined_outputs(self) -> list[dict[str, str]]:
        return _combine(self.output_map, self.optional_output_map)

    @classmethod
    def from_body(cls, body: Any) -> MLInferenceRequestConfig:
        """Validate the options; the first problem raises, in the plugin's order and words."""
        if not isinstance(body, dict):
            raise _bad("", "[ml_inference] options must be an object")
        unknown = [k for k in body if k not in KEYS]
        if unknown:
            raise _bad(
                unknown[0],
                f"processor [ml_inference] doesn't support one or more provided configuration "
                f"parameters [{', '.join(unknown)}]",
            )
        model_id = body.get("model_id")
        if model_id is None:
            raise _bad("model_id", "[model_id] required property is missing")
        if not isinstance(model_id, str):
            raise _bad("model_id", "[model_id] property isn't a string, but of type "
                       f"[{type(model_id).__name__}]")  # fmt: skip
        template = body.get("query_template")
        if template is not None and not isinstance(template, str):
            raise _bad("query_template", "[query_template] property isn't a string")
        config = body.get("model_config") or {}
        if not isinstance(config, dict):
            raise _bad("model_config", "[model_config] property isn't a map")
        inputs, outputs = _maps(body, "input_map"), _maps(body, "output_map")
        opt_in, opt_out = _maps(body, "optional_input_map"), _maps(body, "optional_output_map")
        if not inputs and not opt_in:
            raise _bad("input_map", NO_INPUT)
        if not outputs and not opt_out:
            raise _bad("output_map", NO_OUTPUT)
        limit = body.get("max_prediction_tasks", 10)
        if isinstance(limit, bool) or not isinstance(limit, int | str):
            raise _bad("max_prediction_tasks", "[max_prediction_tasks] must be an integer")
        try:
            limit = int(limit)
        except ValueError:
            raise _bad(
                "max_prediction_tasks", "[max_prediction_tasks] must be an integer"
            ) from None
        ignore_missing = _flag(body, "ignore_missing", False)
        function = body.get("function_name", "REMOTE")
        if not isinstance(function, str) or function.lower() not in LOCAL_FUNCTIONS:
            raise _bad(
                "function_name",
                f"function_name [{function}] is not supported; one of {', '.join(LOCAL_FUNCTIONS)}",
            )
        model_input = body.get("model_input")
        if model_input is not None and not isinstance(model_input, str):
            raise _bad("model_input", "[model_input] property isn't a string")
        local = function.lower() != "remote"
        if model_input is None:
            if local:
                raise _bad("model_input", NO_MODEL_INPUT)
            model_input = DEFAULT_REMOTE_INPUT
        full = _flag(body, "full_response_path", local)
        ignore_failure = _flag(body, "ignore_failure", False)
        combined_in, combined_out = _combine(inputs, opt_in), _combine(outputs, opt_out)
        if len(combined_in) > limit:
            raise _bad(
                "input_map",
                f"The number of prediction task setting in this process is {len(combined_in)}. "
                f"It exceeds the max_prediction_tasks of {limit}. Please reduce the size of "
                "input_map or optional_input_map or increase max_prediction_tasks.",
            )
        if len(combined_out) != len(combined_in):
            raise _bad(
                "output_map",
                "when output_maps/optional_output_maps and input_maps/optional_input_maps are "
                "provided, their length needs to match. The input is in length of "
                f"{len(combined_in)}, while output_maps is in the length of {len(combined_out)}. "
                "Please adjust mappings.",
            )
        return cls(
            model_id=model_id,
            function_name=function.lower(),
            input_map=inputs,
            output_map=outputs,
            optional_input_map=opt_in,
            optional_output_map=opt_out,
            model_config={k: to_text(v) for k, v in config.items()},
            model_input=model_input,
            query_template=template,
            full_response_path=full,
            ignore_missing=ignore_missing,
            ignore_failure=ignore_failure,
            max_prediction_tasks=limit,
            tag=body.get("tag"),
        )


# ---- values as the plugin renders them --------------------------------------------------


def to_text(value: Any) -> str:
    """A value as ml-commons passes it to a template: a string as it is, else its JSON.

    >>> to_text("hi"), to_text([1, "a"]), to_text({"k": True})
    ('hi', '[1,"a"]', '{"k":true}')
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def java_double(number: float) -> str:
    """``Double.toString``: plain digits in [1e-3, 1e7), else ``d.dddE±n``.

    >>> java_double(3.0), java_double(0.25), java_double(1e-05), java_double(12345678.0)
    ('3.0', '0.25', '1.0E-5', '1.2345678E7')
    """
    if number != number or number in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(number)]
    if number == 0 or 1e-3 <= abs(number) < 1e7:
        text = repr(float(number))
        return text if "e" not in text else format(number, "f")
    sign, digits, exponent = Decimal(repr(float(number))).as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def java_string(value: Any) -> str:
    """``String.valueOf`` of a value parsed by Gson (numbers are doubles), as the query
    template substitution writes it; objects are written as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return java_double(float(value))
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return to_text(value)
    return str(value)


def _as_doubles(value: Any) -> Any:
    """Numbers as Gson reads them (every number a double)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_as_doubles(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    return value


# ---- the request as the plugin reads it ---------------------------------------------------


def expand_short_forms(node: Any) -> Any:
    """A copy of a request with the leaf queries' short forms expanded (see module doc).

    >>> expand_short_forms({"query": {"term": {"t": "x"}}})
    {'query': {'term': {'t': {'value': 'x'}}}}
    """
    if isinstance(node, list):
        return [expand_short_forms(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: JSONObject = {}
    for key, value in node.items():
        if key in SHORT_FORMS and isinstance(value, dict):
            out[key] = {
                f: ({SHORT_FORMS[key]: v} if not isinstance(v, dict) else expand_short_forms(v))
                for f, v in value.items()
            }
        else:
            out[key] = expand_short_forms(value)
    return out


def _read(source: Any, path: str) -> list[Any]:
    return read_path(source, path if path.startswith("$") else f"$.{path}")


def _query_string(request: JSONObject) -> str:
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False)


_PLACEHOLDER = re.compile(r"\$\{(model_config|input_map|ml_inference)\.([^}]+)\}")


def fill_template(template: str, pools: dict[str, dict[str, str]]) -> str:
    """Replace ``${scope.key}`` placeholders; an unknown one stays as it is (as Apache
    Commons' ``StringSubstitutor`` leaves it)."""

    def substitute(match: re.Match[str]) -> str:
        pool = pools.get(match.group(1), {})
        return pool.get(match.group(2), match.group(0))

    return _PLACEHOLDER.sub(substitute, template)


# ---- the processor ------------------------------------------------------------------------


class MLInferenceRequestProcessor:
    """Rewrites one search request (a new dict; the given one is untouched)."""

    def __init__(
        self, config: MLInferenceRequestConfig, predict: Callable[[JSONObject], JSONObject]
    ):
        self.config = config
        self._predict = predict

    def apply(self, request: JSONObject) -> JSONObject:
        try:
            return self._apply(request)
        except (ProcessorRuntimeError, ModelError):
            if self.config.ignore_failure:
                return request
            raise

    def _apply(self, request: JSONObject) -> JSONObject:
        cfg = self.config
        query = expand_short_forms(request)
        if not self._fields_present(query):
            return request
        outputs = cfg.combined_outputs()
        rewritten: JSONObject = query
        for index, inputs in enumerate(cfg.combined_inputs()):
            response = self._predict(self._model_request(query, inputs))
            mapping = outputs[index]
            if cfg.query_template is None:
                rewritten = self._write(rewritten, mapping, response)
            else:
                rewritten = self._template(mapping, response)
        return rewritten

    def _fields_present(self, query: JSONObject) -> bool:
        cfg = self.config
        wanted = [p for m in cfg.input_map for p in m.values()]
        if cfg.query_template is None:
            wanted += [k for m in cfg.output_map for k in m if k.startswith(("query.", "$.query."))]
        for path in wanted:
            if not _read(query, path):
                if cfg.ignore_missing:
                    return False
                raise ProcessorRuntimeError(
                    f"cannot find field: {path} in query string: {_query_string(query)}"
                )
        return True

    def _model_request(self, query: JSONObject, inputs: dict[str, str]) -> JSONObject:
        cfg = self.config
        values = {}
        for key, path in inputs.items():
            found = _read(query, path)
            if found:
                values[key] = to_text(found[0] if len(found) == 1 else found)
        parameters = {**cfg.model_config, **values}
        inline = (
            {"parameters": to_text(parameters)} if cfg.function_name == "remote" else parameters
        )
        payload = fill_template(
            cfg.model_input,
            {"model_config": cfg.model_config, "input_map": values, "ml_inference": inline},
        )
        try:
            body = json.loads(payload)
        except ValueError:
            raise ProcessorRuntimeError(f"Invalid payload: {payload}") from None
        if not isinstance(body, dict):
            raise ProcessorRuntimeError(f"Invalid payload: {payload}")
        return body

    def _output(self, response: JSONObject, path: str) -> Any:
        cfg = self.config
        if not cfg.full_response_path:
            return _as_doubles(_tensor_value(response, path, cfg.ignore_missing))
        found = _read(response, path)
        if not found:
            if cfg.ignore_missing:
                return _as_doubles(response)
            raise _unexpected(f"model inference output cannot find such json path: {path}")
        definite = not any(t in path for t in ("*", "..", "?", ":", ","))
        return _as_doubles(found[0] if definite else found)

    def _write(
        self, query: JSONObject, mapping: dict[str, str], response: JSONObject
    ) -> JSONObject:
        out = copy.deepcopy(query)
        for target, path in mapping.items():
            value = self._output(response, path)
            dotted = target.removeprefix("$.")
            if dotted.startswith("ext."):
                write_path(out, dotted, value)
            elif _read(out, target):
                _set_existing(out, target, value)
        return out

    def _template(self, mapping: dict[str, str], response: JSONObject) -> JSONObject:
        assert self.config.query_template is not None
        values = {k: java_string(self._output(response, p)) for k, p in mapping.items()}
        text = re.sub(
            r"\$\{([^}]+)\}",
            lambda m: values.get(m.group(1), m.group(0)),
            self.config.query_template,
        )
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ProcessorRuntimeError(
                f"the query_template is not a valid request once filled: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise ProcessorRuntimeError("the query_template must fill into a JSON object")
        return body


def _unexpected(message: str) -> ModelError:
    """ml-commons' catch-all around reading the model output: 500 ``runtime_exception``."""
    from processors.models.mlcommons.errors import MLCommonsError

    return MLCommonsError(f"An unexpected error occurred: {message}", 500, "runtime_exception")


def _set_existing(target: Any, path: str, value: Any) -> None:
    """Set the value at a path that exists (dotted or JSON path; list positions allowed)."""
    from jsonpath_ng.ext import parser

    parser.parse(path if path.startswith("$") else f"$.{path}").update(target, value)


def _tensor_value(response: JSONObject, path: str, ignore_missing: bool) -> Any:
    """``full_response_path: false``: the field of the first result's output(s)."""
    try:
        tensors = response["inference_results"][0]["output"]
    except (KeyError, IndexError, TypeError):
        raise _unexpected("Model outputs are null or empty.") from None
    values = []
    for tensor in tensors:
        data = tensor.get("dataAsMap")
        if data is None:
            values.append(tensor.get("data"))
            continue
        if path in data:
            values.append(data[path])
            continue
        found = _read(data, path)
        if not found:
            if not ignore_missing:
                raise _unexpected(f"model inference output cannot find field name: {path}")
            values.append(data)
        else:
            values.append(found[0] if len(found) == 1 else found)
    return values[0] if len(values) == 1 else values


def run_ml_inference_request(
    config: MLInferenceRequestConfig, request: JSONObject, context: SearchContext
) -> JSONObject:
    """The processor on a search request: the rewritten request (the input is untouched)."""
    from processors.ingest.task_processors import MLInferenceConfig, predictor

    base = MLInferenceConfig(
        model_id=config.model_id,
        function_name=config.function_name,
        input_map=config.input_map,
        output_map=config.output_map,
    )
    try:
        predict = predictor(base, context.models(config.model_id))
    except ModelError:
        if config.ignore_failure:
            return request
        raise
    return MLInferenceRequestProcessor(config, predict).apply(request)


register_processor(
    Kind.SEARCH_REQUEST, "ml_inference", parse=MLInferenceRequestConfig.from_body,
    run=run_ml_inference_request, stage=Stage.REQUEST,
)  # fmt: skip
