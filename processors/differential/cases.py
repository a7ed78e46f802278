"""The differential cases: the same inputs to the reference node and to neuralpipe (issue #8).

Reference side: the real node's REST API (``_predict``, ``_ingest/pipeline/_simulate``, search
pipelines PUT there, ``_search?search_pipeline=``). neuralpipe side, in this process:
:func:`processors.models.registry_predict.predict_response`,
:func:`processors.pipeline.simulate.simulate` and
:class:`processors.pipeline.search.SearchPipeline` against the main node; its errors become
``(status, error.type, reason)`` through :func:`processors.proxy.errors.classify`, as the proxy
answers them.

Bodies are written with neuralpipe's model ids; :meth:`Sides.to_ref` swaps in the reference
node's ids (and error reasons get the names back). Expected differences carry their
explanation in ``KNOWN``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from processors.differential.compare import (
    Case,
    compare_errors,
    compare_hits,
    compare_json,
)
from processors.settings import Settings

JSONObject = dict[str, Any]
Answer = tuple[int, Any]
"""HTTP status and body (an error body for failures)."""

ONNX, INT8, TS = (
    "all-minilm-l6-v2-onnx",
    "all-minilm-l6-v2-onnx-int8",
    "all-minilm-l6-v2-torchscript",
)
TOKENIZER, SPLADE = "bert-uncased-tokenizer", "splade-tiny-torchscript"
MODELS = (ONNX, INT8, TS, TOKENIZER, SPLADE)
"""Registered on the reference node (splade-tiny-onnx does not deploy there, see KNOWN)."""

KNOWN = {
    "blank": "plugin 2.19.6 refuses empty/blank strings in text_embedding ('map type field "
    "[text] has empty string value, cannot process it'); neuralpipe passes them "
    "(neuralpipe bug, processors/ingest/field_map.py or inference.py)",
    "ts-outputs": "ml-commons returns every TorchScript output (input_ids, token_embeddings, "
    "sentence_embedding, attention_mask) when no target_response is given; neuralpipe only "
    "sentence_embedding (neuralpipe bug, registry_predict._embedding)",
    "predict-empty": "_predict on '': ml-commons embeds the empty string ([CLS] [SEP]); "
    "neuralpipe refuses it with 400 'text at index 0 is empty' (neuralpipe bug, the "
    "runtime's empty-text check)",
    "int8-ort": "version difference (probable): ml-commons 2.19 runs ONNX Runtime 1.16.3, "
    "neuralpipe 1.32.0; their int8 kernels (DynamicQuantizeLinear/MatMulInteger) differ "
    "slightly and the drift grows with length: only the 256-token input passes 1e-4 "
    "(cosine 0.9995); the fp32 model is identical on the same input",
    "tokenize-name": "ml-commons' SPARSE_TOKENIZE output tensor has no 'name' (SPARSE_ENCODING "
    "models have name 'output'); neuralpipe adds name 'output' (neuralpipe bug, "
    "registry_predict._sparse)",
    "rrf-rank-constant": "version difference: 2.19.6 reads only combination.parameters."
    "rank_constant and silently ignores combination.rank_constant (uses 60); neuralpipe "
    "accepts the 3.1 spelling with its meaning (deliberate, fusion_config.py); the 2.19 "
    "spelling is the next case",
    "neural-wording": "neuralpipe bug (reason text): neuralpipe joins the problems as "
    "'Invalid neural query: ...' (later neural-search wording) where 2.19.6 answers the bare "
    "message; status and type match",
    "neural-npe": "plugin bug not copied: 2.19.6 answers 500 null_pointer_exception 'modelId is "
    "marked non-null but is null'; neuralpipe 400 'model_id must be provided'",
    "unknown-model": "neuralpipe difference (reason text): models are resolved from "
    "pipelines/models/<id>.yaml, so the reason names the file instead of ml-commons' 'Failed "
    "to find model'; status and type match",
    "sparse-analyzer": "version difference: neuralpipe runs a neural_sparse query_text without "
    "model_id through the default bert-uncased analyzer (neural-search 3.x); 2.19.6 requires "
    "model_id ('query_text and model_id cannot be null')",
    "parse-exception": "neuralpipe bug (error type): a missing required property or an "
    "unsupported option is OpenSearch's parse_exception (ConfigurationUtils) on the node; "
    "neuralpipe's ConfigError always becomes illegal_argument_exception",
    "field-map-tostring": "plugin bug not copied: 2.19.6 takes any field_map value and uses "
    "its toString() as the target field ('5', '[a]'); neuralpipe refuses non-string/map values",
    "predict-type": "neuralpipe bug (error type): ml-commons validates _predict input with "
    "IllegalArgumentException (400 illegal_argument_exception); neuralpipe's MLCommonsError "
    "is always reported as status_exception (proxy/errors.classify)",
    "chunking-algorithms": "version difference + wrapping: neuralpipe also supports "
    "fixed_char_length (neural-search 3.x), so its list of supported algorithms is longer",
    "chunking-tokenizers": "wrapping + neuralpipe difference: the list of supported tokenizers "
    "is in a different order (the node prints its analysis registry's order)",
    "z_score": "version difference: z_score normalization is neural-search 3.0; 2.19.6 refuses "
    "it at PUT, neuralpipe accepts it with the 3.0 meaning (deliberate, fusion_config.py)",
    "hybrid-no-pipeline": "deliberate: without a normalization/score-ranker processor the "
    "plugin returns raw hybrid scores; neuralpipe refuses the query (HYBRID_WITHOUT_FUSION)",
}


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
        except ValueError:
            data = answer.text
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
        from processors.models.registry_predict import predict_response

        reg = self.store.registration(model_id)
        config = reg.model_config_.model_dump(exclude_none=True) if reg.model_config_ else None
        function = str(getattr(reg.function_name, "value", reg.function_name))
        return predict_response(function, self.store.get(model_id), body, config)

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


# -- _predict ---------------------------------------------------------------------------------
PREDICT_TEXTS = [
    "hello world",
    "Café déjà vu — naïve ünïcödé 東京",
    "The quick brown fox jumps over the lazy dog.",
    "word " * 400,  # past model_max_length: truncation
]
SPARSE_TEXTS = ["hello world", "Lift and drag on a swept wing at transonic speed."]


def predict_cases(sides: Sides) -> list[Case]:
    runs: list[tuple[str, str, JSONObject, str]] = []
    for model in (ONNX, INT8, TS):
        for text in PREDICT_TEXTS:
            body: JSONObject = {"text_docs": [text]}
            if model == TS:
                body["target_response"] = ["sentence_embedding"]
            long_int8 = model == INT8 and len(text) > 1000
            runs.append((model, f"{text[:20]!r}", body, KNOWN["int8-ort"] if long_int8 else ""))
    runs += [
        (ONNX, "batch of 3", {"text_docs": PREDICT_TEXTS[:3]}, ""),
        (TS, "no target_response", {"text_docs": ["hello world"]}, KNOWN["ts-outputs"]),
        (ONNX, "empty string", {"text_docs": [""]}, KNOWN["predict-empty"]),
    ]
    for model in (TOKENIZER, SPLADE):
        known = KNOWN["tokenize-name"] if model == TOKENIZER else ""
        runs += [(model, f"{t[:20]!r}", {"text_docs": [t]}, known) for t in SPARSE_TEXTS]
    runs.append((TOKENIZER, "batch of 2", {"text_docs": SPARSE_TEXTS}, KNOWN["tokenize-name"]))
    cases = []
    for model, label, body, known in runs:
        case = Case("predict", f"{model} {label}", known=known)
        ref = sides.ref("POST", f"/_plugins/_ml/models/{sides.ref_ids[model]}/_predict", body)
        ours = sides.ours(lambda m=model, b=body: sides.predict(m, b))  # type: ignore[misc]
        _judge(case, sides, ref, ours)
        cases.append(case)
    return cases


def _compare_answers(sides: Sides, ref: Answer, ours: Answer) -> list[str]:
    if ref[0] == 200 and ours[0] == 200:
        return compare_json(ref[1], ours[1])
    if ref[0] != 200 and ours[0] != 200:
        return compare_errors(sides.error_of(ref), sides.error_of(ours))
    return [f"reference {ref[0]} {_short(ref[1])} vs neuralpipe {ours[0]} {_short(ours[1])}"]


WRAPPERS = {
    "exception": "OpenSearch core wraps the IllegalArgumentException thrown by the plugin's "
    "processor factory as 500 'exception' ('java.lang.IllegalArgumentException: <msg>', "
    "caused_by illegal_argument_exception <msg>); neuralpipe answers the cause itself: 400 "
    "illegal_argument_exception <msg> (core behaviour not copied)",
    "search_phase_execution_exception": "the plugin fails on the shard / in the phase: 400 "
    "search_phase_execution_exception whose cause is neuralpipe's error (same type and "
    "message); neuralpipe refuses before searching (not copied)",
}


def _judge(case: Case, sides: Sides, ref: Answer, ours: Answer) -> None:
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


def _short(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)[:240]


# -- _ingest/pipeline/_simulate ---------------------------------------------------------------
def _embed(model: str = ONNX, field_map: JSONObject | None = None) -> JSONObject:
    return {"text_embedding": {"model_id": model, "field_map": field_map or {"text": "emb"}}}


def _sparse(model: str = TOKENIZER, **extra: Any) -> JSONObject:
    return {"sparse_encoding": {"model_id": model, "field_map": {"text": "sparse"}, **extra}}


def _chunk(algorithm: JSONObject, **extra: Any) -> JSONObject:
    return {"text_chunking": {"algorithm": algorithm, "field_map": {"text": "chunks"}, **extra}}


LONG = (
    "A swept wing delays the onset of wave drag. At transonic speeds, shock waves form on the "
    "upper surface. Vortex generators re-energise the boundary layer.\n\nThe Kutta condition "
    "fixes the circulation: the flow leaves the trailing edge smoothly. Thin-airfoil theory "
    "predicts a lift slope of two pi per radian."
)
TEXT_DOCS = [{"_index": "i", "_id": "1", "_source": {"text": "hello world", "n": 1}}]

INGEST: list[tuple[str, JSONObject, list[JSONObject], str]] = [
    ("text_embedding string", {"processors": [_embed()]}, TEXT_DOCS, ""),
    (
        "text_embedding list",
        {"processors": [_embed()]},
        [{"_source": {"text": ["first passage", "second passage", "third"]}}],
        "",
    ),
    (
        "text_embedding nested object field_map",
        {"processors": [_embed(field_map={"doc": {"title": "title_emb", "body": "body_emb"}})]},
        [{"_source": {"doc": {"title": "Wings", "body": "Lift is generated by pressure."}}}],
        "",
    ),
    (
        "text_embedding nested list of objects",
        {"processors": [_embed(field_map={"passages": {"text": "emb"}})]},
        [{"_source": {"passages": [{"text": "one"}, {"text": "two"}]}}],
        "",
    ),
    (
        "text_embedding missing field",
        {"processors": [_embed()]},
        [{"_source": {"other": "no text field here"}}],
        "",
    ),
    (
        "text_embedding dotted key in field_map",
        {"processors": [_embed(field_map={"a.b": "ab_emb"})]},
        [{"_source": {"a": {"b": "nested value"}}}],
        "",
    ),
    (
        "text_embedding dotted key in source",
        {"processors": [_embed(field_map={"a.b": "ab_emb"})]},
        [{"_source": {"a.b": "literal dotted key"}}],
        "",
    ),
    ("text_embedding number value", {"processors": [_embed()]}, [{"_source": {"text": 5}}], ""),
    (
        "text_embedding empty string",
        {"processors": [_embed()]},
        [{"_source": {"text": ""}}],
        KNOWN["blank"],
    ),
    (
        "text_embedding blank string",
        {"processors": [_embed()]},
        [{"_source": {"text": "  "}}],
        KNOWN["blank"],
    ),
    ("text_embedding int8", {"processors": [_embed(INT8)]}, TEXT_DOCS, ""),
    ("text_embedding torchscript", {"processors": [_embed(TS)]}, TEXT_DOCS, ""),
    (
        "text_embedding 3 docs, one missing",
        {"processors": [_embed()]},
        [
            {"_id": "a", "_source": {"text": "alpha"}},
            {"_id": "b", "_source": {"x": 1}},
            {"_id": "c", "_source": {"text": "gamma ray"}},
        ],
        "",
    ),
    (
        "sparse_encoding tokenizer",
        {"processors": [_sparse()]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "sparse_encoding tokenizer list",
        {"processors": [_sparse()]},
        [{"_source": {"text": ["lift", "drag and thrust"]}}],
        "",
    ),
    (
        "sparse_encoding max_ratio 0.1",
        {"processors": [_sparse(prune_type="max_ratio", prune_ratio=0.1)]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "sparse_encoding splade",
        {"processors": [_sparse(SPLADE)]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "sparse_encoding splade max_ratio 0.3",
        {"processors": [_sparse(SPLADE, prune_type="max_ratio", prune_ratio=0.3)]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "sparse_encoding splade top_k 5",
        {"processors": [_sparse(SPLADE, prune_type="top_k", prune_ratio=5)]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "sparse_encoding splade alpha_mass 0.5",
        {"processors": [_sparse(SPLADE, prune_type="alpha_mass", prune_ratio=0.5)]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "sparse_encoding splade abs_value 0.5",
        {"processors": [_sparse(SPLADE, prune_type="abs_value", prune_ratio=0.5)]},
        [{"_source": {"text": "Lift and drag on a swept wing"}}],
        "",
    ),
    (
        "text_chunking fixed_token_length standard overlap 0.2",
        {"processors": [_chunk({"fixed_token_length": {"token_limit": 10, "overlap_rate": 0.2}})]},
        [{"_source": {"text": LONG}}],
        "",
    ),
    (
        "text_chunking fixed_token_length letter",
        {"processors": [_chunk({"fixed_token_length": {"token_limit": 7, "tokenizer": "letter"}})]},
        [{"_source": {"text": LONG}}],
        "",
    ),
    (
        "text_chunking fixed_token_length max_chunk_limit 2",
        {"processors": [_chunk({"fixed_token_length": {"token_limit": 8, "max_chunk_limit": 2}})]},
        [{"_source": {"text": LONG}}],
        "",
    ),
    (
        "text_chunking delimiter default",
        {"processors": [_chunk({"delimiter": {}})]},
        [{"_source": {"text": LONG}}],
        "",
    ),
    (
        "text_chunking delimiter paragraph max_chunk_limit 1",
        {"processors": [_chunk({"delimiter": {"delimiter": "\n\n", "max_chunk_limit": 1}})]},
        [{"_source": {"text": LONG}}],
        "",
    ),
    (
        "text_chunking list input",
        {"processors": [_chunk({"delimiter": {}})]},
        [{"_source": {"text": ["One. Two.", "Three. Four. Five."]}}],
        "",
    ),
    (
        "text_chunking then text_embedding",
        {"processors": [_chunk({"delimiter": {}}), _embed(field_map={"chunks": "chunk_emb"})]},
        [{"_source": {"text": "Short one. Another sentence here."}}],
        "",
    ),
]


def ingest_cases(sides: Sides) -> list[Case]:
    cases = []
    for name, pipeline, docs, known in INGEST:
        case = Case("ingest", name, known=known)
        ref = sides.ref("POST", "/_ingest/pipeline/_simulate",
                        {"pipeline": sides.to_ref(pipeline), "docs": docs})  # fmt: skip
        ours = sides.ours(lambda p=pipeline, d=docs: sides.simulate(p, d))  # type: ignore[misc]
        if ref[0] == 200 and ours[0] == 200:
            ref_docs = json.loads(sides.from_ref(json.dumps(ref[1])))
            case.differences = compare_json(ref_docs, ours[1])
        else:
            _judge(case, sides, ref, ours)
        cases.append(case)
    return cases


# -- searches ---------------------------------------------------------------------------------
CORPUS = [
    ("1", "Lift on a swept wing", "A swept wing delays wave drag at transonic speed.", 3.0),
    ("2", "Drag", "Skin friction and pressure drag add up to the total drag.", 1.0),
    ("3", "Shock waves", "Shock waves form on the upper surface near Mach one.", 5.0),
    ("4", "Boundary layer", "Vortex generators re-energise the boundary layer.", 2.0),
    ("5", "Kutta condition", "The flow leaves the sharp trailing edge smoothly.", 4.0),
    ("6", "Thin airfoil", "Thin airfoil theory predicts a lift slope of two pi.", 6.0),
    ("7", "Propellers", "A propeller blade is a rotating wing producing thrust.", 7.0),
    ("8", "Stall", "At high angle of attack the flow separates and lift drops.", 8.0),
]
EMBED_PIPELINE = {
    "processors": [
        _embed(field_map={"text": "text_embedding"}),
        {"sparse_encoding": {"model_id": TOKENIZER, "field_map": {"text": "text_sparse"}}},
    ]
}


def mapping(settings: Settings) -> JSONObject:
    body: JSONObject = json.loads((settings.pipelines_dir.parent / "mappings" /
                                   "combined.json").read_text())  # fmt: skip
    body["mappings"]["properties"]["n"] = {"type": "float"}
    return body


def index_corpus(sides: Sides) -> None:
    """The same documents in ``sides.index`` on both nodes, embedded by each side's pipeline."""
    docs = [{"_id": i, "_source": {"title": t, "text": x, "n": n}} for i, t, x, n in CORPUS]
    body = mapping(sides.settings)
    sides.ref("DELETE", f"/{sides.index}")
    for answer in (
        sides.ref("PUT", f"/{sides.index}", body),
        sides.ref("PUT", "/_ingest/pipeline/diff-embed", sides.to_ref(EMBED_PIPELINE)),
    ):
        if answer[0] != 200:
            raise RuntimeError(f"reference node: {_short(answer[1])}")
    lines = "".join(json.dumps({"index": {"_id": d["_id"]}}) + "\n" + json.dumps(d["_source"])
                    + "\n" for d in docs)  # fmt: skip
    done = requests.post(f"{sides.ref_url}/{sides.index}/_bulk", data=lines,
                         params={"pipeline": "diff-embed", "refresh": "true"},
                         headers={"Content-Type": "application/x-ndjson"}, timeout=300)  # fmt: skip
    if done.status_code != 200 or done.json().get("errors"):
        raise RuntimeError(f"reference bulk: {done.text[:500]}")
    embedded = sides.simulate(EMBED_PIPELINE, docs)
    client = sides.client
    client.indices.delete(index=sides.index, ignore_unavailable=True)
    client.indices.create(index=sides.index, body=body)
    actions: list[JSONObject] = []
    for doc, item in zip(docs, embedded["docs"], strict=True):
        actions += [{"index": {"_id": doc["_id"]}}, item["doc"]["_source"]]
    result = client.bulk(index=sides.index, body=actions, refresh=True)
    if result.get("errors"):
        raise RuntimeError(f"main node bulk: {_short(result)}")


