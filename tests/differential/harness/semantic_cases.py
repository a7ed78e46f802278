"""``semantic`` fields (neural-search 3.1+) on both sides, over REST.

The reference node's plugins do it themselves; neuralpipe's side is the proxy
(:func:`processors.proxy.app.create_app`, served in this process) in front of the main node.
Each scenario creates an index on both, then compares ``GET _mapping``, the ``_source`` of
documents written by ``_bulk`` / ``_doc``, searches (``neural`` on the semantic field, nested
chunks included, ``neural_sparse`` on its embedding, ``hybrid``) and the plugin's errors.

Dense fields name ``engine: lucene`` in ``dense_embedding_config`` where documents are written:
the plugin's default (``faiss``) needs native libraries neither node has (the first flush kills
the node); a dense mapping without it is compared without documents.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterable, Iterator
from typing import Any

import requests

from tests.differential.harness.compare import Case, compare_hits, compare_json
from tests.differential.harness.sides import TOKENIZER, Answer, JSONObject, Sides, judge

DENSE = "all-minilm-l6-v2-onnx-semantic"
SPARSE_MODEL = "splade-tiny-torchscript"
LUCENE = {"method": {"engine": "lucene"}}
LONG = (
    "A swept wing delays the onset of wave drag. At transonic speeds, shock waves form on the "
    "upper surface. Vortex generators re-energise the boundary layer. The Kutta condition "
    "fixes the circulation: the flow leaves the trailing edge smoothly."
)
DOCS = [
    ("1", {"text": LONG, "tag": "wing"}),
    ("2", {"text": "Rockets carry their own oxidiser and need no air.", "tag": "rocket"}),
    ("3", {"text": "Heat shields ablate during atmospheric re-entry.", "tag": "reentry"}),
]


def _semantic(model: str, **extra: Any) -> JSONObject:
    return {"type": "semantic", "model_id": model, **extra}


def _index(properties: JSONObject, **settings: Any) -> JSONObject:
    body: JSONObject = {"mappings": {"properties": {"tag": {"type": "keyword"}, **properties}}}
    if settings:
        body["settings"] = settings
    return body


MAPPINGS: list[tuple[str, JSONObject]] = [
    ("dense default (no documents)", _index({"text": _semantic(DENSE)}, **{"index.knn": True})),
    ("dense without index.knn", _index({"text": _semantic(DENSE)})),
    (
        "dense chunking + search_model_id + multi-field",
        _index(
            {
                "text": _semantic(
                    DENSE,
                    chunking=True,
                    search_model_id=DENSE,
                    dense_embedding_config=LUCENE,
                    fields={"raw": {"type": "keyword"}},
                )
            },
            **{"index.knn": True},
        ),
    ),
    (
        "sparse custom info name + raw keyword",
        _index(
            {
                "text": _semantic(
                    SPARSE_MODEL,
                    semantic_info_field_name="text_info",
                    raw_field_type="keyword",
                    search_model_id=TOKENIZER,
                )
            },
            **{"index.neural_search.semantic_ingest_batch_size": 5},
        ),
    ),
    (
        "sparse delimiter chunkers + prune none",
        _index(
            {
                "text": _semantic(
                    SPARSE_MODEL,
                    chunking=[
                        {"algorithm": "delimiter", "parameters": {"delimiter": "."}},
                        {"algorithm": "fixed_token_length", "parameters": {"token_limit": 6}},
                    ],
                    sparse_encoding_config={"prune_type": "none"},
                )
            }
        ),
    ),
    (
        "nested object path",
        {"mappings": {"properties": {"doc": {"properties": {"text": _semantic(SPARSE_MODEL)}}}}},
    ),
]

ERRORS: list[tuple[str, JSONObject]] = [
    ("unknown model", _index({"text": _semantic("no-such-model-xyz")})),
    (
        "model of the wrong kind (dense without space_type)",
        _index({"text": _semantic("all-minilm-l6-v2-onnx")}),
    ),
    ("missing model_id", _index({"text": {"type": "semantic"}})),
    (
        "search_model_id with semantic_field_search_analyzer",
        _index(
            {
                "text": _semantic(
                    SPARSE_MODEL,
                    search_model_id=TOKENIZER,
                    semantic_field_search_analyzer="standard",
                )
            }
        ),
    ),
    ("raw_field_type integer", _index({"text": _semantic(SPARSE_MODEL, raw_field_type="long")})),
    (
        "dense with sparse_encoding_config",
        _index({"text": _semantic(DENSE, sparse_encoding_config={"prune_type": "none"})}),
    ),
    (
        "semantic_info_field_name with a dot",
        _index({"text": _semantic(SPARSE_MODEL, semantic_info_field_name="a.b")}),
    ),
]


class Proxy:
    """neuralpipe's side: the proxy app in this process, in front of the main node."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Answer:
        answer = requests.request(
            method, f"{self.url}{path}", json=body, params=params, timeout=300
        )
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text


