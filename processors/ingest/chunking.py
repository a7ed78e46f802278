"""``text_chunking``: split long texts into passages, exactly as the neural-search plugin (§4).

Reference: https://opensearch.org/docs/latest/ingest-pipelines/processors/text-chunking/

Each ``field_map`` entry names a source field and the key that receives its chunks (a list of
strings, written literally: dots are not split). An object value descends into an object, or into
every object of a list. Strings of a list are chunked one after the other into one flat list.
``max_chunk_limit`` counts every chunk of the document; once reached, the rest of the current
string becomes one last chunk. A missing or null field gets ``[]`` unless ``ignore_missing``.

Pipeline (``pipelines/ingest/<id>.yaml``)::

    processors:
      - text_chunking:
          field_map: {passage_text: passage_chunk}
          algorithm:
            fixed_token_length: {token_limit: 10, overlap_rate: 0.2, tokenizer: standard}
      - text_embedding:
          model_id: my-model
          field_map: {passage_chunk: passage_chunk_embedding}

Input ``{"passage_text": "This is an example document to be chunked. The document contains a
single paragraph, two sentences and 24 tokens by standard tokenizer in OpenSearch."}`` gives::

    "passage_chunk": ["This is an example document to be chunked. The document ",
                      "The document contains a single paragraph, two sentences and 24 ",
                      "and 24 tokens by standard tokenizer in OpenSearch."]

Options:

=================  ==============================================================================
``field_map``      required object: source field -> output key, or -> object for nested input
``algorithm``      required object with at most one entry (``{}``: fixed_token_length defaults):
                   ``fixed_token_length`` (``token_limit`` 384, ``overlap_rate`` 0 to 0.5,
                   ``tokenizer`` standard, letter, lowercase, whitespace, uax_url_email, classic
                   or thai), ``delimiter`` (``delimiter`` "\\n\\n"), ``fixed_char_length``
                   (``char_limit`` 2048, ``overlap_rate``); each also ``max_chunk_limit`` (100;
                   -1 disables)
``ignore_missing`` boolean (false): a missing field writes nothing instead of ``[]``
``tag``, ``description``, ``ignore_failure``: as for every processor
=================  ==============================================================================

fixed_token_length asks the real node: ``POST /<index>/_analyze {"tokenizer": ..., "text": ...}``
(``/_analyze`` when the document has no existing ``_index``); a text with more tokens than the
index's ``index.analyze.max_token_count`` fails the document as in the plugin. Lengths and offsets
are Java UTF-16 code units (an emoji counts 2 in ``char_limit``).

neuralpipe extensions (beyond the plugin; the plugin rejects both, so no plugin body changes
meaning):

* ``tokenizer: "model:<model_id>"`` (fixed_token_length): tokens are those of that model's
  ``tokenizer.json`` (no special tokens, no truncation), so ``token_limit`` bounds what the
  embedding model sees. A chunk may begin inside a word that the model splits into pieces.
* ``chunk_object_key: text`` (processor level): each chunk is written as ``{"text": chunk}``
  instead of a bare string, so a following ``text_embedding`` with the nested field_map
  ``{passage_chunk: {text: embedding}}`` writes each vector into its chunk's object: a chunk and
  its vector stay together in one nested object.

Example:
    >>> step = TextChunkingProcessor.from_body(
    ...     {"field_map": {"body": "chunks"}, "algorithm": {"delimiter": {"delimiter": "."}}})
    >>> docs = [{"body": "One. Two."}]
    >>> step.run(docs), docs[0]["chunks"]
    ([None], ['One.', ' Two.'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from processors.compat import options
from processors.compat.java_text import java_class, java_is_blank, java_str
from processors.errors import InvalidProcessorConfigError, ProcessorRuntimeError
from processors.ingest.chunkers import FIXED_TOKEN_LENGTH, Algorithm, Budget, parse_algorithm
from processors.ingest.token_starts import ModelTokens, NodeAnalyzer, TokenStarts, TokenTable
from processors.neural_stats.events import increment
from processors.registry import Kind, register_processor

JSONObject = dict[str, Any]
Problems = list[tuple[str, str]]
CHUNK_OBJECT_KEY = "chunk_object_key"
KEYS = (
    *("field_map", "algorithm", "ignore_missing", CHUNK_OBJECT_KEY),
    *("description", "tag", "ignore_failure", "on_failure"),
)
DEPTH_LIMIT = 20
"""``index.mapping.depth.limit`` default."""


@dataclass(frozen=True)
class ChunkingConfig:
    """Validated ``text_chunking`` options (generic ones included)."""

    field_map: JSONObject
    algorithm: Algorithm
    ignore_missing: bool = False
    chunk_object_key: str | None = None
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False


def _parse(body: JSONObject) -> ChunkingConfig:
    problems: Problems = []
    unknown = [k for k in body if k not in KEYS]
    if unknown:
        problems.append((unknown[0], options.unsupported("text_chunking", unknown)))
    for key in ("field_map", "algorithm"):
        if body.get(key) is None:
            problems.append((key, options.missing(key)))
    field_map = options.read(body, "field_map", dict, "map", problems)
    algorithm_body = options.read(body, "algorithm", dict, "map", problems)
    algorithm, more = parse_algorithm(algorithm_body) if algorithm_body is not None else (None, [])
    problems.extend(more)
    flags = [
        options.read(body, k, bool, "boolean", problems)
        for k in ("ignore_missing", "ignore_failure")
    ]
    labels = [options.read(body, k, str, "string", problems) for k in ("tag", "description")]
    object_key = body.get(CHUNK_OBJECT_KEY)
    if CHUNK_OBJECT_KEY in body and not _is_plain_key(object_key):
        message = (
            f"[{CHUNK_OBJECT_KEY}] must be a non-empty key without dots (neuralpipe extension: "
            "each chunk is written as {<key>: chunk})"
        )
        problems.append((CHUNK_OBJECT_KEY, message))
    if body.get("on_failure"):
        message = "on_failure inside a neuralpipe processor is not emulated yet"
        problems.append(("on_failure", message))
    if problems or field_map is None or algorithm is None:
        raise InvalidProcessorConfigError("; ".join(m for _, m in problems), problems=problems)
    return ChunkingConfig(
        field_map, algorithm, bool(flags[0]), object_key, labels[0], labels[1], bool(flags[1])
    )


def _is_plain_key(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "." not in value


def _validate_map(key: str, value: JSONObject, spec: Any, depth: int) -> None:
    """``ProcessorDocumentUtils.validateMapTypeValue`` (empty strings allowed)."""
    if depth > DEPTH_LIMIT:
        raise ProcessorRuntimeError(
            f"map type field [{key}] reaches max depth limit, cannot process it"
        )
    if not isinstance(spec, dict):
        raise ProcessorRuntimeError(
            f"[{key}] configuration doesn't match actual value type, configuration type is: "
            f"{java_class(spec)}, actual value type is: java.util.LinkedHashMap"
        )
    for sub_key, sub_spec in spec.items():
        item = value.get(sub_key)
        if isinstance(item, list):
            _validate_list(sub_key, item, spec, depth + 1)
        elif isinstance(item, dict):
            _validate_map(sub_key, item, sub_spec, depth + 1)
        elif item is not None and not isinstance(item, str):
            raise ProcessorRuntimeError(
                f"map type field [{sub_key}] is neither string nor nested type, cannot process it"
            )


def _validate_list(key: str, items: list[Any], spec: JSONObject, depth: int) -> None:
    if depth > DEPTH_LIMIT:
        raise ProcessorRuntimeError(
            f"map type field [{key}] reaches max depth limit, cannot process it"
        )
    for item in items:
        if item is None:
            raise ProcessorRuntimeError(f"list type field [{key}] has null, cannot process it")
        if isinstance(item, list):
            raise ProcessorRuntimeError(
                f"list type field [{key}] is nested list type, cannot process it"
            )
        if isinstance(item, dict):
            _validate_map(key, item, spec.get(key), depth + 1)
        elif not isinstance(item, str):
            raise ProcessorRuntimeError(
                f"list type field [{key}] has non string value, cannot process it"
            )


def _leaves(obj: JSONObject, spec: JSONObject) -> Iterator[tuple[JSONObject, str, Any]]:
    """``(holder, source key, output key)`` in the plugin's order; values are read lazily."""
    for key, target in spec.items():
        if not isinstance(target, dict):
            yield obj, key, target
            continue
        value = obj.get(key)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, dict):
                yield from _leaves(child, target)