def drop_corpus(sides: Sides) -> None:
    sides.ref("DELETE", f"/{sides.index}")
    sides.ref("DELETE", "/_ingest/pipeline/diff-embed")
    sides.client.indices.delete(index=sides.index, ignore_unavailable=True)


MATCH = {"match": {"text": "lift wing"}}
NEURAL = {"neural": {"text_embedding": {"query_text": "lift on a wing", "model_id": ONNX,
                                        "k": 8}}}  # fmt: skip
SPARSE_Q = {"neural_sparse": {"text_sparse": {"query_text": "wing lift drag",
                                              "model_id": TOKENIZER}}}  # fmt: skip


def _norm(technique: str, combination: str, weights: list[float] | None = None) -> JSONObject:
    comb: JSONObject = {"technique": combination}
    if weights:
        comb["parameters"] = {"weights": weights}
    return {"phase_results_processors": [{"normalization-processor": {
        "normalization": {"technique": technique}, "combination": comb}}]}  # fmt: skip


def _hybrid(*queries: JSONObject, size: int = 8) -> JSONObject:
    return {"size": size, "query": {"hybrid": {"queries": list(queries)}}}


def _rerank(**by_field: Any) -> JSONObject:
    return {"response_processors": [{"rerank": {"by_field": by_field}}]}


