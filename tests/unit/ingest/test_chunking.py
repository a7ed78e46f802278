"""text_chunking: options, algorithms, max_chunk_limit, shapes, UTF-16, extensions (reference §4).

fixed_token_length against the real node's ``_analyze`` is in
``tests/integration/test_chunking_node.py``; here its tokens come from fakes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from opensearchpy import NotFoundError, TransportError

from processors.compat.java_text import (
    java_decode_int,
    java_double_str,
    java_parse_double,
    to_java,
    utf16_offsets,
)
from processors.config.ingest_body import parse_ingest_pipeline
from processors.errors import ConfigError, InvalidProcessorConfigError
from processors.ingest.chunkers import Algorithm
from processors.ingest.chunking import ChunkingConfig, TextChunkingProcessor
from processors.ingest.token_starts import ModelTokens, NodeAnalyzer, Starts
from processors.models.tokenization import TextTokenizer
from processors.pipeline.ingest import IngestPipeline
from processors.testing.fakes import CountSparseEncoder, HashEmbedder
from processors.testing.tiny_models import tiny_tokenizer

T = (
    "This is an example document to be chunked. The document contains a single paragraph, "
    "two sentences and 24 tokens by standard tokenizer in OpenSearch."
)
DOT = {"delimiter": {"delimiter": "."}}
TOKENIZERS = "[standard, letter, lowercase, whitespace, uax_url_email, classic, thai]"


def fake_encoders(model_id: str) -> HashEmbedder:
    return HashEmbedder(4)


def problems_of(body: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidProcessorConfigError) as caught:
        TextChunkingProcessor.parse(body)
    return caught.value.problems


def messages_of(body: Any) -> list[str]:
    return [message for _, message in problems_of(body)]


def chunk(algorithm: dict[str, Any], source: dict[str, Any], **options: Any) -> dict[str, Any]:
    """Run one processor (field_map body -> out unless given) on one source; return it."""
    body = {"field_map": {"body": "out"}, "algorithm": algorithm, **options}
    step = TextChunkingProcessor.from_body(body, encoders=fake_encoders)
    assert step.run([source]) == [None]
    return source


def failure(algorithm: dict[str, Any], source: dict[str, Any], **options: Any) -> str:
    body = {"field_map": {"body": "out"}, "algorithm": algorithm, **options}
    (error,) = TextChunkingProcessor.from_body(body).run([source])
    assert error is not None and error.processor_type == "text_chunking"
    return str(error)


# --- §4.1 configuration -------------------------------------------------------------------------

BASE = {"field_map": {"body": "out"}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"algorithm": {}}, "[field_map] required property is missing"),
        ({"field_map": None, "algorithm": {}}, "[field_map] required property is missing"),
        ({"field_map": "body", "algorithm": {}}, "[field_map] property isn't a map, but of type [java.lang.String]"),
        (BASE, "[algorithm] required property is missing"),
        ({**BASE, "algorithm": ["delimiter"]}, "[algorithm] property isn't a map, but of type [java.util.ArrayList]"),
        ({**BASE, "algorithm": {"delimiter": {}, "fixed_char_length": {}}},
         "Unable to create text_chunking processor as [algorithm] contains multiple algorithms"),
        ({**BASE, "algorithm": {"delimiter": "."}},
         "Unable to create text_chunking processor as parameters for [delimiter] algorithm must be an object"),
        ({**BASE, "algorithm": {"foo": "bar"}},
         "Unable to create text_chunking processor as parameters for [foo] algorithm must be an object"),
        ({**BASE, "algorithm": {"foo": {}}},
         "Chunking algorithm [foo] is not supported. Supported chunking algorithms are [fixed_token_length, delimiter, fixed_char_length]"),
        ({**BASE, "algorithm": {"delimiter": {"max_chunk_limit": 0}}},
         "Parameter [max_chunk_limit] must be positive or -1 to disable this parameter"),
        ({**BASE, "algorithm": {"fixed_char_length": {"max_chunk_limit": -2}}},
         "Parameter [max_chunk_limit] must be positive or -1 to disable this parameter"),
        ({**BASE, "algorithm": {"delimiter": {"max_chunk_limit": "many"}}},
         "Parameter [max_chunk_limit] must be of java.lang.Integer type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"token_limit": 10.5}}},
         "Parameter [token_limit] must be of java.lang.Integer type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"token_limit": 10.0}}},
         "Parameter [token_limit] must be of java.lang.Integer type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"token_limit": True}}},
         "Parameter [token_limit] must be of java.lang.Integer type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"token_limit": 2**31}}},
         "Parameter [token_limit] must be of java.lang.Integer type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"token_limit": 0}}}, "Parameter [token_limit] must be positive."),
        ({**BASE, "algorithm": {"fixed_token_length": {"token_limit": "-3"}}}, "Parameter [token_limit] must be positive."),
        ({**BASE, "algorithm": {"fixed_char_length": {"char_limit": 0}}}, "Parameter [char_limit] must be positive."),
        ({**BASE, "algorithm": {"fixed_token_length": {"overlap_rate": "half"}}},
         "Parameter [overlap_rate] must be of java.lang.Double type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"overlap_rate": 0.6}}},
         "Parameter [overlap_rate] must be between 0.0 and 0.5"),
        ({**BASE, "algorithm": {"fixed_char_length": {"overlap_rate": 0.6}}},
         "Parameter [overlap_rate] must be between 0.0 and 0.5, but was 0.6"),
        ({**BASE, "algorithm": {"fixed_char_length": {"overlap_rate": 1}}},
         "Parameter [overlap_rate] must be between 0.0 and 0.5, but was 1.0"),
        ({**BASE, "algorithm": {"fixed_char_length": {"overlap_rate": -0.00001}}},
         "Parameter [overlap_rate] must be between 0.0 and 0.5, but was -1.0E-5"),
        ({**BASE, "algorithm": {"fixed_token_length": {"tokenizer": "keyword"}}},
         f"Tokenizer [keyword] is not supported for [fixed_token_length] algorithm. Supported tokenizers are {TOKENIZERS}"),
        ({**BASE, "algorithm": {"fixed_token_length": {"tokenizer": 5}}},
         "Parameter [tokenizer] must be of java.lang.String type"),
        ({**BASE, "algorithm": {"fixed_token_length": {"tokenizer": ""}}}, "Parameter [tokenizer] should not be empty."),
        ({**BASE, "algorithm": {"delimiter": {"delimiter": 5}}}, "Parameter [delimiter] must be of java.lang.String type"),
        ({**BASE, "algorithm": {"delimiter": {"delimiter": None}}}, "Parameter [delimiter] must be of java.lang.String type"),
        ({**BASE, "algorithm": {"delimiter": {"delimiter": ""}}}, "Parameter [delimiter] should not be empty."),
        ({**BASE, "algorithm": {"delimiter": {"max_chunk_limit": None}}},
         'Cannot invoke "Object.toString()" because the return value of "java.util.Map.get(Object)" is null'),
        ({**BASE, "algorithm": {}, "ignore_missing": "true"},
         "[ignore_missing] property isn't a boolean, but of type [java.lang.String]"),
        ({**BASE, "algorithm": {}, "ignore_failure": 1},
         "[ignore_failure] property isn't a boolean, but of type [java.lang.Integer]"),
        ({**BASE, "algorithm": {}, "tag": 7}, "[tag] property isn't a string, but of type [java.lang.Integer]"),
        ({**BASE, "algorithm": {}, "model_id": "m", "batch_size": 2},
         "processor [text_chunking] doesn't support one or more provided configuration parameters [model_id, batch_size]"),
        ({**BASE, "algorithm": {}, "on_failure": [{"set": {"field": "x", "value": 1}}]},
         "on_failure inside a neuralpipe processor is not emulated yet"),
    ],
)  # fmt: skip
def test_config_errors_are_the_plugins(body: dict[str, Any], message: str) -> None:
    assert message in messages_of(body)


def test_config_collects_every_problem_with_its_path() -> None:
    body = {
        "field_map": "body",
        "algorithm": {
            "fixed_token_length": {"token_limit": 0, "overlap_rate": 0.9, "tokenizer": "x"}
        },
        "ignore_missing": "yes",
        "extra": 1,
    }
    assert [key for key, _ in problems_of(body)] == [
        "extra",
        "field_map",
        "algorithm.fixed_token_length.token_limit",
        "algorithm.fixed_token_length.overlap_rate",
        "algorithm.fixed_token_length.tokenizer",
        "ignore_missing",
    ]


def test_pipeline_errors_carry_the_json_path() -> None:
    body = {
        "processors": [
            {"text_chunking": {**BASE, "algorithm": {"fixed_char_length": {"char_limit": -1}}}}
        ]
    }
    with pytest.raises(ConfigError) as caught:
        parse_ingest_pipeline("p", body)
    assert (
        "p.processors[0].text_chunking.algorithm.fixed_char_length.char_limit: "
        "Parameter [char_limit] must be positive." in str(caught.value)
    )


def test_defaults_and_java_number_parsing() -> None:
    assert TextChunkingProcessor.parse({**BASE, "algorithm": {}}) == ChunkingConfig(
        {"body": "out"}, Algorithm()
    )
    assert Algorithm() == Algorithm("fixed_token_length", 100, 384, "standard", "\n\n", 2048, 0.0)
    parsed = TextChunkingProcessor.parse(
        {
            **BASE,
            "algorithm": {
                "fixed_token_length": {
                    "token_limit": "0x10",
                    "overlap_rate": " 0.25 ",
                    "max_chunk_limit": -1,
                }
            },
            "ignore_missing": True,
            "tag": "t",
            "description": "d",
            "ignore_failure": True,
        }
    )
    assert parsed.algorithm.token_limit == 16 and parsed.algorithm.overlap_rate == 0.25
    assert parsed.algorithm.max_chunk_limit == -1
    assert (parsed.ignore_missing, parsed.tag, parsed.description, parsed.ignore_failure) == (
        True,
        "t",
        "d",
        True,
    )
    # unknown parameters inside an algorithm are ignored by the plugin, so here too
    assert TextChunkingProcessor.parse({**BASE, "algorithm": {"delimiter": {"token_limit": "x"}}})


def test_java_number_helpers() -> None:
    assert [java_decode_int(s) for s in ("10", "+7", "-0x1F", "#10", "010", "0", "-2147483648")] == [
        10, 7, -31, 16, 8, 0, -(2**31),
    ]  # fmt: skip
    for bad in ("10.5", "08", "", "1_0", " 1", "+-1", "2147483648", "true", "0x"):
        with pytest.raises(ValueError):
            java_decode_int(bad)
    assert [java_parse_double(s) for s in (" 0.2 ", "1e-1", "0.3f", ".5", "5.", "0x1p-2")] == [
        0.2, 0.1, 0.3, 0.5, 5.0, 0.25,
    ]  # fmt: skip
    assert java_parse_double("-Infinity") == float("-inf")
    for bad in ("inf", "nan", "1_0", ".", "", "abc", "0x1.8"):
        with pytest.raises(ValueError):
            java_parse_double(bad)
    assert [java_double_str(x) for x in (0.6, 1.0, 1e-5, 1.25e7, -2.5e-7, 0.001, 1234567.5)] == [
        "0.6", "1.0", "1.0E-5", "1.25E7", "-2.5E-7", "0.001", "1234567.5",
    ]  # fmt: skip


def test_nan_overlap_passes_java_validation_and_means_no_overlap() -> None:
    source = chunk(
        {"fixed_char_length": {"char_limit": 2, "overlap_rate": "NaN"}}, {"body": "abcde"}
    )
    assert source["out"] == ["ab", "cd", "e"]


# --- §4.5 reference outputs, §4.2 algorithms ----------------------------------------------------


def test_delimiter_reference_output() -> None:
    assert chunk(DOT, {"body": T})["out"] == [
        "This is an example document to be chunked.",
        " The document contains a single paragraph, two sentences and 24 tokens by standard tokenizer in OpenSearch.",
    ]


def test_fixed_char_length_reference_output() -> None:
    algorithm = {"fixed_char_length": {"char_limit": 50, "overlap_rate": 0.2}}
    assert chunk(algorithm, {"body": T})["out"] == [
        "This is an example document to be chunked. The doc",
        "d. The document contains a single paragraph, two s",
        "aph, two sentences and 24 tokens by standard token",
        "dard tokenizer in OpenSearch.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a.b.", ["a.", "b."]), ("a.b", ["a.", "b"]), ("...", [".", ".", "."]), ("abc", ["abc"])],
)
def test_delimiter_keeps_it_at_the_end_of_its_chunk(text: str, expected: list[str]) -> None:
    assert chunk(DOT, {"body": text})["out"] == expected


def test_default_delimiter_is_a_blank_line() -> None:
    assert chunk({"delimiter": {}}, {"body": "p1\n\np2"})["out"] == ["p1\n\n", "p2"]


def test_fixed_token_length_cuts_at_token_starts() -> None:
    """Model tokens from the fake (one per word): the plugin's loop over token offsets."""
    algorithm = {
        "fixed_token_length": {"token_limit": 2, "overlap_rate": 0.5, "tokenizer": "model:m"}
    }
    source = chunk(algorithm, {"body": "  one two, three four five  "})
    # overlap floor(2 * 0.5) = 1: step 1; the first chunk starts at 0, the last runs to the end
    assert source["out"] == ["  one two, ", "two, three ", "three four ", "four five  "]


