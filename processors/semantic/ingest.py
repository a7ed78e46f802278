"""What the plugin's system processor (``system_ingest_processor_semantic_field``) writes for the
semantic fields of a document: no pipeline needed.

For every string found at a semantic field's path (through objects and lists), the object
next to it gets ``<name>_semantic_info``: ``model`` (``id``, ``name``, ``type``) and the
embedding of the text -- or, with ``chunking``, ``chunks: [{text, embedding}]`` cut by the
field's chunkers one after the other (default: ``fixed_token_length`` with its defaults, through
the node's ``_analyze``). A sparse embedding is pruned as the plugin prunes it (``max_ratio``
0.1 unless ``sparse_encoding_config`` says otherwise). ``skip_existing_embedding`` copies the
stored semantic info when the stored document has the same text, model and chunks.

Example:
    >>> SemanticIngest(fields, model_doc, encoders, client).run(docs)  # doctest: +SKIP
    [None]
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.ingest.chunking import TextChunkingProcessor
from processors.ingest.prune import prune
from processors.semantic.fields import DENSE, META_KEY, ModelDoc, chunking_enabled, info_name

JSONObject = dict[str, Any]
DEFAULT_PRUNE = ("max_ratio", 0.1)
_JAVA_CLASS = {bool: "java.lang.Boolean", int: "java.lang.Integer", float: "java.lang.Double",
               dict: "java.util.LinkedHashMap", list: "java.util.ArrayList"}  # fmt: skip


def for_index(
    client: Any, index: str, model_doc: ModelDoc, encoders: Callable[[str], Any]
) -> SemanticIngest | None:
    """The semantic writer of ``index`` (its ``_meta.neuralpipe.semantic``), None if it has no
    semantic field or does not exist."""
    try:
        answer = client.indices.get_mapping(index=index)
    except Exception:  # no such index: the caller reports it
        return None
    fields: JSONObject = {}
    for entry in answer.values():
        meta = ((entry.get("mappings") or {}).get("_meta") or {}).get("neuralpipe") or {}
        fields.update(meta.get(META_KEY) or {})
    return SemanticIngest(fields, model_doc, encoders, client) if fields else None


def registration_doc(registration: Any) -> JSONObject:
    """A ``_register`` body (:class:`~processors.models.registration.ModelRegistration`) as
    the model document a semantic field reads (``algorithm``, ``name``, ``model_config``)."""
    config = registration.model_config_
    function = getattr(registration.function_name, "value", registration.function_name)
    return {"algorithm": str(function), "name": registration.name,
            "model_config": config.model_dump(exclude_none=True) if config else {}}  # fmt: skip


class SemanticIngestError(ValueError):
    """A document the plugin's processor refuses (400 ``illegal_argument_exception``)."""


@dataclass
class _Slot:
    holder: JSONObject
    key: str
    path: str
    definition: JSONObject
    chunks: list[str]


def _find(node: Any, parts: list[str], path: str, definition: JSONObject) -> list[_Slot]:
    """The string values at ``parts`` under ``node`` (lists walked at any level)."""
    if isinstance(node, list):
        return [s for item in node for s in _find(item, parts, path, definition)]
    if not isinstance(node, dict) or parts[0] not in node:
        return []
    value = node[parts[0]]
    if len(parts) > 1:
        return _find(value, parts[1:], path, definition)
    if value is None:
        return []
    if not isinstance(value, str):
        kind = _JAVA_CLASS.get(type(value), "java.lang.Object")
        raise SemanticIngestError(
            f"Expect the semantic field at path: {path} to be a string but found: class {kind}."
        )
    return [_Slot(node, parts[0], path, definition, [value])]


def _chunker_body(entry: Any) -> JSONObject:
    if isinstance(entry, dict):
        algorithm = str(entry.get("algorithm"))
        return {algorithm: copy.deepcopy(entry.get("parameters") or {})}
    return {"fixed_token_length": {}}


