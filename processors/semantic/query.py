"""``neural`` on a semantic field, rewritten as the plugin rewrites it (then as any ``neural``).

Dense model: ``neural`` on ``<info>.embedding`` with the query's ``model_id``, else the field's
``search_model_id``, else its ``model_id``; with chunking, inside ``nested`` on
``<info>.chunks`` with ``score_mode: max``. Sparse model: ``neural_sparse`` on the
``rank_features`` embedding (``query_tokens`` when given, else the model), nested the same way.

Example:
    >>> fields = {"t": {"type": "semantic", "model_id": "m", "chunking": True}}
    >>> out = rewrite({"query": {"neural": {"t": {"query_text": "wing"}}}}, fields, lambda _: True)
    >>> out["query"]["nested"]["path"], out["query"]["nested"]["score_mode"]
    ('t_semantic_info.chunks', 'max')
    >>> out["query"]["nested"]["query"]["neural"]["t_semantic_info.chunks.embedding"]
    {'query_text': 'wing', 'model_id': 'm'}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processors.semantic.fields import chunking_enabled, embedding_path, info_path

JSONObject = dict[str, Any]
SPARSE_ONLY = ("query_tokens", "semantic_field_search_analyzer")
DENSE_ONLY = ("query_image", "k", "max_distance", "min_score", "expand_nested_docs", "filter",
              "method_parameters")  # fmt: skip
"""``getFieldsOnlySupportedByDenseModel``: a Java HashSet, printed in this order for these."""


class SemanticQueryError(ValueError):
    """The plugin's 400 ``illegal_argument_exception`` for a neural query on a semantic field."""


def rewrite(body: Any, fields: JSONObject, is_dense: Callable[[JSONObject], bool]) -> Any:
    """``body`` with every ``neural`` clause on a semantic field of ``fields`` rewritten
    (in place where possible; the result is returned). ``is_dense(definition)`` tells a
    dense field from a sparse one."""
    if isinstance(body, list):
        return [rewrite(item, fields, is_dense) for item in body]
    if not isinstance(body, dict):
        return body
    neural = body.get("neural")
    if len(body) == 1 and isinstance(neural, dict) and len(neural) == 1:
        field, options = next(iter(neural.items()))
        if field in fields and isinstance(options, dict):
            return _semantic(field, dict(options), fields[field], is_dense(fields[field]))
    return {key: rewrite(value, fields, is_dense) for key, value in body.items()}


def _semantic(field: str, options: JSONObject, definition: JSONObject, dense: bool) -> JSONObject:
    given = options.pop("model_id", None)
    if not dense:
        _check_sparse(options, given)
    model = given or definition.get("search_model_id") or definition["model_id"]
    target = embedding_path(field, definition)
    if dense:
        bad = [k for k in SPARSE_ONLY if k in options]
        if bad:
            raise SemanticQueryError("Invalid neural query: " + "; ".join(
                f"Target field is a semantic field using a dense model. {k} is not supported "
                "since it is for the sparse model." for k in bad))  # fmt: skip
        query: JSONObject = {"neural": {target: {**options, "model_id": model}}}
    else:
        sparse: JSONObject = {}
        for key in ("boost", "_name"):
            if key in options:
                sparse[key] = options.pop(key)
        if "query_tokens" in options:
            sparse["query_tokens"] = options["query_tokens"]
        else:
            sparse["query_text"] = options.get("query_text")
            sparse["model_id"] = model
        query = {"neural_sparse": {target: sparse}}
    if chunking_enabled(definition):
        path = f"{info_path(field, definition)}.chunks"
        return {"nested": {"path": path, "query": query, "score_mode": "max"}}
    return query


def _check_sparse(options: JSONObject, model_id: str | None) -> None:
    """``validateNeuralQueryForSemanticSparse``: every problem, joined as the plugin joins them."""
    errors = []
    text, tokens = options.get("query_text"), options.get("query_tokens")
    if tokens is None and text is None:
        errors.append("Either query_text or query_tokens must be provided")
    elif tokens is None and text == "":
        errors.append("query_text field can not be empty")
    given = [model_id, options.get("semantic_field_search_analyzer"), tokens]
    if sum(v is not None for v in given) > 1:
        errors.append("query_tokens, model_id and semantic_field_search_analyzer can not coexist")
    if model_id == "":
        errors.append("model_id field can not be empty")
    if options.get("semantic_field_search_analyzer") == "":
        errors.append("semantic_field_search_analyzer field can not be empty")
    dense_only = [k for k in DENSE_ONLY if k in options]
    if dense_only:
        errors.append(
            f"Target field is a semantic field using a sparse model. [{', '.join(dense_only)}] "
            "are not supported since they are for the dense model."
        )
    if errors:
        raise SemanticQueryError("Invalid neural query: " + "; ".join(errors))