# --- §4.3 max_chunk_limit ------------------------------------------------------------------------


def test_max_chunk_limit_reference_examples() -> None:
    limit2 = {"delimiter": {"delimiter": ".", "max_chunk_limit": 2}}
    assert chunk(limit2, {"body": "a.b.c."})["out"] == ["a.", "b.c."]
    limit3 = {"delimiter": {"delimiter": ".", "max_chunk_limit": 3}}
    assert chunk(limit3, {"body": ["a.b.c.", "d.e."]})["out"] == ["a.", "b.c.", "d.e."]


def test_max_chunk_limit_counts_the_whole_document() -> None:
    body = {
        "field_map": {"a": "a_out", "nested": {"b": "b_out"}},
        "algorithm": {"fixed_char_length": {"char_limit": 1, "max_chunk_limit": 4}},
    }
    source = {"a": "xyz", "nested": [{"b": "pq"}, {"b": "rs"}]}
    assert TextChunkingProcessor.from_body(body).run([source]) == [None]
    # 3 strings to chunk: "xyz" gets 2 chunks (2 + 2 >= 4 stops it), then one chunk each
    assert source["a_out"] == ["x", "yz"]
    assert [n["b_out"] for n in source["nested"]] == [["pq"], ["rs"]]


def test_max_chunk_limit_disabled_and_default() -> None:
    assert (
        len(
            chunk(
                {"fixed_char_length": {"char_limit": 1, "max_chunk_limit": -1}}, {"body": "x" * 150}
            )["out"]
        )
        == 150
    )
    default = chunk({"fixed_char_length": {"char_limit": 1}}, {"body": "x" * 150})["out"]
    assert len(default) == 100 and default[-1] == "x" * 51


