"""``hybrid`` with ``collapse`` and with ``inner_hits`` (neural-search 3.x) on both nodes.

Its own small index (one shard, no model: ``match``, ``nested`` and ``neural_sparse`` with
``query_tokens`` sub-queries), written the same way to both nodes: a keyword ``cat`` (one
document without it), an integer ``n``, a ``nested`` ``parts`` and a ``rank_features`` field.
Collapse on a keyword and on a number under each fusion, with pagination and ``min_score``;
``inner_hits`` of ``nested`` sub-queries (alone and with collapse); the node's refusals.
"""

from __future__ import annotations

import json
import os
from typing import Any

import requests

from tests.differential.harness.compare import Case, compare_hits, compare_json
from tests.differential.harness.sides import JSONObject, Sides, judge, short_json

INDEX = f"neuralpipe-diff-collapse-{os.getpid()}"
MAPPING: JSONObject = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "properties": {
            "text": {"type": "text"},
            "cat": {"type": "keyword"},
            "n": {"type": "integer"},
            "sparse": {"type": "rank_features"},
            "parts": {
                "type": "nested",
                "properties": {"name": {"type": "text"}, "w": {"type": "integer"}},
            },
        }
    },
}
DOCS: list[tuple[str, str, str | None, int, list[JSONObject]]] = [
    ("1", "the wing produces lift", "a", 1, [{"name": "wing spar", "w": 1}, {"name": "flap", "w": 2}]),
    ("2", "a shock wave in a nozzle", "b", 2, [{"name": "nozzle throat", "w": 3}]),
    ("3", "boundary layer on a wing", "a", 3, [{"name": "wing skin", "w": 4}]),
    ("4", "lift and drag of a swept wing", "b", 2, []),
    ("5", "heat flux in a nozzle", "c", 1, [{"name": "nozzle wall", "w": 5}, {"name": "wing root", "w": 6}]),
    ("6", "wing lift at stall", "c", 3, [{"name": "slat", "w": 7}]),
    ("7", "drag of the nozzle", "a", 2, [{"name": "wing tip", "w": 8}]),
    ("8", "no category here: wing", None, 1, []),
    ("9", "lift lift lift", "d", 3, [{"name": "wing box", "w": 9}]),
]  # fmt: skip

WING = {"match": {"text": "wing lift"}}
NOZZLE = {"match": {"text": "nozzle drag"}}
SPARSE = {"neural_sparse": {"sparse": {"query_tokens": {"wing": 2.0, "nozzle": 1.0}}}}
PARTS = {"nested": {"path": "parts", "query": {"match": {"parts.name": "wing"}}, "inner_hits": {}}}


def _sparse_of(text: str) -> dict[str, float]:
    words = text.replace(":", "").split()
    return {w: float(words.count(w)) for w in dict.fromkeys(words)}


def _norm(technique: str = "min_max", combination: str = "arithmetic_mean",
          weights: list[float] | None = None) -> JSONObject:  # fmt: skip
    comb: JSONObject = {"technique": combination}
    if weights:
        comb["parameters"] = {"weights": weights}
    return {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": technique},
                    "combination": comb,
                }
            }
        ]
    }


RRF = {
    "phase_results_processors": [{"score-ranker-processor": {"combination": {"technique": "rrf"}}}]
}


def _hybrid(*queries: JSONObject, size: int = 6, **body: Any) -> JSONObject:
    return {"size": size, "query": {"hybrid": {"queries": list(queries)}}, **body}