@contextlib.contextmanager
def proxy_for(sides: Sides) -> Iterator[Proxy]:
    from processors.proxy.app import ProxySettings, create_app
    from processors.testing.serving import serve

    settings = ProxySettings.from_settings(sides.settings, _main_url(sides), warm_models=False)
    with serve(create_app(settings)) as url:
        yield Proxy(url)


def _main_url(sides: Sides) -> str:
    url = sides.settings.opensearch_url
    if url:
        return str(url).rstrip("/")
    return str(sides.client.transport.hosts[0].get("url") or _host_url(sides.client))


def _host_url(client: Any) -> str:
    host = client.transport.hosts[0]
    return f"http://{host.get('host', '127.0.0.1')}:{host.get('port', 9200)}"


def _mapping_of(answer: Answer, index: str) -> Answer:
    status, body = answer
    if status != 200 or not isinstance(body, dict):
        return answer
    return status, body.get(index, {}).get("mappings")


def _bulk(docs: list[tuple[str, JSONObject]], index: str) -> str:
    lines = []
    for doc_id, source in docs:
        lines += [json.dumps({"index": {"_index": index, "_id": doc_id}}), json.dumps(source)]
    return "\n".join(lines) + "\n"


class _Run:
    """One scenario's index on both sides."""

    def __init__(self, sides: Sides, proxy: Proxy, name: str) -> None:
        self.sides, self.proxy, self.name = sides, proxy, name
        self.index = f"{sides.index}-sem"

    def both(
        self, method: str, path: str, body: Any = None, **params: Any
    ) -> tuple[Answer, Answer]:
        ref = self.sides.ref(method, path, self.sides.to_ref(copy.deepcopy(body)), **params)
        ours = self.proxy.call(method, path, copy.deepcopy(body), **params)
        return ref, ours

    def bulk(self, docs: list[tuple[str, JSONObject]]) -> tuple[Answer, Answer]:
        data = _bulk(docs, self.index)
        head = {"Content-Type": "application/x-ndjson"}
        ref = requests.post(
            f"{self.sides.ref_url}/_bulk",
            data=data,
            headers=head,
            params={"refresh": "true"},
            timeout=600,
        )
        ours = requests.post(
            f"{self.proxy.url}/_bulk",
            data=data,
            headers=head,
            params={"refresh": "true"},
            timeout=600,
        )
        return (ref.status_code, ref.json()), (ours.status_code, ours.json())

    def drop(self) -> None:
        self.sides.ref("DELETE", f"/{self.index}")
        self.proxy.call("DELETE", f"/{self.index}")

    def scenario(self, body: JSONObject, steps: Iterable[Case] = ()) -> list[Case]:
        """The index created with ``body`` on both sides (the ``PUT index`` case first), then,
        when both created it, the cases of ``steps`` (a generator: its calls run here, in turn);
        the index is dropped before and after."""
        self.drop()
        try:
            created = self.both("PUT", f"/{self.index}", body)
            cases = [self.case("PUT index", *created)]
            if created[0][0] == 200 and created[1][0] == 200:
                cases += steps
            return cases
        finally:
            self.drop()

    def case(self, what: str, ref: Answer, ours: Answer, *, hits: bool = False) -> Case:
        case = Case("semantic", f"{self.name}: {what}")
        if ref[0] == 200 and ours[0] == 200:
            ref_body = json.loads(self.sides.from_ref(json.dumps(ref[1])))
            case.differences = (
                compare_hits(ref_body, ours[1]) if hits else compare_json(ref_body, ours[1])
            )
        else:
            judge(case, self.sides, ref, ours)
        return case


def _sources(run: _Run, ids: list[str]) -> tuple[Answer, Answer]:
    body = {"ids": ids}
    ref, ours = run.both("POST", f"/{run.index}/_mget", body)
    return _only_sources(ref), _only_sources(ours)


def _only_sources(answer: Answer) -> Answer:
    status, body = answer
    if status != 200:
        return answer
    return status, {d["_id"]: d.get("_source") for d in body.get("docs", [])}


def _search(
    run: _Run, body: JSONObject, pipeline: JSONObject | None = None
) -> tuple[Answer, Answer]:
    if pipeline is not None:
        body = {**body, "search_pipeline": pipeline}
    return run.both("POST", f"/{run.index}/_search", body)