def test_runtime_limit_reaching_minus_one_disables_it_as_in_java() -> None:
    """Java's runtime limit is decremented per chunk; once it hits -1 it reads as 'disabled'."""
    algorithm = {"delimiter": {"delimiter": ".", "max_chunk_limit": 1}}
    source = chunk(algorithm, {"body": ["a.b.", "c.d.", "e.f."]})
    assert source["out"] == ["a.b.", "c.d.", "e.", "f."]


def test_blank_strings_count_but_are_not_chunked() -> None:
    """A whitespace-only top-level string counts in chunk_string_count and is never spent."""
    body = {
        "field_map": {"a": "a_out", "b": "b_out"},
        "algorithm": {"delimiter": {"delimiter": ".", "max_chunk_limit": 3}},
    }
    source = {"a": "   ", "b": "x.y.z."}
    TextChunkingProcessor.from_body(body).run([source])
    assert source == {"a": "   ", "b": "x.y.z.", "a_out": [], "b_out": ["x.", "y.z."]}


# --- §4.4 input and output shapes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.b", ["a.", "b"]),
        ("", []),
        (" \n\t ", []),
        (["a.b", "", "c"], ["a.", "b", "c"]),
        (["  "], ["  "]),  # blank strings inside a list are chunked (not filtered)
        ([], []),
        (None, []),
    ],
)
def test_leaf_values(value: Any, expected: list[str]) -> None:
    assert chunk(DOT, {"body": value})["out"] == expected


