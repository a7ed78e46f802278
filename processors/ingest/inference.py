"""``text_embedding`` and ``sparse_encoding``: configuration and batch execution (reference §1-3).

Both share one base: parse the options with the plugin's own error messages, then for a batch of
documents un-flatten, validate, collect texts, call the model once per ``batch_size`` documents
and write the results back. A document that fails validation fails alone; a failed model call
fails every document of its sub-batch (as the plugin's batch mode does).

Example:
    >>> from processors.testing.fakes import HashEmbedder
    >>> step = TextEmbeddingProcessor.from_body({"model_id": "m", "field_map": {"t": "v"}},
    ...                                        embedder=HashEmbedder(4))
    >>> docs = [{"t": "hello"}]
    >>> step.run(docs)
    [None]
    >>> len(docs[0]["v"])
    4
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from processors.compat import options
from processors.errors import InvalidProcessorConfigError, ProcessorRuntimeError
from processors.ingest import field_map as fm
from processors.ingest.prune import check_prune_config, prune
from processors.ingest.sparse_targets import split_field_map
from processors.models.encoders import SparseEncoder, TextEmbedder
from processors.neural_stats.events import increment
from processors.registry import Kind, register_processor

log = logging.getLogger(__name__)
JSONObject = dict[str, Any]
Infer = Callable[[list[str]], list[Any]]

COMMON_KEYS = (
    "model_id",
    "field_map",
    "batch_size",
    "description",
    "tag",
    "ignore_failure",
    "on_failure",
)


@dataclass(frozen=True)
class InferenceConfig:
    """Options shared by both processors (generic ones included)."""

    model_id: str
    field_map: JSONObject
    batch_size: int = 1
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False
    extra: JSONObject = field(default_factory=dict)


def _errors_of_common(
    type_name: str, body: JSONObject, allowed: Sequence[str]
) -> list[tuple[str, str]]:
    # in the order OpenSearch finds them: the batching factory reads batch_size, the plugin's
    # factory model_id and field_map, and core refuses leftover (unknown) options last
    errors: list[tuple[str, str]] = [("batch_size", m) for m in _batch_size_errors(body)]
    model_id = body.get("model_id")
    if model_id is None:
        errors.append(("model_id", options.missing("model_id")))
    elif not isinstance(model_id, str):
        errors.append(
            (
                "model_id",
                options.wrong_type("model_id", "string", model_id),
            )
        )
    elif not model_id.strip():
        errors.append(("model_id", "model_id is null or empty, cannot process it"))
    errors.extend(("field_map", m) for m in _field_map_errors(body))
    unknown = [k for k in body if k not in allowed]
    if unknown:
        errors.append((unknown[0], options.unsupported(type_name, unknown)))
    return errors


def _field_map_errors(body: JSONObject) -> list[str]:
    if "field_map" not in body:
        return [options.missing("field_map")]
    fmap = body["field_map"]
    if not isinstance(fmap, dict):
        if fmap is None:  # an explicit null: readMap's cast of it
            return ["[field_map] property isn't a map, but of type [java.lang.Object]"]
        return [options.wrong_type("field_map", "map", fmap)]
    if not fmap or not _field_map_entries_valid(fmap):
        return ["Unable to create the processor as field_map has invalid key or value"]
    return []


def _field_map_entries_valid(fmap: JSONObject) -> bool:
    for key, value in fmap.items():
        if not str(key).strip() or value is None:
            return False
        if isinstance(value, str) and not value.strip():
            return False
        if isinstance(value, dict) and not (value and _field_map_entries_valid(value)):
            return False
        if not isinstance(value, str | dict):
            return False
    return True


def _batch_size_errors(body: JSONObject) -> list[str]:
    problems: options.Problems = []
    number = options.read_int(body, "batch_size", 1, problems)
    if number is None:
        return [message for _, message in problems]
    return [] if number >= 1 else ["[batch_size] batch size must be a positive integer"]


class InferenceProcessor:
    """Base of the two model-calling ingest processors."""

    type_name: ClassVar[str]
    list_key: ClassVar[str]
    extra_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: InferenceConfig, infer: Infer) -> None:
        self.config = config
        self._infer = infer

    @classmethod
    def parse(cls, body: JSONObject) -> InferenceConfig:
        """Validated options; one ``InvalidProcessorConfigError`` listing every problem."""
        if not isinstance(body, dict):
            raise InvalidProcessorConfigError(f"[{cls.type_name}] options must be an object")
        errors = _errors_of_common(cls.type_name, body, (*COMMON_KEYS, *cls.extra_keys))
        errors.extend(
            ("prune_ratio" if "ratio" in m else "prune_type", m) for m in cls._extra_errors(body)
        )
        if body.get("on_failure"):
            errors.append(
                ("on_failure", "on_failure inside a neuralpipe processor is not emulated yet")
            )
        if errors:
            raise InvalidProcessorConfigError("; ".join(m for _, m in errors), problems=errors)
        return InferenceConfig(
            model_id=body["model_id"], field_map=body["field_map"],
            batch_size=int(str(body.get("batch_size", 1))),
            tag=body.get("tag"), description=body.get("description"),
            ignore_failure=bool(body.get("ignore_failure", False)),
            extra={k: body[k] for k in cls.extra_keys if k in body},
        )  # fmt: skip

    @classmethod
    def _extra_errors(cls, body: JSONObject) -> list[str]:
        return []

    def run(self, sources: list[JSONObject]) -> list[ProcessorRuntimeError | None]:
        """Process ``sources`` in place; one error (or None) per document, in order.

        The model is called once for the whole run (its outputs do not depend on batch
        composition); only when that call fails are the ``batch_size`` sub-batches retried one
        by one, and the documents of a failed sub-batch one at a time, so a failure fails only
        the document that causes it (the plugin would fail its whole sub-batch; losing valid
        neighbours helps nobody).
        """
        outcome: list[ProcessorRuntimeError | None] = [None] * len(sources)
        increment(f"{self.type_name}_executions", len(sources))
        rows = (self._prepare(sources, row, outcome) for row in range(len(sources)))
        prepared = [p for p in rows if p is not None]
        size = self.config.batch_size
        if size < len(sources):
            try:
                self._infer_and_write(prepared)
                return outcome
            except Exception:  # retried per sub-batch below, where the failure is reported
                log.debug("whole-batch inference failed; retrying per batch_size sub-batch")
        for start in range(0, len(sources), size):
            group = [p for p in prepared if start <= p[0] < start + size]
            try:
                self._infer_and_write(group)
            except Exception as exc:  # isolated below to the documents that fail alone
                for one in group if len(group) > 1 else []:
                    try:
                        self._infer_and_write([one])
                    except Exception as alone:
                        outcome[one[0]] = self._error(f"{type(alone).__name__}: {alone}")
                if len(group) == 1:
                    outcome[group[0][0]] = self._error(f"{type(exc).__name__}: {exc}")
        return outcome

    @property
    def skips_existing(self) -> bool:
        """``skip_existing: true``: stored outputs of unchanged inputs are reused."""
        return self.config.extra.get("skip_existing") in (True, "true")

    def _prepare(
        self, sources: list[JSONObject], row: int, outcome: list[Any]
    ) -> tuple[int, list[fm.Slot]] | None:
        try:
            unflat = fm.unflatten(sources[row])
            fm.validate(unflat, fm.normalise_field_map(self.config.field_map))
        except ProcessorRuntimeError as exc:
            outcome[row] = self._error(str(exc))
            return None
        sources[row].clear()
        sources[row].update(unflat)
        return row, fm.collect(sources[row], self.config.field_map, list_key=self.list_key)

    def _infer_and_write(self, prepared: list[tuple[int, list[fm.Slot]]]) -> None:
        texts = [t for _, slots in prepared for slot in slots for t in slot.texts]
        if not texts:
            return
        results = self._infer(texts)
        position = 0
        for _, slots in prepared:
            count = sum(len(slot.texts) for slot in slots)
            fm.write_results(slots, results[position : position + count])
            position += count

    def _error(self, message: str) -> ProcessorRuntimeError:
        return ProcessorRuntimeError(message, processor_type=self.type_name, tag=self.config.tag)


class TextEmbeddingProcessor(InferenceProcessor):
    """``text_embedding``: dense vectors (list items keyed ``knn``)."""

    type_name = "text_embedding"
    list_key = "knn"
    extra_keys = ("skip_existing",)

    @classmethod
    def from_body(cls, body: JSONObject, *, embedder: TextEmbedder) -> TextEmbeddingProcessor:
        def infer(texts: list[str]) -> list[Any]:
            return [row.tolist() for row in embedder.embed(texts, "passage")]

        return cls(cls.parse(body), infer)


class SparseEncodingProcessor(InferenceProcessor):
    """``sparse_encoding``: token-weight maps (list items keyed ``sparse_encoding``), pruned."""

    type_name = "sparse_encoding"
    list_key = "sparse_encoding"
    extra_keys = ("prune_type", "prune_ratio", "skip_existing")

    @classmethod
    def _extra_errors(cls, body: JSONObject) -> list[str]:
        prune_type = body.get("prune_type") or "none"
        if "prune_ratio" in body and prune_type == "none":
            return ["prune_ratio field is not supported when prune_type is not provided"]
        if prune_type != "none" and "prune_ratio" not in body:
            return [check_prune_config(prune_type, None) or options.missing("prune_ratio")]
        ratio: float | None = None
        if "prune_ratio" in body:
            try:
                ratio = float(body["prune_ratio"])
            except (TypeError, ValueError):
                bad = body["prune_ratio"]
                return [f"[prune_ratio] property cannot be converted to a double [{bad}]"]
        message = check_prune_config(prune_type, ratio)
        return [message] if message else []

    @classmethod
    def from_body(cls, body: JSONObject, *, encoder: SparseEncoder) -> SparseEncodingProcessor:
        config = cls.parse(body)
        prune_type = config.extra.get("prune_type") or "none"
        ratio = float(config.extra.get("prune_ratio", 0))

        def infer(texts: list[str]) -> list[Any]:
            return [
                prune(weights, prune_type, ratio) for weights in encoder.encode(texts, "passage")
            ]

        def infer_ids(texts: list[str]) -> list[Any]:
            found = encoder.encode(texts, "passage", token_ids=True)  # type: ignore[call-arg]
            return [prune(weights, prune_type, ratio) for weights in found]

        processor = cls(config, infer)
        processor.infer_token_ids = infer_ids
        return processor

    infer_token_ids: Infer | None = None
    """The model asked for ``sparse_embedding_format: TOKEN_ID`` (``sparse_vector`` targets)."""

    def run_with_targets(
        self, sources: list[JSONObject], token_id_paths: frozenset[str]
    ) -> list[ProcessorRuntimeError | None]:
        """:meth:`run`, writing token ids into the targets ``token_id_paths`` names."""
        words, ids = split_field_map(self.config.field_map, token_id_paths)
        if not ids or self.infer_token_ids is None:
            return self.run(sources)
        increment("sparse_encoding_seismic_executions")
        outcome: list[ProcessorRuntimeError | None] = [None] * len(sources)
        for part, infer in ((words, self._infer), (ids, self.infer_token_ids)):
            if not part:
                continue
            sub = SparseEncodingProcessor(replace(self.config, field_map=part), infer)
            for row, error in enumerate(sub.run(sources)):
                outcome[row] = outcome[row] or error
        return outcome


register_processor(
    Kind.INGEST,
    TextEmbeddingProcessor.type_name,
    parse=TextEmbeddingProcessor.parse,
    build=lambda body, encoders, client: TextEmbeddingProcessor.from_body(
        body, embedder=encoders(body["model_id"])
    ),
)
register_processor(
    Kind.INGEST,
    SparseEncodingProcessor.type_name,
    parse=SparseEncodingProcessor.parse,
    build=lambda body, encoders, client: SparseEncodingProcessor.from_body(
        body, encoder=encoders(body["model_id"])
    ),
)
