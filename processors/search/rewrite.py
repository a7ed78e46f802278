"""Rewrite every ``neural`` / ``neural_sparse`` clause of a request, one model call per model.

Steps, as the plugins order them: parse every clause (syntax errors first), let request
processors such as ``neural_query_enricher`` fill model ids, validate, then infer: all distinct
texts of the request that go to one model are sent in one call (``content_type="query"``), so a
text used by several clauses is embedded once (``neural_sparse`` clauses naming an analyzer share
the call of its tokenizer model). Finally each clause is replaced in place, inner
clauses (inside a ``neural`` filter) before their containers.

Example:
    >>> from processors.testing.fakes import HashEmbedder
    >>> body = {"query": {"neural": {"v": {"query_text": "hi", "model_id": "m", "k": 2}}}}
    >>> out = rewrite_request(body, lambda model_id: HashEmbedder(4))
    >>> sorted(out["query"]["knn"]["v"])
    ['k', 'vector']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from processors.errors import ModelError, ModelNotRegisteredError, UnsupportedFeatureError
from processors.models.encoders import SparseEncoder, TextEmbedder
from processors.models.mlcommons.errors import MODEL_NOT_FOUND, MLNotFoundError
from processors.neural_stats.events import increment
from processors.search.dsl_values import copy_json
from processors.search.neural import NeuralQuery
from processors.search.neural_query_enricher import NeuralQueryEnricherConfig, enrich
from processors.search.neural_sparse import NeuralSparseQuery, analyzer_tokens
from processors.search.query_walk import ClauseRef, find_clauses

JSONObject = dict[str, Any]
ModelFor = Callable[[str], Any]
AnyQuery = NeuralQuery | NeuralSparseQuery

ANALYZER_MODELS: Mapping[str, str] = {
    "bert-uncased": "bert-uncased-tokenizer",
    "mbert-uncased": "mbert-uncased-tokenizer",
}
"""ml-commons' analyzers, run as the SPARSE_TOKENIZE models of the same vocabulary and IDF."""


@dataclass(frozen=True)
class Found:
    """A clause of the request and its parsed form."""

    ref: ClauseRef
    query: AnyQuery

    @property
    def in_query(self) -> bool:
        """In ``body["query"]`` (what request processors such as the enricher visit)."""
        return self.ref.path == "query" or self.ref.path.startswith("query.")


def parse_clauses(body: Any) -> list[Found]:
    """Find and parse every clause (raises the first clause's parsing error)."""
    found: list[Found] = []
    for ref in find_clauses(body):
        parsed: AnyQuery
        if ref.kind == "neural":
            increment("neural_query_requests")
            parsed = NeuralQuery.parse(ref.body)
        else:
            increment("neural_sparse_query_requests")
            parsed = NeuralSparseQuery.parse(ref.body)
            if parsed.method_parameters is not None:
                increment("seismic_query_requests")
        found.append(Found(ref, parsed))
    return found


def apply_enricher(found: Sequence[Found], config: NeuralQueryEnricherConfig) -> list[Found]:
    """``neural_query_enricher`` over the clauses of ``body["query"]``."""
    visited = [f for f in found if f.in_query]
    increment("neural_query_enricher_executions")
    enriched = {
        id(f): q for f, q in zip(visited, enrich([f.query for f in visited], config), strict=True)
    }
    return [replace(f, query=enriched[id(f)]) if id(f) in enriched else f for f in found]


def rewrite_clauses(
    found: Sequence[Found], models: ModelFor, *, analyzers: Mapping[str, str] = ANALYZER_MODELS
) -> None:
    """Validate, infer (one call per model) and replace every clause in place."""
    sources = {id(f): _validate(f.query, analyzers) for f in found}
    dense: dict[str, list[str]] = defaultdict(list)
    # model and analyzer clauses share calls; sparse_vector fields take token ids
    sparse: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for f in found:
        kind, model_id = sources[id(f)]
        if kind == "dense":
            dense[model_id].append(f.query.query_text or "")
        elif kind != "tokens":
            sparse[(model_id, _token_ids(f.query))].append(f.query.query_text or "")
    vectors = {key: v for m, texts in dense.items() for key, v in _embed(models, m, texts)}
    weights = {
        (ids, *key): w
        for (m, ids), texts in sparse.items()
        for key, w in _encode(models, m, texts, token_ids=ids)
    }
    for f in found:
        kind, model_id = sources[id(f)]
        key = (model_id, f.query.query_text or "")
        if isinstance(f.query, NeuralQuery):
            f.ref.replace(f.query.to_knn(vectors[key]))
        elif kind == "tokens":
            f.ref.replace(f.query.to_query(f.query.tokens()))
        else:
            found_weights = weights[(_token_ids(f.query), *key)]
            tokens = analyzer_tokens(found_weights) if kind == "analyzer" else found_weights
            f.ref.replace(f.query.to_query(tokens))


def rewrite_request(
    body: JSONObject,
    models: ModelFor,
    *,
    enrichers: Iterable[NeuralQueryEnricherConfig] = (),
    analyzers: Mapping[str, str] = ANALYZER_MODELS,
) -> JSONObject:
    """A rewritten deep copy of ``body`` (``body`` itself is left as it was)."""
    out = copy_json(body)
    found = parse_clauses(out)
    for config in enrichers:
        found = apply_enricher(found, config)
    rewrite_clauses(found, models, analyzers=analyzers)
    return out


def _validate(query: AnyQuery, analyzers: Mapping[str, str]) -> tuple[str, str]:
    if isinstance(query, NeuralQuery):
        query.check()
        increment("neural_query_against_knn_requests")
        return ("dense", query.model_id or "")
    kind, name = query.source()
    if kind != "analyzer":
        return (kind, name)
    if name not in analyzers:
        raise UnsupportedFeatureError(
            f"neural_sparse analyzer [{name}] is not emulated; supported: {', '.join(analyzers)}"
            " (or give a model_id or query_tokens)"
        )
    return ("analyzer", analyzers[name])


def _unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _embed(models: ModelFor, model_id: str, texts: list[str]) -> list[tuple[Any, list[float]]]:
    try:
        model = models(model_id)
    except ModelNotRegisteredError as exc:  # neural-search 3.x reads the model's config first
        raise MLNotFoundError(f"{MODEL_NOT_FOUND} with the provided model id: {model_id}") from exc
    if not isinstance(model, TextEmbedder):
        raise ModelError(f"model [{model_id}] is not a TEXT_EMBEDDING model; neural needs one")
    distinct = _unique(texts)
    matrix = model.embed(distinct, content_type="query")
    return [((model_id, t), row.tolist()) for t, row in zip(distinct, matrix, strict=True)]


def _token_ids(query: AnyQuery) -> bool:
    return isinstance(query, NeuralSparseQuery) and query.sparse_vector is not None


def _encode(
    models: ModelFor, model_id: str, texts: list[str], *, token_ids: bool = False
) -> list[tuple[Any, Mapping[str, float]]]:
    model = models(model_id)
    if not isinstance(model, SparseEncoder):
        raise ModelError(f"model [{model_id}] is not a SPARSE_ENCODING or SPARSE_TOKENIZE model")
    distinct = _unique(texts)
    if token_ids:  # sparse_embedding_format TOKEN_ID, as the plugin asks for sparse_vector
        maps = model.encode(distinct, content_type="query", token_ids=True)  # type: ignore[call-arg]
    else:
        maps = model.encode(distinct, content_type="query")
    return [((model_id, t), m) for t, m in zip(distinct, maps, strict=True)]
