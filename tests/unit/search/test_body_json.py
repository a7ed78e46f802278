"""Search bodies as the node gets them: vectors with float32's digits, the body left as it was."""

from __future__ import annotations

import json

import numpy as np

from processors.search.body_json import body_json
from processors.search.hybrid_request import has_inner_hits


def test_vectors_round_trip_as_float32_and_the_body_is_left_as_it_was() -> None:
    vector = (np.random.default_rng(3).standard_normal(384) * 1e-3).astype(np.float32).tolist()
    knn = {"knn": {"v": {"vector": vector, "k": 10}}}
    body = {"query": {"bool": {"should": [knn, {"match": {"t": "x"}}, knn]}}}  # one dict twice
    sent = json.loads(body_json(body))
    for clause in (sent["query"]["bool"]["should"][0], sent["query"]["bool"]["should"][2]):
        got = np.asarray(clause["knn"]["v"]["vector"], np.float32)
        assert np.array_equal(got, np.asarray(vector, np.float32))
    assert body["query"]["bool"]["should"][0] is knn and knn["knn"]["v"]["vector"] is vector


def test_other_lists_are_written_as_json_writes_them() -> None:
    body = {"vector": [0.5, 1.0], "terms": {"ids": [1, 2]}, "odd": {"vector": [0.5] * 7 + ["x"]}}
    assert json.loads(body_json(body)) == body
    nan = {"vector": [float("nan")] * 8}
    assert body_json(nan).count("NaN") == 8  # as json spells it (the node refuses it)


def test_inner_hits_are_found_below_lists_and_vectors_are_not_walked() -> None:
    nested = {"nested": {"path": "p", "query": {"match_all": {}}, "inner_hits": {}}}
    assert has_inner_hits({"bool": {"should": [{"knn": {"v": {"vector": [0.1] * 8}}}, nested]}})
    assert not has_inner_hits({"knn": {"v": {"vector": [0.1] * 384, "k": 3}}})
    assert has_inner_hits([[{"inner_hits": {}}]])