def test_missing_field_writes_empty_list_unless_ignore_missing() -> None:
    assert chunk(DOT, {})["out"] == []
    assert chunk(DOT, {"other": 1}, ignore_missing=True) == {"other": 1}
    assert chunk(DOT, {"body": None}, ignore_missing=True) == {"body": None}
    assert chunk(DOT, {"body": "a."}, ignore_missing=True)["out"] == ["a."]


def test_nested_objects_and_lists_of_objects() -> None:
    body = {"field_map": {"doc": {"title": "title_chunks"}}, "algorithm": DOT}
    one = {"doc": {"title": "a.b", "other": 1}}
    many = {"doc": [{"title": "a.b"}, {"x": 1}, "loose string", {"title": "c"}]}
    absent: dict[str, Any] = {"doc": "just a string"}
    assert TextChunkingProcessor.from_body(body).run([one, many, absent]) == [None, None, None]
    assert one == {"doc": {"title": "a.b", "other": 1, "title_chunks": ["a.", "b"]}}
    assert many["doc"] == [
        {"title": "a.b", "title_chunks": ["a.", "b"]},
        {"x": 1, "title_chunks": []},
        "loose string",
        {"title": "c", "title_chunks": ["c"]},
    ]
    assert absent == {"doc": "just a string"}


