"""field_map traversal, un-flattening and validation: the shapes of reference §1.2-1.4."""

from __future__ import annotations

from typing import Any

import pytest

from processors.errors import ProcessorRuntimeError
from processors.ingest import field_map as fm


def run(source: dict[str, Any], fmap: dict[str, Any], key: str = "knn") -> dict[str, Any]:
    """Collect, answer each text with R(text) = 'R:<text>', write back."""
    doc = fm.unflatten(source)
    fm.validate(doc, fm.normalise_field_map(fmap))
    slots = fm.collect(doc, fmap, list_key=key)
    texts = [t for s in slots for t in s.texts]
    fm.write_results(slots, [f"R:{t}" for t in texts])
    return doc  # type: ignore[no-any-return]


def test_string_goes_to_top_level_target() -> None:
    assert run({"title": "hello"}, {"title": "title_vec"}) == {
        "title": "hello",
        "title_vec": "R:hello",
    }


@pytest.mark.parametrize("value", [None, "", "   "])
def test_absent_null_or_blank_writes_nothing(value: Any) -> None:
    source = {"title": value}
    assert run(source, {"title": "v"}) == {"title": value}
    assert run({}, {"title": "v"}) == {}


def test_list_becomes_list_of_objects_with_the_list_key() -> None:
    out = run({"favor_list": ["a", "b"]}, {"favor_list": "fl_vec"}, key="sparse_encoding")
    assert out["fl_vec"] == [{"sparse_encoding": "R:a"}, {"sparse_encoding": "R:b"}]


def test_blank_string_inside_a_list_is_still_sent() -> None:
    assert run({"l": ["a", ""]}, {"l": "v"})["v"] == [{"knn": "R:a"}, {"knn": "R:"}]


def test_empty_list_written_only_when_other_text_exists() -> None:
    assert run({"l": []}, {"l": "v"}) == {"l": []}
    out = run({"l": [], "t": "x"}, {"l": "v", "t": "tv"})
    assert out["v"] == [] and out["tv"] == "R:x"


def test_nested_object_target_is_written_inside_the_object() -> None:
    out = run({"obj": {"game": "x", "movie": None}}, {"obj": {"game": "game_vec"}})
    assert out == {"obj": {"game": "x", "movie": None, "game_vec": "R:x"}}


def test_nested_spec_on_a_string_is_silently_nothing() -> None:
    assert run({"obj": "text"}, {"obj": {"game": "g"}}) == {"obj": "text"}


def test_list_of_objects_each_element_with_the_field() -> None:
    out = run({"n": [{"x": 1}, {"text": "hello"}, {"text": "world"}]}, {"n": {"text": "emb"}})
    assert out["n"] == [
        {"x": 1},
        {"text": "hello", "emb": "R:hello"},
        {"text": "world", "emb": "R:world"},
    ]


def test_dotted_key_walks_into_objects_and_dotted_target_nests() -> None:
    assert run({"obj": {"p": "x"}}, {"obj.p": "pe"}) == {"obj": {"p": "x", "pe": "R:x"}}
    assert run({"obj": {"p": "x"}}, {"obj.p": "obj.pe"})["obj"]["obj"] == {"pe": "R:x"}


def test_dotted_path_through_arrays() -> None:
    out = run({"a": [{"b": {"c": "t1"}}, {"b": {"c": "t2"}}]}, {"a.b.c": "x.y"})
    assert [e["b"]["x"]["y"] for e in out["a"]] == ["R:t1", "R:t2"]


def test_source_dotted_keys_are_unflattened_even_outside_the_field_map() -> None:
    assert run({"a.b": "x", "title": "t"}, {"title": "v"}) == {
        "a": {"b": "x"},
        "title": "t",
        "v": "R:t",
    }


def test_nested_target_merge_quirk_concatenates_lists() -> None:
    out = run({"obj": {"l": ["a"], "v": [{"knn": "old"}]}}, {"obj": {"l": "v"}})
    assert out["obj"]["v"] == [{"knn": "old"}, {"knn": "R:a"}]
    top = run({"l": ["a"], "v": [{"knn": "old"}]}, {"l": "v"})
    assert top["v"] == [{"knn": "R:a"}]  # top-level targets are replaced


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"title": 5},
            "map type field [title] is neither string nor nested type, cannot process it",
        ),
        ({"title": {"a": "b"}}, "[title] configuration doesn't match actual value type"),
        ({"title": ["a", None]}, "list type field [title] has null, cannot process it"),
        ({"title": [["a"]]}, "list type field [title] is nested list type, cannot process it"),
        ({"title": ["a", 1]}, "list type field [title] has non string value, cannot process it"),
    ],
)
def test_validation_messages(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ProcessorRuntimeError) as caught:
        run(source, {"title": "v"})
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Field name cannot be null or empty"),
        ("a..b", "Field name 'a..b' contains invalid dot usage"),
    ],
)
def test_unflatten_refuses_empty_segments(key: str, message: str) -> None:
    with pytest.raises(ProcessorRuntimeError, match=message):
        fm.unflatten({key: "x"})
