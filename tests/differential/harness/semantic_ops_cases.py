"""More of the 3.x surface through the proxy, against the 3.6 reference node (category
``semantic_ops``): ``semantic_field_search_analyzer`` at query time, ``_bulk`` ``update``
actions on semantic fields, ``index.neural_search.semantic_ingest_batch_size`` and the
``sparse_vector`` mapper's refusals of documents.

Both sides get the same REST calls (:class:`~tests.differential.harness.semantic_cases._Run`:
the reference node, and the proxy served in this process in front of the main node).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import requests

from tests.differential.harness.compare import Case
from tests.differential.harness.semantic_cases import (
    DOCS,
    SPARSE_MODEL,
    Proxy,
    _index,
    _mapping_of,
    _Run,
    _search,
    _semantic,
    _sources,
    proxy_for,
)
from tests.differential.harness.sides import TOKENIZER, Answer, JSONObject, Sides

CATEGORY = "semantic_ops"


class _OpsRun(_Run):
    """A scenario of this category: its own index name, its cases in :data:`CATEGORY`."""

    def __init__(self, sides: Sides, proxy: Proxy, name: str, suffix: str) -> None:
        super().__init__(sides, proxy, name)
        self.index = f"{sides.index}-{suffix}"

    def case(self, what: str, ref: Answer, ours: Answer, *, hits: bool = False) -> Case:
        case = super().case(what, ref, ours, hits=hits)
        case.category = CATEGORY
        return case

    def ndjson(self, lines: list[JSONObject], **params: Any) -> tuple[Answer, Answer]:
        """The same ``_bulk`` body to both sides (``refresh=true``)."""
        data = "\n".join(json.dumps(line) for line in lines) + "\n"
        head = {"Content-Type": "application/x-ndjson"}
        answers = []
        for url in (self.sides.ref_url, self.proxy.url):
            got = requests.post(f"{url}/_bulk", data=data, headers=head,
                                params={"refresh": "true", **params}, timeout=600)  # fmt: skip
            answers.append((got.status_code, got.json()))
        return answers[0], answers[1]


def _items(answer: Answer) -> Answer:
    """A ``_bulk`` answer reduced to what both sides must agree on, item by item."""
    status, body = answer
    if status != 200 or not isinstance(body, dict) or "items" not in body:
        return answer
    out = []
    for item in body["items"]:
        (op, result), = item.items()  # fmt: skip
        kept = {k: result.get(k) for k in ("_id", "status", "result") if k in result}
        if "error" in result:
            error = result["error"]
            kept["error"] = {k: error.get(k) for k in ("type", "reason", "caused_by")}
        out.append({op: kept})
    return status, {"errors": body.get("errors"), "items": out}


def _without_noise(answer: Answer) -> Answer:
    """A write's answer without what differs between two nodes (shards, seq_no, uuids)."""
    status, body = answer
    if not isinstance(body, dict):
        return answer
    drop = ("_shards", "_seq_no", "_primary_term", "took", "ingest_took")
    return status, {k: v for k, v in body.items() if k not in drop}


# -- semantic_field_search_analyzer ---------------------------------------------------------
def _analyzer_cases(sides: Sides, proxy: Proxy) -> list[Case]:
    """A sparse field whose mapping names ``bert-uncased`` (chunked: nested queries), and one
    without: ``neural`` takes the field's analyzer, the query's, or a ``model_id``."""
    run = _OpsRun(sides, proxy, "search analyzer", "semops-an")
    body = _index({
        "text": _semantic(SPARSE_MODEL, chunking=True, semantic_field_search_analyzer="bert-uncased"),
        "plain": _semantic(SPARSE_MODEL),
    })  # fmt: skip
    return run.scenario(body, _analyzer_steps(run))