def test_keys_are_literal_and_output_replaces() -> None:
    body = {"field_map": {"a.b": "x.y", "c": "c"}, "algorithm": DOT}
    source = {"a.b": "p.q", "a": {"b": "not me"}, "c": "r.s"}
    assert TextChunkingProcessor.from_body(body).run([source]) == [None]
    assert source == {"a.b": "p.q", "a": {"b": "not me"}, "c": ["r.", "s"], "x.y": ["p.", "q"]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "map type field [body] is neither string nor nested type, cannot process it"),
        (True, "map type field [body] is neither string nor nested type, cannot process it"),
        (["a", 5], "list type field [body] has non string value, cannot process it"),
        (["a", None], "list type field [body] has null, cannot process it"),
        (["a", ["b"]], "list type field [body] is nested list type, cannot process it"),
        ({"k": "v"}, "[body] configuration doesn't match actual value type, configuration type is: "
                     "java.lang.String, actual value type is: java.util.LinkedHashMap"),
        ([{"k": "v"}], "[body] configuration doesn't match actual value type, configuration type is: "
                       "java.lang.String, actual value type is: java.util.LinkedHashMap"),
    ],
)  # fmt: skip
def test_value_errors_fail_the_document(value: Any, message: str) -> None:
    source = {"body": value}
    assert failure(DOT, source) == message
    assert "out" not in source


