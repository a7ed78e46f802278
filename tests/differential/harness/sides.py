"""Both sides of the differential check: the reference node's REST API and neuralpipe in-process.

Reference side: the real node's REST API (``_predict``, ``_ingest/pipeline/_simulate``, search
pipelines PUT there, ``_search?search_pipeline=``). neuralpipe side, in this process:
:func:`processors.models.mlcommons.predict.predict_response`,
:func:`processors.pipeline.simulate.simulate` and
:class:`processors.pipeline.search.SearchPipeline` against the main node; its errors become
``(status, error.type, reason)`` through :func:`processors.proxy.errors.classify`, as the proxy
answers them.

Bodies are written with neuralpipe's model ids; :meth:`Sides.to_ref` swaps in the reference
node's ids (and error reasons get the names back).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from processors.settings import Settings
from tests.differential.harness.compare import Case, compare_errors, compare_hits, compare_json

JSONObject = dict[str, Any]
Answer = tuple[int, Any]
"""HTTP status and body (an error body for failures)."""

ONNX, INT8, TS = (
    "all-minilm-l6-v2-onnx",
    "all-minilm-l6-v2-onnx-int8",
    "all-minilm-l6-v2-torchscript",
)
TOKENIZER, SPLADE, SPLADE_ONNX = (
    "bert-uncased-tokenizer",
    "splade-tiny-torchscript",
    "splade-tiny-onnx",
)
SEMANTIC_DENSE = "all-minilm-l6-v2-onnx-semantic"
"""all-minilm-l6-v2-onnx with ``additional_config.space_type`` (a semantic field needs it)."""
MODELS = (ONNX, INT8, TS, TOKENIZER, SPLADE, SPLADE_ONNX, SEMANTIC_DENSE)
"""Registered on the reference node."""


@dataclass
class Sides:
    """Both sides: the reference node's URL and model ids; neuralpipe's models and client."""

    ref_url: str
    ref_ids: dict[str, str]
    settings: Settings = field(default_factory=Settings)
    index: str = field(default_factory=lambda: f"neuralpipe-diff-{os.getpid()}")
    _store: Any = None
    _client: Any = None

    # -- plumbing --------------------------------------------------------------------
    @property
    def store(self) -> Any:
        if self._store is None:
            from processors.models.binding import model_store

            self._store = model_store(self.settings)
        return self._store

    @property
    def client(self) -> Any:
        if self._client is None:
            from processors.opensearch.client import make_client

            self._client = make_client(self.settings)
        return self._client

    def reference_version(self) -> str:
        """The reference node's OpenSearch version."""
        answer = requests.get(self.ref_url, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["version"]["number"])

    def to_ref(self, value: Any) -> Any:
        """``value`` with every string equal to a neuralpipe model id swapped for the ref's."""
        if isinstance(value, dict):
            return {k: self.to_ref(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.to_ref(v) for v in value]
        if isinstance(value, str):
            return self.ref_ids.get(value, value)
        return value

    def from_ref(self, text: str) -> str:
        for name, ref_id in self.ref_ids.items():
            text = text.replace(ref_id, name)
        return text

    def ref(self, method: str, path: str, body: Any = None, **params: Any) -> Answer:
        answer = requests.request(method, f"{self.ref_url}{path}", json=body, params=params,
                                  timeout=300)  # fmt: skip
        try:
            data = answer.json()
        except ValueError as exc:  # kept as text, with where it stops being JSON
            data = f"{answer.text[:2000]}\n(not JSON: {exc}; {len(answer.content)} bytes)"
        return answer.status_code, data

    def ours(self, call: Callable[[], Any]) -> Answer:
        """``call()``'s result as (200, body), or its error as the proxy would answer it."""
        from opensearchpy.exceptions import TransportError

        from processors.proxy.errors import classify

        try:
            return 200, call()
        except TransportError as exc:
            info = exc.info if isinstance(exc.info, dict) else {"error": str(exc.info)}
            return int(exc.status_code), info
        except Exception as exc:
            status, error_type, reason = classify(exc)
            cause = {"type": error_type, "reason": reason}
            return status, {"error": {"root_cause": [cause], **cause}, "status": status}

    def error_of(self, answer: Answer) -> tuple[int, str, str]:
        status, body = answer
        error = body.get("error") if isinstance(body, dict) else body
        if isinstance(error, dict):
            return status, str(error.get("type")), self.from_ref(str(error.get("reason")))
        return status, "", self.from_ref(str(error))

    # -- neuralpipe calls --------------------------------------------------------------
    def predict(self, model_id: str, body: JSONObject) -> JSONObject:
        from processors.models.mlcommons.predict import predict_response

        reg = self.store.registration(model_id)
        config = reg.model_config_.model_dump(exclude_none=True) if reg.model_config_ else None
        function = str(getattr(reg.function_name, "value", reg.function_name))
        return predict_response(function, self.store.get(model_id), body, config)

    def register_meta(self, body: JSONObject) -> JSONObject:
        """neuralpipe's ``_register_meta`` (a registry on throwaway indices: these bodies are
        refused before anything is written)."""
        from processors.models.mlcommons.model_registry import ModelRegistry

        registry = ModelRegistry(self.client, index_prefix=f".{self.index}-ml")
        return registry.register_model_meta(copy.deepcopy(body))

    def simulate(self, pipeline: JSONObject, docs: list[JSONObject]) -> JSONObject:
        from processors.config.ingest_body import parse_ingest_pipeline
        from processors.pipeline.simulate import simulate

        spec = parse_ingest_pipeline("diff", copy.deepcopy(pipeline))
        return simulate(spec, copy.deepcopy(docs), encoders=self.store.get, client=self.client)

    def search(self, pipeline: JSONObject | None, body: JSONObject, index: str) -> JSONObject:
        from processors.config.search_body import parse_search_pipeline
        from processors.pipeline.search import SearchPipeline

        spec = parse_search_pipeline("diff", copy.deepcopy(pipeline)) if pipeline else None
        runner = SearchPipeline(spec, models=self.store.get, client=self.client)
        return runner.search(index, copy.deepcopy(body))

    # -- reference calls ---------------------------------------------------------------
    def ref_search(self, pipeline: JSONObject | None, body: JSONObject, name: str) -> Answer:
        params: dict[str, Any] = {}
        if pipeline is not None:
            put = self.ref("PUT", f"/_search/pipeline/{name}", self.to_ref(pipeline))
            if put[0] != 200:
                return put
            params["search_pipeline"] = name
        return self.ref("POST", f"/{self.index}/_search", self.to_ref(body), **params)


def _compare_answers(sides: Sides, ref: Answer, ours: Answer) -> list[str]:
    if ref[0] == 200 and ours[0] == 200:
        return compare_json(ref[1], ours[1])
    if ref[0] != 200 and ours[0] != 200:
        return compare_errors(sides.error_of(ref), sides.error_of(ours))
    return [
        f"reference {ref[0]} {short_json(ref[1])} vs neuralpipe {ours[0]} {short_json(ours[1])}"
    ]


WRAPPERS = {
    "exception": "OpenSearch core wraps the IllegalArgumentException thrown by the plugin's "
    "processor factory as 500 'exception' ('java.lang.IllegalArgumentException: <msg>', "
    "caused_by illegal_argument_exception <msg>); neuralpipe answers the cause itself: 400 "
    "illegal_argument_exception <msg> (core behaviour not copied)",
    "search_phase_execution_exception": "the plugin fails on the shard / in the phase: 400 "
    "search_phase_execution_exception whose cause is neuralpipe's error (same type and "
    "message); neuralpipe refuses before searching (not copied)",
}


def judge(case: Case, sides: Sides, ref: Answer, ours: Answer) -> None:
    """``case.differences`` for two answers; when the reference's error wraps exactly
    neuralpipe's (same cause type and message), the wrapping is named in ``case.known``."""
    case.differences = _compare_answers(sides, ref, ours)
    if not case.differences or ref[0] == 200 or ours[0] == 200:
        return
    error = ref[1].get("error") if isinstance(ref[1], dict) else None
    if not isinstance(error, dict) or error.get("type") not in WRAPPERS:
        return
    cause = error
    while isinstance(cause.get("caused_by"), dict):
        cause = cause["caused_by"]
    if cause is error and error.get("root_cause"):
        cause = error["root_cause"][0]
    inner = (ours[0], str(cause.get("type")), sides.from_ref(str(cause.get("reason"))))
    rest = compare_errors(inner, sides.error_of(ours))
    case.differences.insert(
        0,
        f"cause {cause.get('type')}: {cause.get('reason')!r}"
        + (" (= neuralpipe's)" if not rest else f" (vs neuralpipe: {'; '.join(rest)})"),
    )
    if not rest and not case.known:
        case.known = WRAPPERS[str(error["type"])]


def search_case(
    case: Case,
    sides: Sides,
    pipeline: JSONObject | None,
    body: JSONObject,
    name: str,
    *,
    more: Callable[[JSONObject, JSONObject], list[str]] | None = None,
) -> Case:
    """``case`` with the differences of ``body`` searched on both sides (on ``sides.index``),
    through ``pipeline`` when given (PUT on the reference node as ``name``, deleted after): the
    hits compared when both answer 200 (and ``more(ref, ours)``'s differences added), else the
    answers judged (:func:`judge`)."""
    ref = sides.ref_search(pipeline, body, name)
    ours = sides.ours(lambda: sides.search(pipeline, body, sides.index))
    if ref[0] == 200 and not isinstance(ref[1], dict):
        case.differences = [f"the reference answered 200 with a body that is not JSON: {ref[1]}"]
    elif ref[0] == 200 and ours[0] == 200:
        case.differences = compare_hits(ref[1], ours[1])
        if more is not None:
            case.differences += more(ref[1], ours[1])
    else:
        judge(case, sides, ref, ours)
    if pipeline is not None:
        sides.ref("DELETE", f"/_search/pipeline/{name}")
    return case


def short_json(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)[:240]