def _analyzer_steps(run: _OpsRun) -> Iterator[Case]:
    mapping = run.both("GET", f"/{run.index}/_mapping")
    yield run.case("GET _mapping", *(_mapping_of(m, run.index) for m in mapping))
    docs = [(i, {**s, "plain": s["text"]}) for i, s in DOCS]
    run.bulk(docs)
    searches: list[tuple[str, JSONObject]] = [
        ("neural with the field's analyzer (doc-only)", {"text": {"query_text": "shock waves on a wing"}}),
        ("the field's analyzer, boost and _name", {"text": {"query_text": "rocket oxidiser", "boost": 2.0, "_name": "q"}}),
        ("model_id in the query over the field's analyzer", {"text": {"query_text": "shock waves on a wing", "model_id": TOKENIZER}}),
        ("the query's analyzer on a field without one", {"plain": {"query_text": "heat shields re-entry", "semantic_field_search_analyzer": "bert-uncased"}}),
        ("the query's analyzer and model_id", {"plain": {"query_text": "wing", "semantic_field_search_analyzer": "bert-uncased", "model_id": TOKENIZER}}),
        ("the query's analyzer and query_tokens", {"text": {"query_tokens": {"wing": 1.0}, "semantic_field_search_analyzer": "bert-uncased"}}),
        ("an empty semantic_field_search_analyzer", {"plain": {"query_text": "wing", "semantic_field_search_analyzer": ""}}),
        ("the query's standard analyzer (an index analyzer)", {"plain": {"query_text": "Heat shields, re-entry heat", "semantic_field_search_analyzer": "standard"}}),
        ("the query's whitespace analyzer on a chunked field", {"text": {"query_text": "wing Shock waves", "semantic_field_search_analyzer": "whitespace"}}),
    ]  # fmt: skip
    for what, neural in searches:
        query = {"query": {"neural": neural}, "_source": False}
        yield run.case(what, *_search(run, query), hits=True)
    hybrid = {
        "query": {"hybrid": {"queries": [
            {"match": {"tag": "wing"}},
            {"neural": {"text": {"query_text": "re-entry heat"}}},
        ]}},
        "_source": False,
    }  # fmt: skip
    pipeline = {"phase_results_processors": [{"normalization-processor": {
        "normalization": {"technique": "min_max"},
        "combination": {"technique": "arithmetic_mean"}}}]}  # fmt: skip
    yield run.case("hybrid with the field's analyzer", *_search(run, hybrid, pipeline), hits=True)


# -- _bulk update ------------------------------------------------------------------------------
UPDATES: list[JSONObject] = [
    {"update": {"_id": "1"}}, {"doc": {"text": "A glider has no engine."}},
    {"update": {"_id": "2"}}, {"doc": {"tag": "changed"}},
    {"update": {"_id": "4"}}, {"doc": {"text": "Comets grow tails near the sun."}, "doc_as_upsert": True},
    {"update": {"_id": "5"}}, {"doc": {"text": "ignored"}, "upsert": {"text": "Meteors burn up."}},
    {"update": {"_id": "3"}}, {"doc": {"text": "Parachutes slow the capsule."}, "upsert": {"text": "unused"}},
    {"update": {"_id": "6"}}, {"doc": {"text": "no such document"}},
    {"update": {"_id": "2"}}, {"script": {"source": "ctx._source.tag = params.t", "params": {"t": "s"}}},
]  # fmt: skip
"""Updates of the stored documents 1-3 and upserts of 4-5: a ``doc`` goes through the semantic
processor and the node merges it (sparse embeddings of old and new text merge key by key, as
on the 3.6 node), an upsert document is embedded, a script is not looked at."""


def _with_index(lines: list[JSONObject], index: str) -> list[JSONObject]:
    out = []
    for line in lines:
        op = next(iter(line)) if len(line) == 1 else None
        out.append({op: {"_index": index, **line[op]}} if op in ("update", "index") else line)
    return out


def _update_cases(sides: Sides, proxy: Proxy) -> list[Case]:
    run = _OpsRun(sides, proxy, "bulk update", "semops-up")
    body = _index(
        {"text": _semantic(SPARSE_MODEL)},
        **{"index.neural_search.semantic_ingest_batch_size": 2},
    )
    return run.scenario(body, _update_steps(run))


def _update_steps(run: _OpsRun) -> Iterator[Case]:
    run.bulk(DOCS)
    updated = run.ndjson(_with_index(UPDATES, run.index))
    yield run.case("_bulk update items", *(_items(a) for a in updated))
    yield run.case("_source after _bulk update", *_sources(run, ["1", "2", "3", "4", "5"]))
    bad = {"doc": {"text": 5}}
    upsert_bad = run.ndjson(
        _with_index([{"update": {"_id": "2"}}, {**bad, "doc_as_upsert": True}], run.index)
    )
    yield run.case("_bulk update refused (doc_as_upsert)", *(_items(a) for a in upsert_bad))
    plain_bad = run.ndjson(_with_index([{"update": {"_id": "1"}}, bad], run.index))
    yield run.case("_bulk update refused (no upsert)", *plain_bad)
    yield run.case("_source after refused updates", *_sources(run, ["1", "2"]))


