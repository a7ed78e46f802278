"""The ``text_chunking`` algorithms and their parameters, ported from neural-search (§4.1-4.3).

Every algorithm works on a Java view of the text (:mod:`processors.compat.java_text`), so lengths
and offsets are UTF-16 code units as in the plugin. ``max_chunk_limit`` is enforced through a
:class:`Budget` shared by every string of one document.

Example:
    >>> algorithm, problems = parse_algorithm({"delimiter": {"delimiter": "."}})
    >>> algorithm.chunk("a.b.c.", Budget(max_chunk_limit=2, string_count=1))
    ['a.', 'b.c.']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from processors.compat.java_text import (
    from_java,
    java_decode_int,
    java_double_str,
    java_floor_int,
    java_parse_double,
    java_str,
    to_java,
)

FIXED_TOKEN_LENGTH = "fixed_token_length"
DELIMITER = "delimiter"
FIXED_CHAR_LENGTH = "fixed_char_length"
ALGORITHMS = (FIXED_TOKEN_LENGTH, DELIMITER, FIXED_CHAR_LENGTH)
"""In the order Java prints ``ChunkerFactory.CHUNKER_ALGORITHMS``."""
WORD_TOKENIZERS = ("standard", "letter", "lowercase", "whitespace", "uax_url_email", "classic",
                   "thai")  # fmt: skip
"""A Java ``Set.of``: the plugin prints it in an order that changes from JVM to JVM."""
MODEL_PREFIX = "model:"
"""neuralpipe extension: ``tokenizer: "model:<model_id>"`` counts that model's own tokens."""
DISABLED = -1
_NULL_PARAM = (
    'Cannot invoke "Object.toString()" because the return value of '
    '"java.util.Map.get(Object)" is null'
)
Problems = list[tuple[str, str]]


@dataclass
class Budget:
    """The plugin's runtime ``max_chunk_limit`` and ``chunk_string_count`` for one document."""

    max_chunk_limit: int
    string_count: int

    def exhausted(self, chunks_so_far: int) -> bool:
        """``Chunker.checkRunTimeMaxChunkLimit``: the rest of the string becomes one chunk."""
        limit = self.max_chunk_limit
        return limit != DISABLED and chunks_so_far + self.string_count >= limit

    def spend(self, chunks: int) -> None:
        """``ChunkUtils.chunkString`` bookkeeping after one non-empty string."""
        self.string_count -= 1
        if self.max_chunk_limit != DISABLED:
            self.max_chunk_limit -= chunks


@dataclass(frozen=True)
class Algorithm:
    """One parsed ``algorithm`` entry (defaults are the plugin's)."""

    name: str = FIXED_TOKEN_LENGTH
    max_chunk_limit: int = 100
    token_limit: int = 384
    tokenizer: str = "standard"
    delimiter: str = "\n\n"
    char_limit: int = 2048
    overlap_rate: float = 0.0

    @property
    def model_id(self) -> str | None:
        """The model whose tokens are counted (``tokenizer: "model:<id>"``), else None."""
        if self.name == FIXED_TOKEN_LENGTH and self.tokenizer.startswith(MODEL_PREFIX):
            return self.tokenizer[len(MODEL_PREFIX) :]
        return None

    def chunk(self, text: str, budget: Budget, starts: Sequence[int] = ()) -> list[str]:
        """Chunks of one non-empty string; ``starts`` are its token start offsets (UTF-16)."""
        view = to_java(text)
        if self.name == DELIMITER:
            chunks = _by_delimiter(view, to_java(self.delimiter), budget)
        else:
            limit = self.char_limit if self.name == FIXED_CHAR_LENGTH else self.token_limit
            step = limit - java_floor_int(limit * self.overlap_rate)
            if self.name == FIXED_CHAR_LENGTH:
                starts = range(len(view))
            chunks = _by_offsets(view, starts, limit, step, budget)
        budget.spend(len(chunks))
        return [from_java(chunk) for chunk in chunks]


def _by_offsets(
    view: str, starts: Sequence[int], limit: int, step: int, budget: Budget
) -> list[str]:
    """``FixedTokenLengthChunker.chunk`` (with every character a token: fixed_char_length)."""
    chunks: list[str] = []
    index = 0
    while index < len(starts):
        begin = 0 if index == 0 else starts[index]
        if budget.exhausted(len(chunks)) or index + limit >= len(starts):
            chunks.append(view[begin:])
            break
        chunks.append(view[begin : starts[index + limit]])
        index += step
    return chunks


def _by_delimiter(view: str, delimiter: str, budget: Budget) -> list[str]:
    """``DelimiterChunker.chunk``: the delimiter stays at the end of its chunk."""
    chunks: list[str] = []
    start = 0
    found = view.find(delimiter)
    while found != -1 and not budget.exhausted(len(chunks)):
        end = found + len(delimiter)
        chunks.append(view[start:end])
        start = end
        found = view.find(delimiter, start)
    if start < len(view):
        chunks.append(view[start:])
    return chunks