def _scenario(sides: Sides, proxy: Proxy, name: str, body: JSONObject) -> list[Case]:
    run = _Run(sides, proxy, name)
    return run.scenario(body, _scenario_steps(run, name, body))


def _scenario_steps(run: _Run, name: str, body: JSONObject) -> Iterator[Case]:
    mapping = run.both("GET", f"/{run.index}/_mapping")
    yield run.case(
        "GET _mapping",
        _mapping_of(mapping[0], run.index),
        _mapping_of(mapping[1], run.index),
    )
    if "no documents" in name:
        return
    nested = "doc" in body["mappings"]["properties"]
    docs = [(i, {"doc": s}) if nested else (i, s) for i, s in DOCS]
    written = run.bulk(docs[:2])
    yield run.case(
        "_bulk errors flag",
        (written[0][0], written[0][1]["errors"]),
        (written[1][0], written[1][1]["errors"]),
    )
    one = run.both("PUT", f"/{run.index}/_doc/{docs[2][0]}", docs[2][1], refresh="true")
    yield run.case(
        "_doc result",
        (one[0][0], one[0][1].get("result")),
        (one[1][0], one[1][1].get("result")),
    )
    yield run.case("_source", *_sources(run, [d[0] for d in docs]))
    change = (
        {"doc": {"doc": {"text": "A glider has no engine."}}}
        if nested
        else {"doc": {"text": "A glider has no engine."}}
    )
    updated = run.both("POST", f"/{run.index}/_update/2", change, refresh="true")
    yield run.case(
        "_update result",
        (updated[0][0], updated[0][1].get("result")),
        (updated[1][0], updated[1][1].get("result")),
    )
    yield run.case("_source after _update", *_sources(run, ["2"]))
    if nested:
        return
    props = body["mappings"]["properties"]["text"]
    dense = props["model_id"] == DENSE
    k = {"k": 3} if dense else {}
    neural = {
        "query": {"neural": {"text": {"query_text": "shock waves on a wing", **k}}},
        "_source": False,
    }
    yield run.case("neural", *_search(run, neural), hits=True)
    info = props.get("semantic_info_field_name", "text_semantic_info")
    if props["model_id"] == SPARSE_MODEL and not props.get("chunking"):
        sparse = {
            "query": {
                "neural_sparse": {
                    f"{info}.embedding": {
                        "query_text": "rocket oxidiser",
                        "model_id": TOKENIZER,
                    }
                }
            },
            "_source": False,
        }
        yield run.case("neural_sparse on the embedding", *_search(run, sparse), hits=True)
    hybrid = {
        "query": {
            "hybrid": {
                "queries": [
                    {"match": {"tag": "wing"}},
                    {"neural": {"text": {"query_text": "re-entry heat", **k}}},
                ]
            }
        },
        "_source": False,
    }
    pipeline = {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {"technique": "arithmetic_mean"},
                }
            }
        ]
    }
    yield run.case("hybrid", *_search(run, hybrid, pipeline), hits=True)
    if dense:
        tokens: JSONObject = {"query": {"neural": {"text": {"query_text": "x"}}}}
        tokens["query"]["neural"]["text"]["query_tokens"] = {"a": 1}
        yield run.case("neural with query_tokens on dense", *_search(run, tokens))
    else:
        bad = {
            "query": {
                "neural": {
                    "text": {"query_text": "", "k": 2, "min_score": 0.1, "model_id": TOKENIZER}
                }
            }
        }
        yield run.case("neural with k, min_score, empty text on sparse", *_search(run, bad))
        tokens = {
            "query": {"neural": {"text": {"query_tokens": {"wing": 1.5}}}},
            "_source": False,
        }
        yield run.case("neural with query_tokens on sparse", *_search(run, tokens), hits=True)
    change = {
        "properties": {
            "text": {
                **props,
                "model_id": props["model_id"],
                "chunking": not props.get("chunking"),
            }
        }
    }
    yield run.case(
        "PUT _mapping changing chunking", *run.both("PUT", f"/{run.index}/_mapping", change)
    )


def _error_case(sides: Sides, proxy: Proxy, name: str, body: JSONObject) -> Case:
    (created,) = _Run(sides, proxy, f"error {name}").scenario(body)
    return created


def semantic_cases(sides: Sides) -> list[Case]:
    """Every semantic scenario on both sides."""
    cases: list[Case] = []
    with proxy_for(sides) as proxy:
        for name, body in MAPPINGS:
            cases += _scenario(sides, proxy, name, body)
        for name, body in ERRORS:
            cases.append(_error_case(sides, proxy, name, body))
    return cases