def _strings(value: Any) -> list[str]:
    """The strings of a leaf that ``ChunkUtils.chunkString`` will chunk, in order."""
    if isinstance(value, str):
        return [] if java_is_blank(value) else [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v]
    return []


def _string_count(value: Any) -> int:
    """``getChunkStringCountFromLeafType``: a blank (not empty) string still counts."""
    if isinstance(value, str):
        return 1 if value else 0
    return len(_strings(value))


class TextChunkingProcessor:
    """``text_chunking``: one list of chunks per ``field_map`` entry."""

    type_name: ClassVar[str] = "text_chunking"

    def __init__(self, config: ChunkingConfig, tokens: TokenStarts | None = None) -> None:
        self.config = config
        self.tokens = tokens

    @classmethod
    def parse(cls, body: Any) -> ChunkingConfig:
        """Validated options; one ``InvalidProcessorConfigError`` listing every problem."""
        if not isinstance(body, dict):
            raise InvalidProcessorConfigError(f"[{cls.type_name}] options must be an object")
        return _parse(body)

    @classmethod
    def from_body(
        cls, body: Any, *, client: Any = None, encoders: Callable[[str], Any] | None = None
    ) -> TextChunkingProcessor:
        """Build it; fixed_token_length needs ``client`` (or ``encoders`` for ``model:<id>``)."""
        config = cls.parse(body)
        algorithm = config.algorithm
        if algorithm.name != FIXED_TOKEN_LENGTH:
            return cls(config)
        model_id = algorithm.model_id
        if model_id is not None:
            if encoders is None:
                raise ValueError(f"text_chunking tokenizer model:{model_id}: encoders are needed")
            return cls(config, ModelTokens.of(encoders(model_id), model_id))
        if client is None:
            raise ValueError("text_chunking fixed_token_length runs _analyze: a client is needed")
        return cls(config, NodeAnalyzer(client, algorithm.tokenizer))

    def run(
        self, sources: list[JSONObject], indices: Sequence[str | None] | None = None
    ) -> list[ProcessorRuntimeError | None]:
        """Chunk ``sources`` in place; ``indices`` are their ``_index`` (for ``_analyze``)."""
        outcome: list[ProcessorRuntimeError | None] = [None] * len(sources)
        increment("text_chunking_executions", len(sources))
        increment(f"text_chunking_{self.config.algorithm.name}_executions", len(sources))
        where = list(indices) if indices is not None else [None] * len(sources)
        rows = []
        for row, source in enumerate(sources):
            try:
                _validate_map("field_map", source, self.config.field_map, 1)
                rows.append(row)
            except ProcessorRuntimeError as exc:
                outcome[row] = self._error(str(exc))
        table = TokenTable(self.tokens) if self.tokens is not None else None
        if table is not None:
            for row in rows:
                leaves = _leaves(sources[row], self.config.field_map)
                table.want(where[row], [t for h, k, _ in leaves for t in _strings(h.get(k))])
        for row in rows:
            try:
                self._chunk_document(
                    sources[row], partial(table.starts, where[row]) if table else None
                )
            except ProcessorRuntimeError as exc:
                outcome[row] = self._error(str(exc))
        return outcome

    def _chunk_document(
        self, source: JSONObject, starts: Callable[[str], list[int]] | None
    ) -> None:
        """``TextChunkingProcessor.execute`` after validation (writes as it goes, as Java)."""
        spec = self.config.field_map
        count = sum(_string_count(h.get(k)) for h, k, _ in _leaves(source, spec))
        budget = Budget(self.config.algorithm.max_chunk_limit, count)
        for holder, key, target in _leaves(source, spec):
            value = holder.get(key)
            if value is None and self.config.ignore_missing:
                continue
            chunks: list[Any] = []
            for text in _strings(value):
                tokens = starts(text) if starts is not None else ()
                chunks.extend(self.config.algorithm.chunk(text, budget, tokens))
            if self.config.chunk_object_key is not None:
                chunks = [{self.config.chunk_object_key: chunk} for chunk in chunks]
            holder[java_str(target)] = chunks

    def _error(self, message: str) -> ProcessorRuntimeError:
        return ProcessorRuntimeError(message, processor_type=self.type_name, tag=self.config.tag)


register_processor(
    Kind.INGEST,
    TextChunkingProcessor.type_name,
    parse=TextChunkingProcessor.parse,
    # fixed_token_length: _analyze on the node, or a model's tokenizer
    build=lambda body, encoders, client: TextChunkingProcessor.from_body(
        body, client=client, encoders=encoders
    ),
)
