"""The one translation of a ``PUT /<index>`` body for the node: what the proxy sends on
``PUT /<index>`` and ``neuralpipe index create --mapping`` sends alike.

In order: ``index.neural_search.semantic_ingest_batch_size`` (a plugin setting the node does
not know) and the ``semantic`` fields (:mod:`processors.semantic.fields`) go to
``_meta.neuralpipe``; on the embedded node, ``knn_vector`` fields are checked
(:func:`~processors.opensearch.indices.check_for_embedded_node`); ``sparse_vector`` fields
become marked ``rank_features`` (:mod:`processors.config.sparse_vector_mapping`); every
``rank_features`` field gets its dotted-feature mirror (:mod:`processors.ingest.sparse_mirror`,
before the ``sparse_vector`` translation: token ids have no dots). Pipeline
settings are left to the caller (the proxy knows which pipelines it serves).

Example:
    >>> body = {"settings": {"index.sparse": True},
    ...         "mappings": {"properties": {"e": {"type": "sparse_vector",
    ...                                           "method": {"name": "seismic"}}}}}
    >>> node = node_index_body(body, lambda _: {})
    >>> node["mappings"]["properties"]["e"]["type"]
    'rank_features'
    >>> sorted(node["mappings"]["_meta"]["neuralpipe"])
    ['index.sparse', 'sparse_vector']
"""

from __future__ import annotations

import copy
import json
from typing import Any

from processors.config.sparse_vector_mapping import has_sparse_vector, to_node_body
from processors.ingest.sparse_mirror import add_mirrors
from processors.opensearch.indices import check_for_embedded_node
from processors.semantic.fields import (
    BATCH_SETTING,
    META_KEY,
    ModelDoc,
    SemanticMappingError,
    to_node,
)

JSONObject = dict[str, Any]
_NESTED = "neural_search.semantic_ingest_batch_size"


def take_batch_size(settings: Any) -> str | None:
    """Remove ``index.neural_search.semantic_ingest_batch_size`` from ``settings`` (flat,
    ``index.``-nested or fully nested; an ``index`` object left empty goes too) and return its
    value, checked as the plugin's setting checks it (an integer from 1 to 100).

    >>> settings = {"index": {"neural_search": {"semantic_ingest_batch_size": 4}}}
    >>> take_batch_size(settings), settings
    ('4', {})

    Raises:
        SemanticMappingError: the node's ``Failed to parse value [...]`` (400
            ``illegal_argument_exception``).
    """
    if not isinstance(settings, dict):
        return None
    found = None
    for holder, key in ((settings, BATCH_SETTING), (settings.get("index"), _NESTED)):
        if isinstance(holder, dict) and key in holder:
            found = holder.pop(key)
    index = settings.get("index")
    if isinstance(index, dict):
        nested = index.get("neural_search")
        if isinstance(nested, dict) and "semantic_ingest_batch_size" in nested:
            found = nested.pop("semantic_ingest_batch_size")
            if not nested:
                index.pop("neural_search")
        if not index:
            settings.pop("index")
    if found is None:
        return None
    problem = _bad_batch_size(found)
    if problem:
        raise SemanticMappingError(problem)
    return str(found)


def _bad_batch_size(value: Any) -> str | None:
    try:
        number = int(str(value))
    except ValueError:
        return f"Failed to parse value [{value}] for setting [{BATCH_SETTING}]"
    if number < 1:
        return f"Failed to parse value [{value}] for setting [{BATCH_SETTING}] must be >= 1"
    if number > 100:
        return f"Failed to parse value [{value}] for setting [{BATCH_SETTING}] must be <= 100"
    return None


def translate_semantic(holder: JSONObject, model_doc: ModelDoc) -> None:
    """``holder`` (an index body, or a template's ``template``) with its batch-size setting and
    semantic fields made for the node, in place.

    Raises:
        SemanticMappingError: (or its SemanticParseError) the plugin's refusal.
        MLNotFoundError: (from ``model_doc``) a model that does not exist.
    """
    kept: JSONObject = {}
    batch = take_batch_size(holder.get("settings"))
    if batch is not None:
        kept[BATCH_SETTING] = batch
    mappings = holder.get("mappings")
    if isinstance(mappings, dict):
        node, semantic = to_node(mappings, model_doc)
        if semantic:
            kept[META_KEY] = semantic
            holder["mappings"] = node
    if kept:
        meta = holder.setdefault("mappings", {}).setdefault("_meta", {})
        meta.setdefault("neuralpipe", {}).update(kept)


def node_index_body(
    body: JSONObject, model_doc: ModelDoc, *, embedded: bool = False, name: str = "mapping"
) -> JSONObject:
    """The body the node gets for ``PUT /<name>`` with ``body`` (a copy; ``body`` is left as
    it was). ``embedded``: the node is neuralpipe's own (``knn_vector`` engines checked).

    Raises:
        SemanticMappingError: a semantic field or the batch size refused as the plugin does.
        SparseVectorMappingError: a ``sparse_vector`` field refused as the plugin does.
        ConfigError: a ``knn_vector`` field the embedded node cannot hold.
        MLNotFoundError: (from ``model_doc``) a semantic field's model that does not exist.
    """
    out = copy.deepcopy(body)
    translate_semantic(out, model_doc)
    if isinstance(out.get("mappings"), dict):
        add_mirrors(out["mappings"])  # before sparse_vector fields become rank_features
    text = json.dumps(out).encode()
    if embedded and b"knn_vector" in text:
        out = check_for_embedded_node(out, source=name)
    if has_sparse_vector(text):
        out = to_node_body(out)
    return out
