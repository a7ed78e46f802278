"""The dotted-feature mirror: the escape, the mapping it adds, the documents it writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from processors.config.index_translation import node_index_body
from processors.ingest.sparse_mirror import (
    META_KEY,
    RECOVERY_KEY,
    add_mirror,
    add_mirrors,
    escape,
    mirrors_of,
    shown_without_mirrors,
    unescape,
)


@pytest.mark.parametrize(
    "token", [".", "3.14", "u.s.", "%", "%2E", "%252E", "a%.b", "..%%..", "é.ß", "plain", ""]
)
def test_the_escape_has_no_dot_and_is_reversible(token: str) -> None:
    escaped = escape(token)
    assert "." not in escaped
    assert unescape(escaped) == token


def test_different_tokens_never_share_an_escaped_name() -> None:
    tokens = [".", "%2E", "%2e", "%", "%25", ".%", "%.", "2E", "%%2E"]
    assert len({escape(t) for t in tokens}) == len(tokens)


def test_every_rank_features_field_gets_a_hidden_mirror() -> None:
    mappings: dict[str, Any] = {
        "_source": {"excludes": ["big"]},
        "properties": {
            "f": {"type": "rank_features"},
            "doc": {"properties": {"g": {"type": "rank_features"}, "t": {"type": "text"}}},
            "chunks": {"type": "nested", "properties": {"e": {"type": "rank_features"}}},
            "taken": {"type": "rank_features"},
            "taken__np_dotted": {"type": "keyword"},
            "ids": {"type": "sparse_vector"},
        },
    }
    added = add_mirrors(mappings)
    assert added == {
        "f": "f__np_dotted",
        "doc.g": "doc.g__np_dotted",
        "chunks.e": "chunks.e__np_dotted",
    }
    assert mappings["properties"]["doc"]["properties"]["g__np_dotted"] == {"type": "rank_features"}
    assert mappings["properties"]["taken__np_dotted"] == {"type": "keyword"}
    assert mappings["_source"] == {"excludes": ["big", *added.values()]}  # the user's filter
    assert mappings["_meta"]["neuralpipe"][META_KEY] == added
    assert mirrors_of(mappings["_meta"]["neuralpipe"]) == added


@pytest.mark.parametrize(
    ("source", "recovery_off"),
    [
        (None, True),
        ({}, True),
        ({"excludes": ["big"]}, False),
        ({"includes": ["f", "t"]}, False),
        ({"recovery_source_enabled": True}, False),
        ({"recovery_source_excludes": ["v"]}, False),
    ],
)
def test_recovery_source_goes_off_only_where_the_mirror_alone_filters_the_source(
    source: dict[str, Any] | None, recovery_off: bool
) -> None:
    mappings: dict[str, Any] = {"properties": {"f": {"type": "rank_features"}}}
    if source is not None:
        mappings["_source"] = copy.deepcopy(source)
    made = copy.deepcopy(mappings)
    add_mirrors(mappings)
    got = mappings["_source"].get("recovery_source_enabled")
    assert (got is False) == recovery_off
    assert mappings["_meta"]["neuralpipe"].get(RECOVERY_KEY, False) == recovery_off
    if made.get("_source") == {}:
        del made["_source"]  # as the node shows an empty _source: not at all
    assert shown_without_mirrors(mappings) == made


def test_no_mirror_without_source_or_without_rank_features() -> None:
    off = {"_source": {"enabled": False}, "properties": {"f": {"type": "rank_features"}}}
    plain = {"properties": {"t": {"type": "text"}}}
    assert add_mirrors(off) == {} and "f__np_dotted" not in off["properties"]
    assert add_mirrors(plain) == {} and plain == {"properties": {"t": {"type": "text"}}}


def test_the_shown_mapping_is_the_one_the_user_made() -> None:
    made: dict[str, Any] = {
        "_source": {"excludes": ["big"]},
        "_meta": {"owner": "me"},
        "properties": {"f": {"type": "rank_features"}, "o": {"properties": {
            "g": {"type": "rank_features"}}}},
    }  # fmt: skip
    node = copy.deepcopy(made)
    add_mirrors(node)
    assert node != made
    assert shown_without_mirrors(node) == made
    bare = {"properties": {"f": {"type": "rank_features"}}}
    node = copy.deepcopy(bare)
    add_mirrors(node)
    assert shown_without_mirrors(node) == bare


def test_a_document_gets_its_dotted_features_in_the_mirror() -> None:
    mirrors = {"f": "f__np_dotted", "o.g": "o.g__np_dotted", "c.e": "c.e__np_dotted"}
    doc: dict[str, Any] = {
        "f": {"hi": 1.0, ".": 0.25, "3.14": 2},
        "o": {"g": {"x": 1.0}, "g__np_dotted": {"stale": 1.0}},
        "c": [{"e": {"u.s": 0.5}}, {"e": {"a": 1}}],
        "t": "text with . dots",
    }
    add_mirror(doc, mirrors)
    assert doc["f__np_dotted"] == {"%2E": 0.25, "3%2E14": 2}
    assert doc["o"] == {"g": {"x": 1.0}}  # no dotted feature: a stale mirror goes
    assert doc["c"] == [{"e": {"u.s": 0.5}, "e__np_dotted": {"u%2Es": 0.5}}, {"e": {"a": 1}}]
    flat: dict[str, Any] = {"o.g": {"a.b": 1.0}}
    add_mirror(flat, mirrors)
    assert flat == {"o.g": {"a.b": 1.0}, "o.g__np_dotted": {"a%2Eb": 1.0}}
    odd: dict[str, Any] = {"f": "not an object"}
    add_mirror(odd, mirrors)
    assert odd == {"f": "not an object"}  # the node refuses the field itself


def test_the_index_translation_adds_mirrors_but_not_for_sparse_vector_fields() -> None:
    body = {
        "settings": {"index.sparse": True},
        "mappings": {"properties": {
            "w": {"type": "rank_features"},
            "ids": {"type": "sparse_vector", "method": {"name": "seismic"}},
        }},
    }  # fmt: skip
    node = node_index_body(body, lambda _: {})
    props = node["mappings"]["properties"]
    assert props["w__np_dotted"] == {"type": "rank_features"}
    assert props["ids"]["type"] == "rank_features" and "ids__np_dotted" not in props
    assert node["mappings"]["_meta"]["neuralpipe"][META_KEY] == {"w": "w__np_dotted"}
    assert "w__np_dotted" not in body["mappings"]["properties"]  # the caller's body untouched
