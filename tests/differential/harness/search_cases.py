"""Searches over the same corpus on both nodes: neural, neural_sparse, hybrid, RRF, rerank."""

from __future__ import annotations

import json
from typing import Any

import requests

from processors.settings import Settings
from tests.differential.harness.compare import Case
from tests.differential.harness.ingest_cases import _embed
from tests.differential.harness.known import KNOWN
from tests.differential.harness.sides import (
    ONNX,
    TOKENIZER,
    JSONObject,
    Sides,
    search_case,
    short_json,
)

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
            raise RuntimeError(f"reference node: {short_json(answer[1])}")
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
        raise RuntimeError(f"main node bulk: {short_json(result)}")


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


FUSIONS = [
    ("min_max", "arithmetic", [0.3, 0.7]),
    ("min_max", "geometric", [0.4, 0.6]),
    ("min_max", "harmonic", [0.4, 0.6]),
    ("l2", "arithmetic", [0.3, 0.7]),
    ("l2", "geometric", [0.5, 0.5]),
    ("l2", "harmonic", [0.2, 0.8]),
]
"""Normalization x combination (weights) of the two-sub-query hybrid cases."""


def _fusion_case(
    technique: str, mean: str, weights: list[float]
) -> tuple[str, JSONObject, JSONObject, str]:
    """``hybrid <technique> <mean> [w1,w2]``: match + neural fused by that pipeline."""
    name = f"hybrid {technique} {mean} [{','.join(map(str, weights))}]"
    return (name, _norm(technique, f"{mean}_mean", weights), _hybrid(MATCH, NEURAL), "")


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
    *(_fusion_case(*fusion) for fusion in FUSIONS),
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
        cases.append(search_case(case, sides, pipeline, body, f"diff-{number}"))
    return cases
