"""Dotted neural_sparse tokens: the index is asked which exist; absent ones are dropped."""

from __future__ import annotations

import copy
import json
from collections.abc import Collection
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

from processors.errors import InvalidQueryError
from processors.pipeline.search import SearchPipeline
from processors.search.neural_sparse import DOTTED_TOKEN_SCRIPT, NeuralSparseQuery
from processors.search.sparse_dotted import (
    OPTIONS,
    PROBE_SUFFIX,
    DottedAnswer,
    DottedFeatureCheck,
    MappedMirrors,
    probe_body,
    read_probes,
    without_deferred_probe,
)
from processors.testing.fakes import CountSparseEncoder

HITS = {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}


def _options(*texts: str, freq: int = 1) -> list[dict[str, Any]]:
    return [{"text": t, "score": 0.5, "freq": freq} for t in texts]


def _answer(*entries: list[dict[str, Any]], failed: int = 0) -> dict[str, Any]:
    return {
        "_shards": {"total": 1, "successful": 1 - failed, "skipped": 0, "failed": failed},
        "hits": HITS,
        "suggest": {f"t{i}": [{"text": "x", "options": o}] for i, o in enumerate(entries)},
    }


class ProbeClient:
    """Answers probe searches from a set of existing (field, token) terms; records every call."""

    def __init__(
        self, terms: set[tuple[str, str]] | dict[tuple[str, str], int], fail: bool = False
    ) -> None:
        self.terms = terms if isinstance(terms, dict) else dict.fromkeys(terms, 1)
        self.fail = fail
        self.bodies: list[dict[str, Any]] = []

    def search(self, index: Any = None, body: Any = None, params: Any = None) -> dict[str, Any]:
        self.bodies.append(copy.deepcopy(body))
        if self.fail:
            raise OpenSearchConnectionError("N/A", "node down", None)
        if "suggest" not in body:
            return {"_shards": {"failed": 0}, "hits": HITS}
        entries = []
        for name in sorted(body["suggest"], key=lambda n: int(n[1:])):
            probe = body["suggest"][name]
            token = probe["text"].removesuffix(PROBE_SUFFIX)
            freq = self.terms.get((probe["term"]["field"], token))
            entries.append(_options(token, freq=freq) if freq else [])
        return _answer(*entries)


def test_the_probe_lists_a_token_when_the_field_has_it_as_a_term() -> None:
    body = probe_body([("f", "3.14"), ("o.g", "é.x")])
    assert body["size"] == 0 and body["track_total_hits"] is False
    first, second = body["suggest"]["t0"], body["suggest"]["t1"]
    assert first["text"] == "3.14\x01"
    assert first["term"] == {
        "field": "f",
        "analyzer": "keyword",
        "suggest_mode": "always",
        "max_edits": 1,
        "prefix_length": 4,
        "min_word_length": 1,
        "accuracy": 0.0,
        "max_term_freq": 2147483647.0,
        "size": OPTIONS,
        "shard_size": OPTIONS,
    }
    assert (second["term"]["field"], second["term"]["prefix_length"]) == ("o.g", 3)


def test_probe_answers_present_absent_and_unclear() -> None:
    wanted = [("f", "3.14"), ("f", "u.s"), ("f", "."), ("f", "a.b")]
    full = _options(*(f"a.b{i}" for i in range(OPTIONS)))  # a full list: "a.b" may be cut off
    response = _answer(_options("3.145", "3.14"), [], _options(".x"), full)
    assert read_probes(response, wanted) == {
        ("f", "3.14"): True,
        ("f", "u.s"): False,
        ("f", "."): False,
    }


@pytest.mark.parametrize(
    "response",
    [
        _answer(_options("3.14"), failed=1),  # a shard that could not answer might have it
        {"hits": HITS},  # no suggest section
        {"_shards": {"failed": 0}, "suggest": {"t0": "?"}},
        None,
    ],
)
def test_a_failed_or_odd_probe_answers_nothing(response: Any) -> None:
    assert read_probes(response, [("f", "3.14")]) == {}


def test_the_check_probes_each_token_once_per_request() -> None:
    client = ProbeClient({("f", "3.14")})
    check = DottedFeatureCheck(client, "idx")
    assert check.present("f", ["3.14", "u.s"]) == {"3.14"}
    assert check.present("f", ["u.s", "3.14"]) == {"3.14"}
    assert check.present("g", ["3.14"]) == set()
    assert [sorted(b["suggest"]) for b in client.bodies] == [["t0", "t1"], ["t0"]]


