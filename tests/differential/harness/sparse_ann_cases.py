"""``sparse_vector`` fields and ``neural_sparse`` with ``method_parameters`` on both nodes (3.3+).

The reference node maps a real SEISMIC ``sparse_vector`` field; neuralpipe creates the index as
its proxy does (:func:`processors.config.sparse_vector_mapping.to_node_body`) and shows the
mapping as its proxy does. Documents are embedded by each side's ``sparse_encoding`` (token ids
into the ``sparse_vector`` field, as the plugin asks the model), then searched with token-id
``query_tokens``, a sparse model and the default ``bert-uncased`` analyzer.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import requests

from processors.config.sparse_vector_mapping import restore_mapping, to_node_body
from tests.differential.harness.compare import Case, compare_hits, compare_json
from tests.differential.harness.known import KNOWN_SPARSE_ANN
from tests.differential.harness.sides import SPLADE_ONNX, TOKENIZER, JSONObject, Sides, judge

DOCS = [
    ("1", "A swept wing delays wave drag at transonic speed.", 3),
    ("2", "Skin friction and pressure drag add up to the total drag.", 1),
    ("3", "Shock waves form on the upper surface near Mach one.", 5),
    ("4", "Vortex generators re-energise the boundary layer.", 2),
    ("5", "Thin airfoil theory predicts a lift slope of two pi.", 6),
    ("6", "At high angle of attack the flow separates and lift drops.", 8),
]
PIPELINE = {
    "processors": [
        {"sparse_encoding": {"model_id": SPLADE_ONNX, "field_map": {"text": "emb"}}},
    ]
}


def index_body(threshold: int | None = None) -> JSONObject:
    parameters: JSONObject = {"n_postings": 10, "cluster_ratio": 0.1, "summary_prune_ratio": 0.4}
    if threshold is not None:
        parameters["approximate_threshold"] = threshold
    return {
        "settings": {"index": {"sparse": True, "number_of_shards": 1, "number_of_replicas": 0}},
        "mappings": {
            "properties": {
                "emb": {
                    "type": "sparse_vector",
                    "method": {"name": "seismic", "parameters": parameters},
                },
                "text": {"type": "text"},
                "n": {"type": "integer"},
            }
        },
    }


def _sparse(params: JSONObject) -> JSONObject:
    return {"query": {"neural_sparse": {"emb": params}}}


TOKENS = {"3358": 1.2, "6336": 0.8, "8011": 1.5, "4": 0.1}
"""wing, lift, drag (bert-uncased ids) and a small weight on token 4."""

SEARCHES: list[tuple[str, JSONObject, str]] = [
    ("sparse_vector query_tokens (ids)", _sparse({"query_tokens": TOKENS}), ""),
    (
        "sparse_vector method_parameters k/top_n/heap_factor",
        _sparse(
            {
                "query_tokens": TOKENS,
                "method_parameters": {"k": 2, "top_n": 2, "heap_factor": 1.5},
            }
        ),
        "",
    ),
    (
        "sparse_vector method_parameters filter",
        _sparse(
            {
                "query_tokens": TOKENS,
                "method_parameters": {"k": 3, "filter": {"range": {"n": {"gte": 3}}}},
            }
        ),
        "",
    ),
    (
        "sparse_vector model_id (TOKEN_ID query)",
        _sparse({"query_text": "wing lift drag", "model_id": SPLADE_ONNX}),
        "",
    ),
    (
        "sparse_vector tokenizer model (TOKEN_ID query)",
        _sparse({"query_text": "wing lift drag", "model_id": TOKENIZER}),
        "",
    ),
    (
        "sparse_vector default analyzer (TOKEN_ID)",
        _sparse({"query_text": "shock waves near mach one"}),
        "",
    ),
    (
        "sparse_vector in bool with match, _name, boost",
        {
            "query": {
                "bool": {
                    "should": [
                        {"match": {"text": "lift"}},
                        {
                            "neural_sparse": {
                                "emb": {"query_tokens": TOKENS, "boost": 2.0, "_name": "s"}
                            }
                        },
                    ]
                }
            }
        },
        "",
    ),
]
ERRORS: list[tuple[str, JSONObject]] = [
    ("method_parameters k 0", _sparse({"query_tokens": TOKENS, "method_parameters": {"k": 0}})),
    (
        "method_parameters top_n -1",
        _sparse({"query_tokens": TOKENS, "method_parameters": {"top_n": -1}}),
    ),
    (
        "method_parameters heap_factor 0",
        _sparse({"query_tokens": TOKENS, "method_parameters": {"heap_factor": 0}}),
    ),
    (
        "method_parameters unknown field",
        _sparse({"query_tokens": TOKENS, "method_parameters": {"foo": 1}}),
    ),
    (
        "method_parameters not an object",
        _sparse({"query_tokens": TOKENS, "method_parameters": [1]}),
    ),
    ("sparse_vector query token not an id", _sparse({"query_tokens": {"wing": 1.0}})),
    ("sparse_vector query token negative", _sparse({"query_tokens": {"-3": 1.0}})),
    (
        "sparse_vector analyzer with model_id",
        _sparse({"query_text": "wing", "model_id": TOKENIZER, "analyzer": "bert-uncased"}),
    ),
]
BAD_MAPPINGS: list[tuple[str, JSONObject]] = [
    ("sparse_vector without method", {"type": "sparse_vector"}),
    ("sparse_vector method name foo", {"type": "sparse_vector", "method": {"name": "foo"}}),
    (
        "sparse_vector bad parameters",
        {
            "type": "sparse_vector",
            "method": {
                "name": "seismic",
                "parameters": {"cluster_ratio": 1.5, "n_postings": 0, "x": 1},
            },
        },
    ),
]


def sparse_ann_cases(sides: Sides) -> list[Case]:
    """Mapping, ingest, searches and errors of ``sparse_vector`` fields on both nodes."""
    index = f"{sides.index}-sparse-ann"
    cases = [_mapping_case(sides, index)]
    try:
        cases.append(_ingest_case(sides, index))
        cases += _search_cases(sides, index)
        cases += _ann_case(sides, f"{index}-ann")
        cases += [_bad_mapping_case(sides, f"{index}-bad", n, m) for n, m in BAD_MAPPINGS]
    finally:
        for name in (index, f"{index}-ann", f"{index}-bad"):
            sides.ref("DELETE", f"/{name}")
            sides.client.indices.delete(index=name, ignore_unavailable=True)
        sides.ref("DELETE", "/_ingest/pipeline/diff-sparse-ann")
    return cases


def _create(sides: Sides, index: str, body: JSONObject) -> tuple[Any, Any]:
    sides.ref("DELETE", f"/{index}")
    sides.client.indices.delete(index=index, ignore_unavailable=True)
    ref = sides.ref("PUT", f"/{index}", body)
    ours = sides.ours(lambda: sides.client.indices.create(index=index, body=to_node_body(body)))
    return ref, ours


def _mapping_case(sides: Sides, index: str) -> Case:
    case = Case("sparse_ann", "PUT/GET sparse_vector mapping (index.sparse)")
    ref, ours = _create(sides, index, index_body())
    if ref[0] != 200 or ours[0] != 200:
        judge(case, sides, ref, ours)
        return case
    ref_map = sides.ref("GET", f"/{index}/_mapping")[1][index]
    node = sides.client.indices.get_mapping(index=index)[index]
    case.differences = compare_json(ref_map, {"mappings": restore_mapping(node["mappings"])})
    ref_setting = sides.ref("GET", f"/{index}/_settings/index.sparse", flat_settings="true")[1]
    if ref_setting[index]["settings"].get("index.sparse") != "true":
        case.differences.append(f"reference index.sparse: {ref_setting}")
    return case


def _docs(index: str) -> list[JSONObject]:
    return [{"_index": index, "_id": i, "_source": {"text": t, "n": n}} for i, t, n in DOCS]


def _ingest_case(sides: Sides, index: str) -> Case:
    """``_simulate`` with ``_index``: token ids into the ``sparse_vector`` field; then both
    sides index the documents."""
    case = Case("sparse_ann", "sparse_encoding into sparse_vector (TOKEN_ID)")
    put = sides.ref("PUT", "/_ingest/pipeline/diff-sparse-ann", sides.to_ref(PIPELINE))
    if put[0] != 200:
        case.differences = [f"reference pipeline PUT: {put}"]
        return case
    docs = _docs(index)
    ref = sides.ref("POST", "/_ingest/pipeline/diff-sparse-ann/_simulate", {"docs": docs})
    ours = sides.ours(lambda: sides.simulate(PIPELINE, copy.deepcopy(docs)))
    judge(case, sides, ref, ours)
    if ours[0] == 200:
        ids = all(k.isdigit() for d in ours[1]["docs"] for k in d["doc"]["_source"]["emb"])
        if not ids:
            case.differences.append("neuralpipe wrote words, not token ids")
        _index_both(sides, index, ours[1]["docs"])
    return case


def _index_both(sides: Sides, index: str, embedded: list[JSONObject]) -> None:
    lines = "".join(
        json.dumps({"index": {"_id": i}}) + "\n" + json.dumps({"text": t, "n": n}) + "\n"
        for i, t, n in DOCS
    )
    done = requests.post(
        f"{sides.ref_url}/{index}/_bulk",
        data=lines,
        params={"pipeline": "diff-sparse-ann", "refresh": "true"},
        headers={"Content-Type": "application/x-ndjson"},
        timeout=300,
    )
    if done.status_code != 200 or done.json().get("errors"):
        raise RuntimeError(f"reference bulk: {done.text[:500]}")
    actions: list[JSONObject] = []
    for (doc_id, _, _), item in zip(DOCS, embedded, strict=True):
        actions += [{"index": {"_id": doc_id}}, item["doc"]["_source"]]
    result = sides.client.bulk(index=index, body=actions, refresh=True)
    if result.get("errors"):
        raise RuntimeError(f"main node bulk: {json.dumps(result)[:500]}")


def _search(sides: Sides, index: str, body: JSONObject) -> tuple[Any, Any]:
    ref = sides.ref("POST", f"/{index}/_search", sides.to_ref(body))
    ours = sides.ours(lambda: sides.search(None, body, index))
    return ref, ours


def _search_cases(sides: Sides, index: str) -> list[Case]:
    cases = []
    for name, body, known in SEARCHES:
        case = Case("sparse_ann", name, known=known)
        ref, ours = _search(sides, index, body)
        if ref[0] == 200 and ours[0] == 200:
            case.differences = compare_hits(ref[1], ours[1])
        else:
            judge(case, sides, ref, ours)
        cases.append(case)
    for name, body in ERRORS:
        case = Case("errors", name, known=KNOWN_SPARSE_ANN.get(name, ""))
        judge(case, sides, *_search(sides, index, body))
        cases.append(case)
    return cases


def _ann_case(sides: Sides, index: str) -> list[Case]:
    """``approximate_threshold: 0``: the plugin runs SEISMIC (k per segment, quantized
    scores); neuralpipe the exact top ``k``."""
    case = Case(
        "sparse_ann", "SEISMIC active (approximate_threshold 0), k 2", known=KNOWN_SPARSE_ANN["ann"]
    )
    ref, ours = _create(sides, index, index_body(threshold=0))
    if ref[0] != 200 or ours[0] != 200:
        judge(case, sides, ref, ours)
        return [case]
    docs = _docs(index)
    embedded = sides.simulate(PIPELINE, copy.deepcopy(docs))["docs"]
    _index_both(sides, index, embedded)
    body = _sparse({"query_tokens": TOKENS, "method_parameters": {"k": 2}})
    ref, ours = _search(sides, index, body)
    if ref[0] == 200 and ours[0] == 200:
        case.differences = compare_hits(ref[1], ours[1])
        ref_ids = [h["_id"] for h in ref[1]["hits"]["hits"]]
        our_ids = [h["_id"] for h in ours[1]["hits"]["hits"]]
        if len(our_ids) > 2 or not set(ref_ids) <= set(our_ids) | set(ref_ids[len(our_ids) :]):
            case.differences.append(f"neuralpipe {our_ids} vs reference {ref_ids}")
            case.known = ""
    else:
        judge(case, sides, ref, ours)
    return [case]


def _bad_mapping_case(sides: Sides, index: str, name: str, field: JSONObject) -> Case:
    case = Case("errors", name, known=KNOWN_SPARSE_ANN.get(name, ""))
    body = {"settings": {"index.sparse": True}, "mappings": {"properties": {"emb": field}}}
    ref, ours = _create(sides, index, body)
    judge(case, sides, ref, ours)
    return case
