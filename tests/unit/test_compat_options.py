"""The one ConfigurationUtils reader (processors.compat.options), as every processor uses it."""

from __future__ import annotations

import pytest

from processors.compat.java_text import java_class, java_parse_int
from processors.compat.options import Problems, read, read_int
from processors.errors import InvalidProcessorConfigError
from processors.ingest.chunking import TextChunkingProcessor
from processors.ingest.inference import TextEmbeddingProcessor

BODY = {"model_id": "m", "field_map": {"text": "vec"}}


def problems_of(body: dict[str, object]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        TextEmbeddingProcessor.parse(body)
    return caught.value.problems


def test_an_int_beyond_the_int_range_is_a_long_everywhere() -> None:
    """The copies used to disagree: inference said Integer for any int, java_class Long."""
    assert java_class(2**31 - 1) == "java.lang.Integer"
    assert java_class(2**31) == "java.lang.Long"
    assert problems_of({**BODY, "field_map": 2**31}) == [
        ("field_map", "[field_map] property isn't a map, but of type [java.lang.Long]")
    ]
    with pytest.raises(InvalidProcessorConfigError, match=r"type \[java\.lang\.Long\]"):
        TextChunkingProcessor.parse({"field_map": {"a": "b"}, "algorithm": {}, "tag": 2**40})


@pytest.mark.parametrize("value", ["2147483648", 2**31, "1_0", " 3", 2.0, True])
def test_batch_size_is_read_as_integer_parse_int(value: object) -> None:
    assert problems_of({**BODY, "batch_size": value}) == [
        ("batch_size", f"[batch_size] property cannot be converted to an int [{value}]")
    ]


def test_batch_size_within_range_is_read() -> None:
    assert (
        TextEmbeddingProcessor.parse({**BODY, "batch_size": "2147483647"}).batch_size == 2**31 - 1
    )


def test_readers_collect_every_problem() -> None:
    problems: Problems = []
    body = {"a": 1, "n": "x"}
    assert read(body, "a", str, "string", problems) is None
    assert read(body, "missing", dict, "map", problems, required=True) is None
    assert read_int(body, "n", 1, problems) is None
    assert [key for key, _ in problems] == ["a", "missing", "n"]
    assert java_parse_int("-2147483648") == -(2**31)