KEYWORD: dict[str, Any] = {"collapse": {"field": "cat"}}
NUMBER: dict[str, Any] = {"collapse": {"field": "n"}}
SEARCHES: list[tuple[str, JSONObject, JSONObject, str]] = [
    ("collapse keyword, min_max", _norm(), _hybrid(WING, NOZZLE, **KEYWORD), ""),
    (
        "collapse keyword, l2 geometric [0.3,0.7], 3 sub-queries",
        _norm("l2", "geometric_mean", [0.3, 0.2, 0.5]),
        _hybrid(WING, NOZZLE, SPARSE, **KEYWORD),
        "",
    ),
    ("collapse keyword, RRF", RRF, _hybrid(WING, NOZZLE, SPARSE, **KEYWORD), ""),
    (
        "collapse integer, min_max harmonic",
        _norm(combination="harmonic_mean"),
        _hybrid(WING, NOZZLE, **NUMBER),
        "",
    ),
    (
        "collapse keyword, pagination_depth 10 from 1 size 2",
        _norm(),
        {
            "from": 1,
            "size": 2,
            "collapse": {"field": "cat"},
            "query": {"hybrid": {"queries": [WING, NOZZLE], "pagination_depth": 10}},
        },
        "",
    ),
    (
        "collapse keyword, min_score 0.3",
        _norm(),
        _hybrid(WING, NOZZLE, min_score=0.3, **KEYWORD),
        "",
    ),
    (
        "collapse keyword, size 2 (fewer groups collected)",
        _norm(),
        _hybrid(WING, NOZZLE, size=2, **KEYWORD),
        "",
    ),
    ("inner_hits of a nested sub-query", _norm(), _hybrid(WING, PARTS), ""),
    (
        "named inner_hits with size and _source",
        _norm("l2"),
        _hybrid(
            NOZZLE,
            {
                "nested": {
                    "path": "parts",
                    "query": {"match": {"parts.name": "wing nozzle"}},
                    "inner_hits": {"name": "ps", "size": 1, "_source": ["parts.w"]},
                }
            },
        ),
        "",
    ),
    ("inner_hits + collapse keyword", _norm(), _hybrid(WING, PARTS, **KEYWORD), ""),
]
BAD: list[tuple[str, JSONObject, JSONObject, str]] = [
    ("collapse on a text field", _norm(), _hybrid(WING, NOZZLE, collapse={"field": "text"}), ""),
    ("collapse on an unmapped field", _norm(), _hybrid(WING, NOZZLE, collapse={"field": "zz"}), ""),
]


def index_collapse_corpus(sides: Sides) -> None:
    """The corpus in :data:`INDEX` on both nodes (no ingest pipeline: nothing to embed)."""
    lines = ""
    actions: list[JSONObject] = []
    for doc_id, text, cat, n, parts in DOCS:
        source: JSONObject = {"text": text, "n": n, "parts": parts, "sparse": _sparse_of(text)}
        if cat is not None:
            source["cat"] = cat
        lines += json.dumps({"index": {"_id": doc_id}}) + "\n" + json.dumps(source) + "\n"
        actions += [{"index": {"_id": doc_id}}, source]
    sides.ref("DELETE", f"/{INDEX}")
    created = sides.ref("PUT", f"/{INDEX}", MAPPING)
    if created[0] != 200:
        raise RuntimeError(f"reference node: {short_json(created[1])}")
    done = requests.post(
        f"{sides.ref_url}/{INDEX}/_bulk",
        data=lines,
        params={"refresh": "true"},
        headers={"Content-Type": "application/x-ndjson"},
        timeout=300,
    )
    if done.status_code != 200 or done.json().get("errors"):
        raise RuntimeError(f"reference bulk: {done.text[:500]}")
    client = sides.client
    client.indices.delete(index=INDEX, ignore_unavailable=True)
    client.indices.create(index=INDEX, body=MAPPING)
    result = client.bulk(index=INDEX, body=actions, refresh=True)
    if result.get("errors"):
        raise RuntimeError(f"main node bulk: {short_json(result)}")


def _hit_extras(ref: JSONObject, ours: JSONObject) -> list[str]:
    """Each hit's ``fields`` (the collapse value) and ``inner_hits`` on both sides."""
    out: list[str] = []
    for i, (a, b) in enumerate(zip(ref["hits"]["hits"], ours["hits"]["hits"], strict=False)):
        for key in ("fields", "inner_hits"):
            out += compare_json(a.get(key), b.get(key), f"hits[{i}].{key}")
    return out


def hybrid_collapse_cases(sides: Sides) -> list[Case]:
    """Every case; the corpus is written to both nodes first and dropped at the end."""
    index_collapse_corpus(sides)
    cases = []
    try:
        for number, (name, pipeline, body, known) in enumerate(SEARCHES + BAD):
            case = Case("hybrid_collapse", name, known=known)
            pipeline_id = f"diff-collapse-{number}"
            ref = sides.ref("PUT", f"/_search/pipeline/{pipeline_id}", pipeline)
            if ref[0] == 200:
                ref = sides.ref("POST", f"/{INDEX}/_search", body, search_pipeline=pipeline_id)
            ours = sides.ours(lambda p=pipeline, b=body: sides.search(p, b, INDEX))  # type: ignore[misc]
            if ref[0] == 200 and ours[0] == 200:
                case.differences = compare_hits(ref[1], ours[1]) + _hit_extras(ref[1], ours[1])
            else:
                judge(case, sides, ref, ours)
            sides.ref("DELETE", f"/_search/pipeline/{pipeline_id}")
            cases.append(case)
    finally:
        sides.ref("DELETE", f"/{INDEX}")
        sides.client.indices.delete(index=INDEX, ignore_unavailable=True)
    return cases
