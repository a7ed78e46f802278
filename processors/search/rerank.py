"""The ``rerank`` search response processor: ``ml_opensearch`` and ``by_field`` (reference §8).

It rescores only the hits of the response page, then sorts them by the new score (descending,
stable) and sets ``max_score`` to the first hit's; ``hits.total``, aggregations and the rest are
kept, and ``"profile": {"shards": []}`` is added as the plugin's rebuilt response has it.

* ``ml_opensearch``: a TEXT_SIMILARITY model (cross-encoder) scores ``(query_text, doc_text)``
  pairs, raw logits, no sigmoid (:mod:`processors.search.rerank_context` reads the texts).
* ``by_field``: the number at ``target_field`` (a dot path through objects; numeric strings
  count) becomes the score; ``keep_previous_score`` stores the old score in
  ``_source[previous_score_field]`` (``previous_score``; the key is configurable from 3.8),
  ``remove_target_field`` deletes the target and any parent left empty.

Failures raise (``InvalidQueryError`` for a bad ``ext.rerank``, else ``ProcessorRuntimeError``)
unless ``ignore_failure`` is set, in which case the response comes back unchanged. The input
response is never modified. Paging through one reranked window: :mod:`.rerank_window`.

Example:
    >>> cfg = RerankConfig.from_body({"by_field": {"target_field": "stars"}})
    >>> response = {"hits": {"total": {"value": 2, "relation": "eq"}, "max_score": 2.0, "hits": [
    ...     {"_id": "a", "_score": 2.0, "_source": {"stars": 1}},
    ...     {"_id": "b", "_score": 1.0, "_source": {"stars": "4.5"}}]}}
    >>> [(h["_id"], h["_score"]) for h in apply_rerank(response, cfg, {}, None)["hits"]["hits"]]
    [('b', 4.5), ('a', 1.0)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from processors.compat.floats import f32, java_float_compare_key, java_parse_float, json_score
from processors.compat.java_text import java_class, java_parse_double, java_str
from processors.errors import InvalidQueryError, ModelError, ProcessorRuntimeError
from processors.models.encoders import CrossEncoder
from processors.search.dsl_values import copy_json
from processors.search.rerank_config import RerankConfig
from processors.search.rerank_context import document_texts, query_text

__all__ = ["ModelLookup", "RerankConfig", "apply_rerank"]

JSONObject = dict[str, Any]
ModelLookup = Callable[[str], CrossEncoder]
NO_SOURCE = "There is no source field to be able to perform rerank on hit [{id}]"
NOT_FOUND = "The field to rerank by is not found at hit [{id}]"
NOT_NUMERIC = "The field mapping to rerank by [{value}] is not Numerical, instead of type [{type}]"
NO_TOTAL = (
    "hits.total is missing (track_total_hits: false): the plugin's rerank fails here with a "
    "NullPointerException"
)
EMPTY_PAGE = "Index 0 out of bounds for length 0 (hits.total > 0 but the page has no hits)"


def _source_value(source: JSONObject, path: str) -> Any:
    """``ProcessorUtils.getValueFromSource``: a dot path through objects only."""
    value: Any = source
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def _java_simple_name(value: Any) -> str:
    return "HashMap" if isinstance(value, dict) else java_class(value).rsplit(".", 1)[-1]


def _field_scores(hits: list[JSONObject], config: RerankConfig) -> list[np.float32]:
    """``by_field``: validate every hit first (the first failure aborts), then read the scores."""
    target = config.target_field or ""
    for hit in hits:
        doc_id = hit.get("_id")
        source = hit.get("_source")
        if not isinstance(source, dict):
            raise _error(NO_SOURCE.format(id=doc_id), config, doc_id)
        value = _source_value(source, target)
        if value is None:
            raise _error(NOT_FOUND.format(id=doc_id), config, doc_id)
        if not _is_numeric(value):
            message = NOT_NUMERIC.format(value=java_str(value), type=_java_simple_name(value))
            raise _error(message, config, doc_id)
    return [_to_float(_source_value(hit["_source"], target)) for hit in hits]


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            java_parse_double(value)
        except ValueError:
            return False
        return True
    return False


def _to_float(value: Any) -> np.float32:
    return java_parse_float(value) if isinstance(value, str) else f32(value)


def _remove_path(source: JSONObject, path: str) -> None:
    """Delete ``path`` and every parent object the deletion leaves empty."""
    keys = path.split(".")
    parents = [source]
    for key in keys[:-1]:
        parents.append(parents[-1][key])
    parents[-1].pop(keys[-1], None)
    for depth in range(len(keys) - 2, -1, -1):
        child = parents[depth].get(keys[depth])
        if isinstance(child, dict) and not child:
            parents[depth].pop(keys[depth])


def _error(message: str, config: RerankConfig, doc_id: str | None = None) -> ProcessorRuntimeError:
    return ProcessorRuntimeError(message, processor_type="rerank", tag=config.tag, doc_id=doc_id)


def _scores(
    response: JSONObject, config: RerankConfig, request: JSONObject, models: ModelLookup | None
) -> list[np.float32]:
    hits: list[JSONObject] = response["hits"]["hits"]
    if config.type == "by_field":
        scores = _field_scores(hits, config)
        for hit in hits:
            if config.keep_previous_score:
                hit["_source"][config.previous_score_field] = hit.get("_score")
            if config.remove_target_field:
                _remove_path(hit["_source"], config.target_field or "")
        return scores
    if models is None or config.model_id is None:
        raise ModelError("rerank ml_opensearch needs a model lookup")
    texts = document_texts(hits, config.document_fields)
    logits = models(config.model_id).score(query_text(request), texts)
    return [f32(s) for s in np.asarray(logits, dtype=np.float32).reshape(-1)]


def _rerank(
    response: JSONObject, config: RerankConfig, request: JSONObject, models: ModelLookup | None
) -> JSONObject:
    if config.type == "ml_opensearch":
        query_text(request)  # the query context is read (and checked) before anything else
    hits_section = response["hits"]
    total = hits_section.get("total")
    if total is None:
        raise _error(NO_TOTAL, config)
    if (total["value"] if isinstance(total, dict) else total) == 0:
        return response
    out = copy_json(response)
    hits: list[JSONObject] = out["hits"]["hits"]
    scores = _scores(out, config, request, models)
    if len(scores) != len(hits):
        raise _error("scores and hits are not the same length", config)
    for hit, score in zip(hits, scores, strict=True):
        hit["_score"] = json_score(score)
    hits.sort(key=lambda h: java_float_compare_key(h["_score"]), reverse=True)  # stable
    if not hits:
        raise _error(EMPTY_PAGE, config)
    out["hits"]["max_score"] = hits[0]["_score"]
    out["profile"] = {"shards": []}
    return out


def apply_rerank(
    response: JSONObject,
    config: RerankConfig,
    request_body: JSONObject,
    models: ModelLookup | None,
) -> JSONObject:
    """Rerank the hits of one search response page (a new response; the input is untouched).

    Args:
        response: The search response (after hybrid fusion, if any).
        config: The processor options.
        request_body: The search request as the node sees it (``ext.rerank`` included).
        models: ``model_id -> CrossEncoder`` (``score(query, texts) -> logits``); unused by
            ``by_field``.

    Raises:
        InvalidQueryError, ProcessorRuntimeError, ModelError: unless ``ignore_failure``.
    """
    try:
        return _rerank(response, config, request_body, models)
    except (InvalidQueryError, ProcessorRuntimeError, ModelError):
        if config.ignore_failure:
            return response
        raise