def test_nested_value_errors_and_depth_limit() -> None:
    body = {"field_map": {"doc": {"n": "out"}}, "algorithm": DOT}
    (error,) = TextChunkingProcessor.from_body(body).run([{"doc": [{"n": 1.5}]}])
    assert str(error) == "map type field [n] is neither string nor nested type, cannot process it"
    spec: dict[str, Any] = {"leaf": "out"}
    deep: dict[str, Any] = {"leaf": "x"}
    for _ in range(20):
        spec, deep = {"n": spec}, {"n": deep}
    (error,) = TextChunkingProcessor.from_body({"field_map": spec, "algorithm": DOT}).run([deep])
    assert str(error) == "map type field [n] reaches max depth limit, cannot process it"


def test_one_bad_document_does_not_stop_the_others() -> None:
    step = TextChunkingProcessor.from_body({**BASE, "algorithm": DOT, "tag": "chunker"})
    sources: list[dict[str, Any]] = [{"body": 1}, {"body": "a.b"}]
    bad, good = step.run(sources)
    assert bad is not None and bad.tag == "chunker" and good is None
    assert sources == [{"body": 1}, {"body": "a.b", "out": ["a.", "b"]}]


def test_cascaded_chunkers() -> None:
    body = {"processors": [
        {"text_chunking": {"field_map": {"body": "paragraphs"}, "algorithm": {"delimiter": {"delimiter": "\n"}}}},
        {"text_chunking": {"field_map": {"paragraphs": "pieces"}, "algorithm": {"fixed_char_length": {"char_limit": 4}}}},
    ]}  # fmt: skip
    pipeline = IngestPipeline(parse_ingest_pipeline("p", body), encoders=fake_encoders)
    (result,) = pipeline.run([{"_id": "1", "_source": {"body": "abcdef\nxy"}}])
    assert result.ok and result.source is not None
    assert result.source["paragraphs"] == ["abcdef\n", "xy"]
    assert result.source["pieces"] == ["abcd", "ef\n", "xy"]


# --- UTF-16 code units ---------------------------------------------------------------------------


def test_char_limit_counts_utf16_code_units() -> None:
    out = chunk({"fixed_char_length": {"char_limit": 3}}, {"body": "ab😀cd😀"})["out"]
    assert out == ["ab\ud83d", "\ude00cd", "😀"]  # Java cuts the pair; the halves stay lone
    assert chunk({"fixed_char_length": {"char_limit": 2}}, {"body": "😀😀x"})["out"] == [
        "😀",
        "😀",
        "x",
    ]
    assert len(to_java("a😀")) == 3


def test_delimiter_around_astral_characters() -> None:
    assert chunk({"delimiter": {"delimiter": "😀"}}, {"body": "a😀b😀"})["out"] == ["a😀", "b😀"]


def test_model_offsets_become_utf16_offsets() -> None:
    assert utf16_offsets("a😀b 😀c", [0, 1, 2, 4, 5]) == [0, 1, 3, 5, 7]
    tokens = ModelTokens(tiny_tokenizer_with_offsets(), "tiny")
    (starts,) = tokens.starts(["hello 😀 world"], None)
    assert starts == [0, 6, 9]  # hello, [UNK] for the emoji, world: in UTF-16 units


def tiny_tokenizer_with_offsets() -> TextTokenizer:
    return TextTokenizer(json.loads(tiny_tokenizer().to_str()), truncation="silent")


class TinyRuntime:
    """A model runtime as the encoders resolver returns it: only its tokenizer matters here."""

    def __init__(self) -> None:
        self.tokenizer = tiny_tokenizer_with_offsets()


# --- fixed_token_length through the node's _analyze (fake client) ------------------------------