def test_an_unreachable_node_leaves_the_answer_unknown() -> None:
    check = DottedFeatureCheck(ProbeClient(set(), fail=True), "idx")
    assert check.present("f", ["3.14"]) is None


def _bound(
    tokens: dict[str, Any],
    present: Collection[str] | None,
    mirrored: Collection[str] = (),
    **params: Any,
) -> Any:
    query = NeuralSparseQuery.parse({"f": {"query_tokens": tokens, **params}})
    asked: list[tuple[str, list[str]]] = []

    def check(field: str, dotted: Collection[str]) -> DottedAnswer | None:
        asked.append((field, list(dotted)))
        if present is None:
            return None
        found = frozenset(t for t in dotted if t in present)
        return DottedAnswer(found, frozenset(t for t in found if t in mirrored))

    return query.bind(check).to_query(query.tokens()), asked


def test_absent_dotted_tokens_are_dropped_and_the_rest_stays_rank_feature() -> None:
    out, asked = _bound({"hello": 1.5, "3.14": 2.0, "u.s": 0.5}, set(), boost=2, _name="n")
    assert asked == [("f", ["3.14", "u.s"])]
    assert out == {
        "bool": {
            "should": [{"rank_feature": {"field": "f.hello", "linear": {}, "boost": 1.5}}],
            "boost": 2.0,
            "_name": "n",
        }
    }


def test_a_query_of_only_absent_dotted_tokens_matches_nothing() -> None:
    assert _bound({".": 0.3, "3.14": 1.0}, set(), _name="n")[0] == {"match_none": {"_name": "n"}}


@pytest.mark.parametrize("present", [{"3.14"}, None], ids=["present", "unknown"])
def test_a_present_or_unknown_dotted_token_keeps_the_exact_script(
    present: set[str] | None,
) -> None:
    out, _ = _bound({"hello": 1.5, "3.14": 2.0, "u.s": 0.5}, present)
    kept = {"hello": 1.5, "3.14": 2.0} if present else {"hello": 1.5, "3.14": 2.0, "u.s": 0.5}
    assert out["script_score"]["script"]["source"] == DOTTED_TOKEN_SCRIPT
    assert out["script_score"]["script"]["params"]["tokens"] == kept


def test_no_dotted_token_asks_nothing_and_a_negative_weight_still_fails_first() -> None:
    assert _bound({"hello": 1.0}, set())[1] == []
    with pytest.raises(InvalidQueryError, match="boost must be a positive float"):
        _bound({"u.s": -1.0}, set())


class PipelineClient(ProbeClient):
    class Indices:
        def get_field_mapping(self, index: str, fields: str) -> dict[str, Any]:
            return {index: {"mappings": {fields: {"mapping": {fields: {"type": "rank_features"}}}}}}

    indices = Indices()


def test_the_search_pipeline_probes_the_searched_index_before_rewriting() -> None:
    client = PipelineClient({("s", "3.14")})
    pipeline = SearchPipeline(None, models=lambda m: CountSparseEncoder(), client=client)
    body = {"query": {"neural_sparse": {"s": {"query_tokens": {"a": 1.0, "u.s": 2.0}}}}}
    pipeline.search("idx", body)
    probe, sent = client.bodies
    assert probe["suggest"]["t0"]["text"] == "u.s\x01"
    assert sent["query"] == {
        "bool": {"should": [{"rank_feature": {"field": "s.a", "linear": {}, "boost": 1.0}}]}
    }
    body["query"]["neural_sparse"]["s"]["query_tokens"]["3.14"] = 1.0
    assert "script_score" in pipeline.rewrite(body, "idx")["query"]
    assert "script_score" in pipeline.rewrite(body)["query"]  # no index: nothing to ask


def test_probe_answers_carry_the_document_frequency() -> None:
    response = _answer(_options("3.14", freq=7), _options("%2E", freq=3))
    assert read_probes(response, [("f", "3.14"), ("f__np_dotted", "%2E")]) == {
        ("f", "3.14"): 7,
        ("f__np_dotted", "%2E"): 3,
    }