def parse_algorithm(
    value: dict[str, Any], where: str = "algorithm"
) -> tuple[Algorithm | None, Problems]:
    """Parse the ``algorithm`` object; problems are ``(path, plugin message)`` pairs."""
    prefix = "Unable to create text_chunking processor as"
    if len(value) > 1:
        return None, [(where, f"{prefix} [algorithm] contains multiple algorithms")]
    name, params = next(iter(value.items()), (FIXED_TOKEN_LENGTH, {}))
    if not isinstance(params, dict):
        return None, [(where, f"{prefix} parameters for [{name}] algorithm must be an object")]
    if name not in ALGORITHMS:
        return None, [
            (
                where,
                f"Chunking algorithm [{name}] is not supported. "
                f"Supported chunking algorithms are [{', '.join(ALGORITHMS)}]",
            )
        ]
    reader = _Params(params, f"{where}.{name}")
    options: dict[str, Any] = {"name": name, "max_chunk_limit": reader.max_chunk_limit()}
    if name == FIXED_TOKEN_LENGTH:
        options["token_limit"] = reader.positive_int("token_limit", 384)
        options["overlap_rate"] = reader.overlap_rate(name)
        options["tokenizer"] = reader.tokenizer()
    elif name == DELIMITER:
        options["delimiter"] = reader.string("delimiter", "\n\n")
    else:
        options["char_limit"] = reader.positive_int("char_limit", 2048)
        options["overlap_rate"] = reader.overlap_rate(name)
    tokenizer = params.get("tokenizer")
    if (
        name != FIXED_TOKEN_LENGTH
        and isinstance(tokenizer, str)
        and tokenizer.startswith(MODEL_PREFIX)
    ):
        reader.fail(
            "tokenizer",
            f"[tokenizer] {tokenizer!r} counts a model's tokens, a neuralpipe extension of "
            f"fixed_token_length only: {name} would ignore it",
        )
    if reader.problems:
        return None, reader.problems
    return Algorithm(**options), []


class _Params:
    """``ChunkerParameterParser``: typed reads of one algorithm's parameters, problems collected.

    Each read returns the value, or None after recording the plugin's message for that key.
    """

    def __init__(self, params: dict[str, Any], where: str) -> None:
        self.params = params
        self.where = where
        self.problems: Problems = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append((f"{self.where}.{key}", message))

    def _number(self, key: str, parse: Callable[[str], Any], java_type: str) -> Any:
        value = self.params[key]
        if value is None:  # Java: NullPointerException from value.toString()
            self.fail(key, _NULL_PARAM)
            return None
        try:
            return parse(java_str(value))
        except ValueError:
            self.fail(key, f"Parameter [{key}] must be of {java_type} type")
            return None

    def integer(self, key: str, default: int) -> int | None:
        if key not in self.params:
            return default
        number: int | None = self._number(key, java_decode_int, "java.lang.Integer")
        return number

    def double(self, key: str, default: float) -> float | None:
        if key not in self.params:
            return default
        number: float | None = self._number(key, java_parse_double, "java.lang.Double")
        return number

    def string(self, key: str, default: str) -> str | None:
        value = self.params.get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"Parameter [{key}] must be of java.lang.String type")
            return None
        if not value:
            self.fail(key, f"Parameter [{key}] should not be empty.")
            return None
        return value

    def max_chunk_limit(self) -> int | None:
        limit = self.integer("max_chunk_limit", 100)
        if limit is not None and limit <= 0 and limit != DISABLED:
            self.fail(
                "max_chunk_limit",
                "Parameter [max_chunk_limit] must be positive or -1 to disable this parameter",
            )
            return None
        return limit

    def positive_int(self, key: str, default: int) -> int | None:
        number = self.integer(key, default)
        if number is not None and number <= 0:
            self.fail(key, f"Parameter [{key}] must be positive.")
            return None
        return number

    def overlap_rate(self, algorithm: str) -> float | None:
        rate = self.double("overlap_rate", 0.0)
        if rate is not None and (rate < 0.0 or rate > 0.5):  # NaN passes, as in Java
            tail = f", but was {java_double_str(rate)}" if algorithm == FIXED_CHAR_LENGTH else ""
            self.fail("overlap_rate", f"Parameter [overlap_rate] must be between 0.0 and 0.5{tail}")
            return None
        return rate

    def tokenizer(self) -> str | None:
        name = self.string("tokenizer", "standard")
        if name is None or name in WORD_TOKENIZERS:
            return name
        if name.startswith(MODEL_PREFIX) and name[len(MODEL_PREFIX) :].strip():
            return name
        if name.startswith(MODEL_PREFIX):
            message = f'[tokenizer] {name!r}: name the model, as in "model:<model_id>"'
        else:
            message = (
                f"Tokenizer [{name}] is not supported for [fixed_token_length] algorithm. "
                f"Supported tokenizers are [{', '.join(WORD_TOKENIZERS)}]"
            )
        self.fail("tokenizer", message)
        return None