class FakeIndices:
    """``client.indices.analyze`` that tokenizes on spaces, as the node numbers array offsets."""

    def __init__(self, max_tokens: int = 10_000, indices: Sequence[str] = ()) -> None:
        self.calls: list[tuple[str | None, Any]] = []
        self.max_tokens = max_tokens
        self.indices = set(indices)

    def analyze(self, body: dict[str, Any], index: str | None = None) -> dict[str, Any]:
        self.calls.append((index, body["text"]))
        if index is not None and index not in self.indices:
            raise NotFoundError(404, "index_not_found_exception", {})
        texts = body["text"] if isinstance(body["text"], list) else [body["text"]]
        tokens, base = [], 0
        for text in texts:
            view = to_java(text)
            tokens += [
                {"start_offset": base + i}
                for i, c in enumerate(view)
                if c != " " and (i == 0 or view[i - 1] == " ")
            ]
            base += len(view) + 1
        if len(tokens) > self.max_tokens:
            reason = (
                f"The number of tokens produced by calling _analyze has exceeded the allowed maximum of [{self.max_tokens}]. "
                "This limit can be set by changing the [index.analyze.max_token_count] index level setting."
            )
            raise TransportError(
                500,
                "illegal_state_exception",
                {"error": {"type": "illegal_state_exception", "reason": reason}},
            )
        return {"tokens": tokens}


class FakeClient:
    def __init__(self, **kwargs: Any) -> None:
        self.indices = FakeIndices(**kwargs)


def test_analyze_is_batched_and_offsets_split_per_text() -> None:
    client = FakeClient(indices=["idx"])
    step = TextChunkingProcessor.from_body(
        {**BASE, "algorithm": {"fixed_token_length": {"token_limit": 2}}}, client=client
    )
    sources: list[dict[str, Any]] = [{"body": "a b c"}, {"body": ["😀 x y", "a b c"]}]
    assert step.run(sources, indices=["idx", "idx"]) == [None, None]
    assert sources[0]["out"] == ["a b ", "c"]
    assert sources[1]["out"] == ["😀 x ", "y", "a b ", "c"]
    assert client.indices.calls == [("idx", ["a b c", "😀 x y"])]  # one call, repeated text once


def test_token_limit_error_is_wrapped_and_batches_fall_back_per_text() -> None:
    client = FakeClient(max_tokens=3)
    step = TextChunkingProcessor.from_body(
        {**BASE, "algorithm": {"fixed_token_length": {"token_limit": 2}}}, client=client
    )
    sources: list[dict[str, Any]] = [{"body": "a b c d"}, {"body": "x y"}]
    bad, good = step.run(sources, indices=["gone", "gone"])
    assert str(bad) == (
        "analyzer standard throws exception: The number of tokens produced by calling _analyze has exceeded "
        "the allowed maximum of [3]. This limit can be set by changing the [index.analyze.max_token_count] "
        "index level setting."
    )
    assert good is None and sources[1]["out"] == ["x y"]
    # the missing index is asked once, then /_analyze; the failed batch is retried text by text
    assert client.indices.calls == [
        ("gone", ["a b c d", "x y"]),
        (None, ["a b c d", "x y"]),
        (None, "a b c d"),
        (None, "x y"),
    ]


def test_node_analyzer_batches_by_size() -> None:
    client = FakeClient()
    analyzer = NodeAnalyzer(client, "standard", max_texts=2, max_units=100)
    starts: list[Starts] = analyzer.starts(["a", "b c", "d", "e" * 120, "f"], None)
    assert starts == [[0], [0, 2], [0], [0], [0]]
    assert [len(t) if isinstance(t, list) else 1 for _, t in client.indices.calls] == [2, 1, 1, 1]


def test_fixed_token_length_without_a_client_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="a client is needed"):
        TextChunkingProcessor.from_body({**BASE, "algorithm": {}})