def test_the_mirror_is_exact_for_a_token_only_when_both_frequencies_agree() -> None:
    client = ProbeClient(
        {
            ("f", "3.14"): 2,
            ("f__np_dotted", "3%2E14"): 2,
            ("f", "u.s"): 3,  # one document written around neuralpipe: no mirror
            ("f__np_dotted", "u%2Es"): 2,
            ("f", "."): 1,
        }
    )
    check = DottedFeatureCheck(client, "idx", lambda field: field == "f")
    answer = check.answer("f", ["3.14", "u.s", ".", "x.y"])
    assert answer == DottedAnswer(frozenset({"3.14", "u.s", "."}), frozenset({"3.14"}))
    fields = [p["term"]["field"] for p in client.bodies[0]["suggest"].values()]
    assert fields == ["f"] * 4 + ["f__np_dotted"] * 4
    assert check.answer("g", ["3.14"]) == DottedAnswer(frozenset())  # g has no mirror mapped
    assert [p["term"]["field"] for p in client.bodies[1]["suggest"].values()] == ["g"]


def test_mirrored_dotted_tokens_become_rank_feature_clauses_on_the_mirror() -> None:
    out, _ = _bound(
        {"hello": 1.5, "3.14": 2.0, "u.s": 0.5, "%.": 1.0},
        {"3.14", "%."},
        {"3.14", "%."},
        boost=2,
        _name="n",
    )
    assert out == {
        "bool": {
            "should": [
                {"rank_feature": {"field": "f.hello", "linear": {}, "boost": 1.5}},
                {"rank_feature": {"field": "f__np_dotted.3%2E14", "linear": {}, "boost": 2.0}},
                {"rank_feature": {"field": "f__np_dotted.%25%2E", "linear": {}, "boost": 1.0}},
            ],
            "boost": 2.0,
            "_name": "n",
        }
    }


def test_one_present_token_the_mirror_does_not_hold_exactly_keeps_the_script() -> None:
    out, _ = _bound({"hello": 1.5, "3.14": 2.0, "u.s": 0.5}, {"3.14", "u.s"}, {"3.14"})
    assert out["script_score"]["script"]["params"]["tokens"] == {
        "hello": 1.5,
        "3.14": 2.0,
        "u.s": 0.5,
    }


class MirrorClient(ProbeClient):
    """Maps ``s`` in ``idx`` and ``old``; its mirror only in ``idx``."""

    class Indices:
        calls = 0

        def get_field_mapping(self, index: str, fields: str) -> dict[str, Any]:
            self.calls += 1
            names = index.split(",")
            out: dict[str, Any] = {}
            for name in names:
                maps = {"s": {"full_name": "s", "mapping": {"s": {"type": "rank_features"}}}}
                if name == "idx":
                    mirror = {"s__np_dotted": {"type": "rank_features"}}
                    maps["s__np_dotted"] = {"full_name": "s__np_dotted", "mapping": mirror}
                out[name] = {"mappings": {f: maps[f] for f in fields.split(",") if f in maps}}
            return out

    indices = Indices()


def test_mapped_mirrors_need_the_mirror_in_every_index_that_maps_the_field() -> None:
    client = MirrorClient(set())
    mirrors = MappedMirrors(client)
    assert mirrors.of("idx")("s") is True
    assert mirrors.of("idx,old")("s") is False
    assert mirrors.of("idx")("other") is False  # no index maps it
    calls = client.indices.calls
    assert mirrors.of("idx")("s") is True and client.indices.calls == calls  # a yes is kept


def test_the_search_pipeline_sends_a_mirrored_dotted_token_to_the_mirror() -> None:
    terms = {("s", "3.14"): 2, ("s__np_dotted", "3%2E14"): 2}
    client = MirrorClient(terms)
    pipeline = SearchPipeline(
        None, models=lambda m: CountSparseEncoder(), client=client, check_fields=False
    )
    body = {"query": {"neural_sparse": {"s": {"query_tokens": {"a": 1.0, "3.14": 2.0}}}}}
    pipeline.search("idx", body)
    assert client.bodies[-1]["query"] == {
        "bool": {
            "should": [
                {"rank_feature": {"field": "s.a", "linear": {}, "boost": 1.0}},
                {"rank_feature": {"field": "s__np_dotted.3%2E14", "linear": {}, "boost": 2.0}},
            ]
        }
    }
    client.terms[("s", "3.14")] = 3  # a document written around neuralpipe
    pipeline.search("idx", body)
    assert "script_score" in client.bodies[-1]["query"]