# -- semantic_ingest_batch_size ---------------------------------------------------------------
BATCH_SIZE = "index.neural_search.semantic_ingest_batch_size"


def _batch_cases(sides: Sides, proxy: Proxy) -> list[Case]:
    run = _OpsRun(sides, proxy, "batch size", "semops-bs")
    body = _index({"text": _semantic(SPARSE_MODEL, chunking=True)}, **{BATCH_SIZE: 1})
    return run.scenario(body, _batch_steps(run))


def _batch_steps(run: _OpsRun) -> Iterator[Case]:
    docs = [*DOCS, ("4", {"text": DOCS[1][1]["text"], "tag": "again"}), ("5", {"tag": "none"})]
    run.bulk(docs)
    yield run.case("_source (batch size 1)", *_sources(run, [d[0] for d in docs]))
    changed = run.both(
        "PUT",
        f"/{run.index}/_settings",
        {"index": {"neural_search": {"semantic_ingest_batch_size": 3}}},
    )
    yield run.case("PUT _settings batch size", *changed)
    shown = run.both("GET", f"/{run.index}/_settings/{BATCH_SIZE}", flat_settings="true")
    yield run.case("GET _settings batch size", *shown)
    refused = run.both("PUT", f"/{run.index}/_settings", {BATCH_SIZE: 101})
    yield run.case("PUT _settings batch size 101", *refused)
    run.bulk([(i, {**s, "tag": "re"}) for i, s in docs])
    yield run.case("_source (batch size 3)", *_sources(run, [d[0] for d in docs]))


# -- sparse_vector documents ------------------------------------------------------------------
SPARSE_VECTOR_BODY: JSONObject = {
    "settings": {"index.sparse": True},
    "mappings": {"properties": {
        "emb": {"type": "sparse_vector", "method": {"name": "seismic"}},
        "o": {"properties": {"e2": {"type": "sparse_vector", "method": {"name": "seismic"}}}},
    }},
}  # fmt: skip
BAD_DOCS: list[tuple[str, JSONObject]] = [
    ("a word as token", {"emb": {"wing": 1.2}}),
    ("a negative token", {"emb": {"-1": 1.0}}),
    ("a decimal token in an object field", {"o": {"e2": {"1.5": 1}}}),
    ("a token beyond int", {"emb": {"2147483648": 1.0}}),
    ("a good token then a word", {"emb": {"12": 1.0, "x y": 2}}),
    ("a zero weight", {"emb": {"5": 0}}),
    ("a weight that is no number", {"emb": {"5": "abc"}}),
]
GOOD_DOCS: list[tuple[str, JSONObject]] = [
    ("a signed and a zero-padded token", {"emb": {"+7": 1.0, "007": 0.5}}),
    ("a weight as a string", {"emb": {"3": "0.25"}}),
]


def _sparse_vector_cases(sides: Sides, proxy: Proxy) -> list[Case]:
    run = _OpsRun(sides, proxy, "sparse_vector document", "semops-sv")
    return run.scenario(SPARSE_VECTOR_BODY, _sparse_vector_steps(run))


def _sparse_vector_steps(run: _OpsRun) -> Iterator[Case]:
    for n, (what, doc) in enumerate([*BAD_DOCS, *GOOD_DOCS]):
        answer = run.both("PUT", f"/{run.index}/_doc/{n}", doc)
        yield run.case(f"_doc with {what}", *(_without_noise(a) for a in answer))
    lines: list[JSONObject] = []
    for n, (_, doc) in enumerate([BAD_DOCS[0], GOOD_DOCS[0], BAD_DOCS[1]]):
        lines += [{"index": {"_id": f"b{n}"}}, doc]
    written = run.ndjson(_with_index(lines, run.index))
    yield run.case("_bulk with refused and taken documents", *(_items(a) for a in written))
    yield run.case("_source of the taken documents", *_sources(run, ["7", "8", "b1"]))


def semantic_ops_cases(sides: Sides) -> list[Case]:
    """Every case of :data:`CATEGORY`."""
    cases: list[Case] = []
    with proxy_for(sides) as proxy:
        cases += _analyzer_cases(sides, proxy)
        cases += _update_cases(sides, proxy)
        cases += _batch_cases(sides, proxy)
        cases += _sparse_vector_cases(sides, proxy)
    return cases


__all__ = ["CATEGORY", "semantic_ops_cases"]