def test_failure_with_ignore_failure_keeps_the_document() -> None:
    body = {"processors": [
        {"text_chunking": {**BASE, "algorithm": {"fixed_token_length": {}}, "ignore_failure": True}},
    ]}  # fmt: skip
    pipeline = IngestPipeline(
        parse_ingest_pipeline("p", body), encoders=fake_encoders, client=FakeClient(max_tokens=1)
    )
    (result,) = pipeline.run([{"_id": "1", "_index": "idx", "_source": {"body": "two tokens"}}])
    assert result.ok and result.source == {"body": "two tokens"}


# --- neuralpipe extensions -----------------------------------------------------------------------


def test_model_tokenizer_counts_the_models_tokens() -> None:
    body = {"processors": [{"text_chunking": {
        **BASE, "algorithm": {"fixed_token_length": {"token_limit": 2, "tokenizer": "model:tiny"}},
    }}]}  # fmt: skip
    pipeline = IngestPipeline(parse_ingest_pipeline("p", body), encoders=lambda _: TinyRuntime())
    (result,) = pipeline.run([{"_source": {"body": "hello worlds fox"}}])
    assert result.source is not None
    # tiny WordPiece: hello | world ##s | fox: the second chunk starts inside "worlds"
    assert result.source["out"] == ["hello world", "s fox"]


@pytest.mark.parametrize(
    ("algorithm", "message"),
    [
        ({"fixed_token_length": {"tokenizer": "model:"}}, "[tokenizer] 'model:': name the model"),
        ({"fixed_token_length": {"tokenizer": "model:  "}}, "[tokenizer] 'model:  ': name the model"),
        ({"delimiter": {"tokenizer": "model:m"}},
         "[tokenizer] 'model:m' counts a model's tokens, a neuralpipe extension of fixed_token_length only"),
        ({"fixed_char_length": {"tokenizer": "model:m"}}, "extension of fixed_token_length only"),
    ],
)  # fmt: skip
def test_model_tokenizer_misuse(algorithm: dict[str, Any], message: str) -> None:
    assert any(message in m for m in messages_of({**BASE, "algorithm": algorithm}))


def test_model_without_offsets_tokenizer_is_refused() -> None:
    body = {**BASE, "algorithm": {"fixed_token_length": {"tokenizer": "model:sparse"}}}
    with pytest.raises(InvalidProcessorConfigError) as caught:
        TextChunkingProcessor.from_body(body, encoders=lambda _: CountSparseEncoder())
    assert caught.value.problems == [
        (
            "algorithm.fixed_token_length.tokenizer",
            "[tokenizer] model [sparse] has no tokenizer giving token offsets",
        )
    ]


def test_chunk_object_key_keeps_chunk_and_vector_together() -> None:
    body = {"processors": [
        {"text_chunking": {"field_map": {"body": "chunks"}, "algorithm": DOT, "chunk_object_key": "text"}},
        {"text_embedding": {"model_id": "m", "field_map": {"chunks": {"text": "embedding"}}}},
    ]}  # fmt: skip
    pipeline = IngestPipeline(parse_ingest_pipeline("p", body), encoders=lambda _: HashEmbedder(4))
    (result,) = pipeline.run([{"_source": {"body": "One. Two."}}])
    assert result.ok and result.source is not None
    chunks = result.source["chunks"]
    assert [c["text"] for c in chunks] == ["One.", " Two."]
    assert [sorted(c) for c in chunks] == [["embedding", "text"]] * 2
    assert chunks[0]["embedding"] == pytest.approx(HashEmbedder(4).embed(["One."])[0].tolist())


@pytest.mark.parametrize("key", ["", "  ", "a.b", 5, None])
def test_chunk_object_key_misuse(key: Any) -> None:
    (message,) = messages_of({**BASE, "algorithm": DOT, "chunk_object_key": key})
    assert message == (
        "[chunk_object_key] must be a non-empty key without dots "
        "(neuralpipe extension: each chunk is written as {<key>: chunk})"
    )