def _deferred_pipeline(terms: dict[tuple[str, str], int]) -> tuple[SearchPipeline, MirrorClient]:
    client = MirrorClient(terms)
    pipeline = SearchPipeline(
        None, models=lambda m: CountSparseEncoder(), client=client, check_fields=False
    )
    return pipeline, client


def test_a_deferred_check_sends_the_probe_with_the_search_and_confirms_it_on_the_answer() -> None:
    pipeline, client = _deferred_pipeline({})
    body = {"query": {"neural_sparse": {"s": {"query_tokens": {"a": 1.0, "3.14": 2.0}}}}}
    sent, check = pipeline.node_request_checked("idx", body)
    assert client.bodies == []  # nothing asked before the search
    assert sent is not None and check is not None
    fields = [c["rank_feature"]["field"] for c in sent["query"]["bool"]["should"]]
    assert fields == ["s.a", "s__np_dotted.3%2E14"]
    probes = [(p["term"]["field"], p["text"]) for p in sent["suggest"].values()]
    assert list(sent["suggest"]) == ["np_dotted_0", "np_dotted_1"]
    assert probes == [("s", "3.14\x01"), ("s__np_dotted", "3%2E14\x01")]

    def answer(orig: int, mirror: int, failed: int = 0) -> dict[str, Any]:
        entries = [_options("3.14", freq=orig) if orig else [],
                   _options("3%2E14", freq=mirror) if mirror else []]  # fmt: skip
        found = _answer(*entries, failed=failed)
        found["suggest"] = {f"np_dotted_{k[1:]}": v for k, v in found["suggest"].items()}
        return found

    assert check.confirmed(answer(2, 2)) and check.confirmed(answer(0, 0))
    assert not check.confirmed(answer(3, 2))  # a document without the mirror
    assert not check.confirmed(answer(2, 2, failed=1))
    assert not check.confirmed({"_shards": {"failed": 0}})


@pytest.mark.parametrize(
    ("extra", "params"),
    [({"suggest": {"mine": {}}}, None), ({"profile": True}, None), ({}, {"scroll": "1m"})],
    ids=["own suggest", "profile", "scroll"],
)
def test_no_deferred_check_where_the_answer_must_stay_the_nodes(
    extra: dict[str, Any], params: dict[str, Any] | None
) -> None:
    pipeline, client = _deferred_pipeline({("s", "3.14"): 1, ("s__np_dotted", "3%2E14"): 1})
    body = {"query": {"neural_sparse": {"s": {"query_tokens": {"3.14": 2.0}}}}, **extra}
    sent, check = pipeline.node_request_checked("idx", body, params=params)
    assert check is None and sent is not None
    assert "np_dotted_0" not in sent.get("suggest", {})
    assert len(client.bodies) == 1  # asked first, as before
    assert sent["query"]["bool"]["should"][0]["rank_feature"]["field"] == "s__np_dotted.3%2E14"


def test_the_deferred_probe_is_cut_from_the_answer_only_when_it_confirms() -> None:
    check = DottedFeatureCheck(None, "idx", lambda f: True, deferred=True)
    assert check.answer("f", ["é.x"]) == DottedAnswer(frozenset({"é.x"}), frozenset({"é.x"}))

    def raw(orig: int, mirror: int) -> bytes:
        suggest = {"np_dotted_0": [{"text": "é.x\x01", "options": _options("é.x", freq=orig)}],
                   "np_dotted_1": [{"text": "é%2Ex\x01", "options": _options("é%2Ex", freq=mirror)}]}  # fmt: skip
        body = {"took": 3, "_shards": {"total": 1, "failed": 0},
                "hits": {"hits": [{"_source": {"t": "naïve \"suggest\""}}]}, "suggest": suggest}  # fmt: skip
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    kept = without_deferred_probe(raw(2, 2), check)
    assert kept is not None
    assert json.loads(kept) == {"took": 3, "_shards": {"total": 1, "failed": 0},
                                "hits": {"hits": [{"_source": {"t": "naïve \"suggest\""}}]}}  # fmt: skip
    assert without_deferred_probe(raw(2, 1), check) is None
    assert without_deferred_probe(b'{"took":1}', check) is None
    assert without_deferred_probe(b"\xff", check) is None