class SemanticIngest:
    """Runs the semantic fields of documents of one index.

    Args:
        fields: ``{path: semantic definition}`` (``_meta.neuralpipe.semantic``).
        model_doc: The model's ml-commons document (name, algorithm).
        encoders: ``model_id -> loaded model`` (``embed`` / ``encode``).
        client: A synchronous client of the node (``_analyze``, existing documents).
    """

    def __init__(
        self, fields: JSONObject, model_doc: ModelDoc, encoders: Callable[[str], Any], client: Any
    ) -> None:
        self.fields = fields
        self.model_doc = model_doc
        self.encoders = encoders
        self.client = client

    def run(self, docs: list[JSONObject]) -> list[str | None]:
        """Write the semantic info into each ``{"_index", "_id", "_source"}`` in place; one
        error message (or None) per document."""
        outcome: list[str | None] = [None] * len(docs)
        slots: list[tuple[int, _Slot]] = []
        for row, doc in enumerate(docs):
            try:
                found = [
                    s
                    for path, definition in self.fields.items()
                    for s in _find(doc["_source"], path.split("."), path, definition)
                ]
                for slot in found:
                    if chunking_enabled(slot.definition):
                        slot.chunks = self._chunk(slot, doc.get("_index"))
                slots += [(row, s) for s in found]
            except (SemanticIngestError, ValueError) as exc:
                outcome[row] = str(exc)
        slots = [(row, s) for row, s in slots if outcome[row] is None]
        pending = [(row, s) for row, s in slots if not self._reused(docs[row], s)]
        try:
            self._embed(pending)
        except Exception as exc:  # the model failed: every document that needed it fails
            for row, _ in pending:
                outcome[row] = str(exc)
        return outcome

    def _chunk(self, slot: _Slot, index: str | None) -> list[str]:
        entries = slot.definition.get("chunking")
        chain = entries if isinstance(entries, list) and entries else [None]
        texts: Any = slot.chunks[0]
        for entry in chain:
            body = {"algorithm": _chunker_body(entry), "field_map": {"v": "c"}}
            processor = TextChunkingProcessor.from_body(body, client=self.client)
            source: JSONObject = {"v": texts}
            error = processor.run([source], [index])[0]
            if error is not None:
                raise SemanticIngestError(str(error))
            texts = source["c"]
        return list(texts)

    def _model_info(self, model_id: str) -> JSONObject:
        doc = self.model_doc(model_id)
        algorithm = str(doc.get("algorithm") or doc.get("function_name"))
        return {"id": model_id, "name": doc.get("name"), "type": algorithm}

    def _reused(self, doc: JSONObject, slot: _Slot) -> bool:
        """``skip_existing_embedding``: the stored info copied when text, model, chunks match."""
        if slot.definition.get("skip_existing_embedding") is not True or not doc.get("_id"):
            return False
        stored = self._stored(doc)
        if stored is None:
            return False
        node: Any = stored
        for part in slot.path.split(".")[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get(slot.key) != slot.holder[slot.key]:
            return False
        info = node.get(info_name(slot.path, slot.definition))
        if not isinstance(info, dict):
            return False
        model = info.get("model")
        if not isinstance(model, dict) or model.get("id") != slot.definition["model_id"]:
            return False
        if chunking_enabled(slot.definition):
            chunks = info.get("chunks")
            if not isinstance(chunks, list):
                return False
            if [c.get("text") for c in chunks if isinstance(c, dict)] != slot.chunks:
                return False
        slot.holder[info_name(slot.path, slot.definition)] = info
        return True

    def _stored(self, doc: JSONObject) -> JSONObject | None:
        try:
            got = self.client.get(index=doc["_index"], id=doc["_id"])
        except Exception:  # not found (or no index yet): nothing to reuse
            return None
        source = got.get("_source") if isinstance(got, dict) else None
        return source if isinstance(source, dict) else None

    def _embed(self, pending: list[tuple[int, _Slot]]) -> None:
        by_model: dict[str, list[str]] = {}
        for _, slot in pending:
            texts = by_model.setdefault(str(slot.definition["model_id"]), [])
            texts.extend(t for t in slot.chunks if t not in texts)
        vectors: dict[tuple[str, str], Any] = {}
        dense: dict[str, bool] = {}
        for model_id, texts in by_model.items():
            dense[model_id] = self._model_info(model_id)["type"] == DENSE
            model = self.encoders(model_id)
            if dense[model_id]:
                rows = [row.tolist() for row in model.embed(texts, "passage")]
            else:
                rows = list(model.encode(texts, "passage"))
            vectors.update({(model_id, t): r for t, r in zip(texts, rows, strict=True)})
        for _, slot in pending:
            model_id = str(slot.definition["model_id"])
            embeddings = [self._finish(slot, vectors[(model_id, t)], dense[model_id])
                          for t in slot.chunks]  # fmt: skip
            info: JSONObject = {"model": self._model_info(model_id)}
            if chunking_enabled(slot.definition):
                pairs = zip(slot.chunks, embeddings, strict=True)
                info["chunks"] = [{"text": t, "embedding": e} for t, e in pairs]
            else:
                info["embedding"] = embeddings[0]
            slot.holder[info_name(slot.path, slot.definition)] = info

    @staticmethod
    def _finish(slot: _Slot, embedding: Any, dense: bool) -> Any:
        if dense:
            return embedding
        config = slot.definition.get("sparse_encoding_config") or {}
        prune_type = str(config.get("prune_type") or DEFAULT_PRUNE[0])
        if prune_type == "none":
            return dict(embedding)
        ratio = config.get("prune_ratio")
        return prune(
            dict(embedding), prune_type, float(DEFAULT_PRUNE[1] if ratio is None else ratio)
        )