SEARCHES: list[tuple[str, JSONObject | None, JSONObject, str]] = [
    ("match (BM25 baseline)", None, {"query": MATCH}, ""),
    ("neural k=8", None, {"size": 8, "query": NEURAL}, ""),
    (
        "neural k=3 size 10",
        None,
        {
            "query": {
                "neural": {
                    "text_embedding": {
                        "query_text": "shock waves at Mach one",
                        "model_id": ONNX,
                        "k": 3,
                    }
                }
            }
        },
        "",
    ),
    (
        "neural min_score 0.3",
        None,
        {
            "query": {
                "neural": {
                    "text_embedding": {
                        "query_text": "lift on a wing",
                        "model_id": ONNX,
                        "min_score": 0.3,
                    }
                }
            }
        },
        "",
    ),
    (
        "neural max_distance 1.5",
        None,
        {
            "query": {
                "neural": {
                    "text_embedding": {
                        "query_text": "lift on a wing",
                        "model_id": ONNX,
                        "max_distance": 1.5,
                    }
                }
            }
        },
        "",
    ),
    (
        "neural with filter",
        None,
        {
            "query": {
                "neural": {
                    "text_embedding": {
                        "query_text": "lift on a wing",
                        "model_id": ONNX,
                        "k": 8,
                        "filter": {"range": {"n": {"gte": 4}}},
                    }
                }
            }
        },
        "",
    ),
    ("neural in bool with match", None, {"query": {"bool": {"should": [MATCH, NEURAL]}}}, ""),
    (
        "neural via neural_query_enricher",
        {"request_processors": [{"neural_query_enricher": {"default_model_id": ONNX}}]},
        {"query": {"neural": {"text_embedding": {"query_text": "boundary layer", "k": 5}}}},
        "",
    ),
    ("neural_sparse query_text (tokenizer)", None, {"query": SPARSE_Q}, ""),
    (
        "neural_sparse query_tokens",
        None,
        {
            "query": {
                "neural_sparse": {
                    "text_sparse": {"query_tokens": {"wing": 1.2, "lift": 0.5, "drag": 2.0}}
                }
            }
        },
        "",
    ),
    (
        "hybrid min_max arithmetic [0.3,0.7]",
        _norm("min_max", "arithmetic_mean", [0.3, 0.7]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "hybrid min_max geometric [0.4,0.6]",
        _norm("min_max", "geometric_mean", [0.4, 0.6]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "hybrid min_max harmonic [0.4,0.6]",
        _norm("min_max", "harmonic_mean", [0.4, 0.6]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "hybrid l2 arithmetic [0.3,0.7]",
        _norm("l2", "arithmetic_mean", [0.3, 0.7]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "hybrid l2 geometric [0.5,0.5]",
        _norm("l2", "geometric_mean", [0.5, 0.5]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "hybrid l2 harmonic [0.2,0.8]",
        _norm("l2", "harmonic_mean", [0.2, 0.8]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "hybrid min_max arithmetic, 3 sub-queries",
        _norm("min_max", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    (
        "hybrid l2 harmonic, 3 sub-queries",
        _norm("l2", "harmonic_mean", [0.2, 0.3, 0.5]),
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    (
        "hybrid min_max size 3",
        _norm("min_max", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL, size=3),
        "",
    ),
    (
        "RRF score-ranker default",
        {
            "phase_results_processors": [
                {"score-ranker-processor": {"combination": {"technique": "rrf"}}}
            ]
        },
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "RRF score-ranker combination.rank_constant 5",
        {
            "phase_results_processors": [
                {
                    "score-ranker-processor": {
                        "combination": {"technique": "rrf", "rank_constant": 5}
                    }
                }
            ]
        },
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        KNOWN["rrf-rank-constant"],
    ),
    (
        "RRF score-ranker combination.parameters.rank_constant 5",
        {
            "phase_results_processors": [
                {
                    "score-ranker-processor": {
                        "combination": {"technique": "rrf", "parameters": {"rank_constant": 5}}
                    }
                }
            ]
        },
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    (
        "hybrid rrf normalization + arithmetic_mean",
        _norm("rrf", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    ("rerank by_field n", _rerank(target_field="n"), {"query": MATCH}, ""),
    (
        "rerank by_field remove_target_field keep_previous_score",
        _rerank(target_field="n", remove_target_field=True, keep_previous_score=True),
        {"query": NEURAL},
        "",
    ),
]


def search_cases(sides: Sides) -> list[Case]:
    cases = []
    for number, (name, pipeline, body, known) in enumerate(SEARCHES):
        case = Case("search", name, known=known)
        ref = sides.ref_search(pipeline, body, f"diff-{number}")
        ours = sides.ours(lambda p=pipeline, b=body: sides.search(p, b, sides.index))  # type: ignore[misc]
        if ref[0] == 200 and ours[0] == 200:
            case.differences = compare_hits(ref[1], ours[1])
        else:
            _judge(case, sides, ref, ours)
        if pipeline is not None:
            sides.ref("DELETE", f"/_search/pipeline/diff-{number}")
        cases.append(case)
    return cases


# -- errors -----------------------------------------------------------------------------------
def _neural(**params: Any) -> JSONObject:
    return {"query": {"neural": {"text_embedding": params}}}


BAD_SEARCHES: list[tuple[str, JSONObject | None, JSONObject, str]] = [
    (
        "neural k + min_score",
        None,
        _neural(query_text="x", model_id=ONNX, k=3, min_score=0.2),
        KNOWN["neural-wording"],
    ),
    (
        "neural k + max_distance",
        None,
        _neural(query_text="x", model_id=ONNX, k=3, max_distance=0.2),
        KNOWN["neural-wording"],
    ),
    ("neural k=0", None, _neural(query_text="x", model_id=ONNX, k=0), ""),
    ("neural without query_text", None, _neural(model_id=ONNX, k=3), KNOWN["neural-wording"]),
    ("neural unknown parameter", None, _neural(query_text="x", model_id=ONNX, k=3, foo=1), ""),
    (
        "neural without model_id, no enricher",
        None,
        _neural(query_text="x", k=3),
        KNOWN["neural-npe"],
    ),
    (
        "neural unknown model",
        None,
        _neural(query_text="x", model_id="no-such-model", k=3),
        KNOWN["unknown-model"],
    ),
    (
        "neural on a text field",
        None,
        {"query": {"neural": {"text": {"query_text": "x", "model_id": ONNX, "k": 3}}}},
        "",
    ),
    (
        "neural two fields",
        None,
        {
            "query": {
                "neural": {
                    "text_embedding": {"query_text": "x", "model_id": ONNX, "k": 3},
                    "other": {"query_text": "x", "model_id": ONNX, "k": 3},
                }
            }
        },
        "",
    ),
    (
        "neural_sparse without query_text/query_tokens",
        None,
        {"query": {"neural_sparse": {"text_sparse": {"model_id": TOKENIZER}}}},
        "",
    ),
    (
        "neural_sparse query_text without model_id",
        None,
        {"query": {"neural_sparse": {"text_sparse": {"query_text": "wing"}}}},
        KNOWN["sparse-analyzer"],
    ),
    (
        "neural_sparse on a knn_vector field",
        None,
        {"query": {"neural_sparse": {"text_embedding": {"query_tokens": {"wing": 1.0}}}}},
        "",
    ),
    (
        "neural_sparse unknown parameter",
        None,
        {
            "query": {
                "neural_sparse": {"text_sparse": {"query_tokens": {"wing": 1.0}, "boosting": 2}}
            }
        },
        "",
    ),
    (
        "hybrid inside bool",
        _norm("min_max", "arithmetic_mean"),
        {
            "query": {
                "bool": {
                    "must": [{"hybrid": {"queries": [MATCH, NEURAL]}}],
                    "should": [{"match": {"title": "wing"}}],
                }
            }
        },
        "",
    ),
    ("hybrid with 6 sub-queries", _norm("min_max", "arithmetic_mean"), _hybrid(*([MATCH] * 6)), ""),
    (
        "hybrid weights count != sub-queries",
        _norm("min_max", "arithmetic_mean", [0.5, 0.5]),
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    ("hybrid without a fusion pipeline", None, _hybrid(MATCH, NEURAL), KNOWN["hybrid-no-pipeline"]),
    (
        "pipeline: z_score normalization",
        _norm("z_score", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL),
        KNOWN["z_score"],
    ),
    (
        "pipeline: unknown normalization",
        _norm("max_abs", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    ("pipeline: unknown combination", _norm("min_max", "median"), _hybrid(MATCH, NEURAL), ""),
    (
        "pipeline: weights not summing to 1",
        _norm("min_max", "arithmetic_mean", [0.5, 0.8]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "pipeline: negative weight",
        _norm("min_max", "arithmetic_mean", [-0.5, 1.5]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "pipeline: rerank by_field without target_field",
        _rerank(remove_target_field=True),
        {"query": MATCH},
        KNOWN["parse-exception"],
    ),
    (
        "pipeline: rerank without a type",
        {"response_processors": [{"rerank": {}}]},
        {"query": MATCH},
        "",
    ),
    ("rerank by_field on a missing field", _rerank(target_field="missing"), {"query": MATCH}, ""),
    ("rerank by_field on a text field", _rerank(target_field="title"), {"query": MATCH}, ""),
]


def _te(**options: Any) -> JSONObject:
    return {"processors": [{"text_embedding": options}]}


def _se(**options: Any) -> JSONObject:
    options = {"model_id": TOKENIZER, "field_map": {"text": "s"}, **options}
    return {"processors": [{"sparse_encoding": options}]}


def _tc(**options: Any) -> JSONObject:
    return {"processors": [{"text_chunking": {"field_map": {"text": "c"}, **options}}]}


BAD_PIPELINES: list[tuple[str, JSONObject, str]] = [
    (
        "text_embedding field_map value a number",
        _te(model_id=ONNX, field_map={"text": 5}),
        KNOWN["field-map-tostring"],
    ),
    (
        "text_embedding field_map value a list",
        _te(model_id=ONNX, field_map={"text": ["a"]}),
        KNOWN["field-map-tostring"],
    ),
    ("text_embedding empty field_map", _te(model_id=ONNX, field_map={}), ""),
    ("text_embedding without model_id", _te(field_map={"text": "e"}), KNOWN["parse-exception"]),
    (
        "text_embedding unknown option",
        _te(model_id=ONNX, field_map={"text": "e"}, foo=1),
        KNOWN["parse-exception"],
    ),
    ("sparse_encoding prune_ratio 1.5 max_ratio", _se(prune_type="max_ratio", prune_ratio=1.5), ""),
    ("sparse_encoding prune_ratio without prune_type", _se(prune_ratio=0.1), ""),
    ("sparse_encoding unknown prune_type", _se(prune_type="top_p", prune_ratio=0.1), ""),
    ("sparse_encoding top_k 2.5", _se(prune_type="top_k", prune_ratio=2.5), ""),
    ("sparse_encoding alpha_mass 1.2", _se(prune_type="alpha_mass", prune_ratio=1.2), ""),
    ("sparse_encoding abs_value -1", _se(prune_type="abs_value", prune_ratio=-1), ""),
    ("text_chunking token_limit 0", _tc(algorithm={"fixed_token_length": {"token_limit": 0}}), ""),
    (
        "text_chunking overlap_rate 0.6",
        _tc(algorithm={"fixed_token_length": {"overlap_rate": 0.6}}),
        "",
    ),
    (
        "text_chunking unknown tokenizer",
        _tc(algorithm={"fixed_token_length": {"tokenizer": "no_such"}}),
        KNOWN["chunking-tokenizers"],
    ),
    (
        "text_chunking unknown algorithm",
        _tc(algorithm={"sentence": {}}),
        KNOWN["chunking-algorithms"],
    ),
    (
        "text_chunking two algorithms",
        _tc(algorithm={"delimiter": {}, "fixed_token_length": {}}),
        "",
    ),
    ("text_chunking empty delimiter", _tc(algorithm={"delimiter": {"delimiter": ""}}), ""),
    ("text_chunking max_chunk_limit 0", _tc(algorithm={"delimiter": {"max_chunk_limit": 0}}), ""),
    (
        "text_chunking without field_map",
        {"processors": [{"text_chunking": {"algorithm": {"delimiter": {}}}}]},
        KNOWN["parse-exception"],
    ),
]

BAD_PREDICTS: list[tuple[str, str, JSONObject, str]] = [
    ("predict empty text_docs", ONNX, {"text_docs": []}, KNOWN["predict-type"]),
    ("predict no text_docs", ONNX, {}, KNOWN["predict-type"]),
    ("predict sparse empty text_docs", TOKENIZER, {"text_docs": []}, KNOWN["predict-type"]),
]


def error_cases(sides: Sides) -> list[Case]:
    cases = []
    for number, (name, pipeline, body, known) in enumerate(BAD_SEARCHES):
        case = Case("errors", name, known=known)
        ref = sides.ref_search(pipeline, body, f"diff-bad-{number}")
        ours = sides.ours(lambda p=pipeline, b=body: sides.search(p, b, sides.index))  # type: ignore[misc]
        if (ref[0], ours[0]) == (200, 200):
            case.differences = compare_hits(ref[1], ours[1])
        else:
            _judge(case, sides, ref, ours)
        if pipeline is not None:
            sides.ref("DELETE", f"/_search/pipeline/diff-bad-{number}")
        cases.append(case)
    doc = [{"_source": {"text": "hello world"}}]
    for name, pipeline, known in BAD_PIPELINES:
        case = Case("errors", name, known=known)
        ref = sides.ref("POST", "/_ingest/pipeline/_simulate",
                        {"pipeline": sides.to_ref(pipeline), "docs": doc})  # fmt: skip
        ours = sides.ours(lambda p=pipeline: sides.simulate(p, doc))  # type: ignore[misc]
        _judge(case, sides, ref, ours)
        cases.append(case)
    for name, model, body, known in BAD_PREDICTS:
        case = Case("errors", name, known=known)
        ref = sides.ref("POST", f"/_plugins/_ml/models/{sides.ref_ids[model]}/_predict", body)
        ours = sides.ours(lambda m=model, b=body: sides.predict(m, b))  # type: ignore[misc]
        _judge(case, sides, ref, ours)
        cases.append(case)
    return cases


def run_all(sides: Sides, categories: tuple[str, ...] = ("predict", "ingest", "search",
                                                          "errors")) -> list[Case]:  # fmt: skip
    """Every case of ``categories``; the search index is created on both nodes and dropped."""
    cases: list[Case] = []
    if "predict" in categories:
        cases += predict_cases(sides)
    if "ingest" in categories:
        cases += ingest_cases(sides)
    if "search" in categories or "errors" in categories:
        index_corpus(sides)
        try:
            if "search" in categories:
                cases += search_cases(sides)
            if "errors" in categories:
                cases += error_cases(sides)
        finally:
            drop_corpus(sides)
    return cases
