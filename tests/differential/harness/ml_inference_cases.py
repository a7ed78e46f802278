"""``ml_inference`` ingest and search request processors on both sides (TEXT_EMBEDDING).

Only TEXT_EMBEDDING models run on both sides: ml-commons has no local runtime for NER,
fill-mask or text / zero-shot classification (they are neuralpipe's, after Elastic), and its
local QUESTION_ANSWERING sentence highlighter expects a TorchScript graph that returns
sentence indices, while neuralpipe's export returns per-token logits (the same numbers, the
choice made in numpy): neither is diffed here (the parity tests check them against
``transformers``).
"""

from __future__ import annotations

import json
from typing import Any

from tests.differential.harness.compare import Case, compare_json
from tests.differential.harness.known import KNOWN
from tests.differential.harness.sides import ONNX, JSONObject, Sides, judge, search_case

EMBED_INPUT = '{ "text_docs": ["${input_map.text}"] }'
DATA = "$.inference_results[0].output[0].data"


def _ingest(**extra: Any) -> JSONObject:
    body = {"model_id": ONNX, "function_name": "text_embedding", "model_input": EMBED_INPUT,
            "input_map": [{"text": "text"}], "output_map": [{"emb": DATA}], **extra}  # fmt: skip
    return {"processors": [{"ml_inference": {k: v for k, v in body.items() if v is not None}}]}


DOC = [{"_index": "i", "_id": "1", "_source": {"text": "lift on a swept wing"}}]
NO_TEXT = [{"_index": "i", "_id": "1", "_source": {"title": "no text here"}}]

INGEST: list[tuple[str, JSONObject, list[JSONObject], str]] = [
    ("ml_inference text_embedding data", _ingest(), DOC, ""),
    (
        "ml_inference text_embedding shape and whole output",
        _ingest(
            output_map=[
                {
                    "shape": "$.inference_results[0].output[0].shape",
                    "name": "$.inference_results[0].output[0].name",
                }
            ]
        ),
        DOC,
        "",
    ),
    ("ml_inference missing input field", _ingest(), NO_TEXT, ""),
    (
        "ml_inference ignore_missing",
        _ingest(ignore_missing=True),
        NO_TEXT,
        KNOWN["ml-inference-ignore-missing"],
    ),
    (
        "ml_inference output path matching nothing",
        _ingest(output_map=[{"emb": "$.inference_results[0].output[0].nothing"}]),
        DOC,
        KNOWN["ml-inference-output-path"],
    ),
    (
        "ml_inference ignore_failure",
        _ingest(
            output_map=[{"emb": "$.inference_results[0].output[0].nothing"}], ignore_failure=True
        ),
        DOC,
        "",
    ),
    (
        "ml_inference local model without model_input",
        _ingest(model_input=None),
        DOC,
        "",
    ),
]


def _request(**extra: Any) -> JSONObject:
    body = {"model_id": ONNX, "function_name": "text_embedding", "model_input": EMBED_INPUT,
            "input_map": [{"text": "query.term.text.value"}], "output_map": [{"vector": DATA}],
            "query_template": '{"size": 3, "query": {"knn": {"text_embedding": '
                              '{"vector": ${vector}, "k": 3}}}}', **extra}  # fmt: skip
    return {"request_processors": [{"ml_inference": {k: v for k, v in body.items()
                                                     if v is not None}}]}  # fmt: skip


TERM = {"query": {"term": {"text": {"value": "lift on a wing"}}}}
SHORT_TERM = {"query": {"term": {"text": "lift on a wing"}}}
MATCH_ALL = {"query": {"match_all": {}}, "size": 3}
SHOULD = {"size": 3, "query": {"bool": {"should": [
    {"match": {"title": "drag"}},
    {"knn": {"text_embedding": {"vector": [0.0] * 384, "k": 3}}}]}}}  # fmt: skip

SEARCHES: list[tuple[str, JSONObject, JSONObject, str]] = [
    ("ml_inference query_template knn", _request(), TERM, ""),
    ("ml_inference term short form", _request(), SHORT_TERM, ""),
    (
        "ml_inference vector into the query",
        _request(
            query_template=None,
            input_map=[{"text": "query.bool.should[0].match.title.query"}],
            output_map=[{"query.bool.should[1].knn.text_embedding.vector": DATA}],
        ),
        SHOULD,
        "",
    ),
    ("ml_inference missing query field", _request(), MATCH_ALL, KNOWN["ml-inference-query-string"]),
    ("ml_inference ignore_missing", _request(ignore_missing=True), MATCH_ALL, ""),
    (
        "ml_inference ignore_failure",
        _request(output_map=[{"vector": "$.nothing"}], ignore_failure=True),
        TERM,
        "",
    ),
    (
        "ml_inference search output path matching nothing",
        _request(output_map=[{"vector": "$.nothing"}]),
        TERM,
        "",
    ),
    ("ml_inference search without model_input", _request(model_input=None), TERM, ""),
    ("ml_inference search without output_map", _request(output_map=[]), TERM, ""),
    (
        "ml_inference search map lengths differ",
        _request(output_map=[{"vector": DATA}, {"v2": DATA}]),
        TERM,
        "",
    ),
]


def ml_inference_ingest_cases(sides: Sides) -> list[Case]:
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
            judge(case, sides, ref, ours)
        cases.append(case)
    return cases


def ml_inference_search_cases(sides: Sides) -> list[Case]:
    """Needs the search corpus indexed (:func:`.search_cases.index_corpus`)."""
    cases = []
    for number, (name, pipeline, body, known) in enumerate(SEARCHES):
        case = Case("search", name, known=known)
        cases.append(search_case(case, sides, pipeline, body, f"diff-mli-{number}"))
    return cases
