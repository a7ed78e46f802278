"""Run a search through a search pipeline: ours in Python, core processors on the node.

For one request, in the order the plugins work:

1. run our request processors of stage ``request`` (``ml_inference``) on the body, then find
   and parse every ``neural`` / ``neural_sparse`` clause (syntax errors first);
2. run our request processors of stage ``clauses`` (``neural_query_enricher``) on them;
3. check that ``neural_sparse`` fields are ``rank_features`` (cached per index and field);
4. infer (one model call per model) and rewrite the clauses to ``knn`` / ``rank_feature``
   (dotted ``neural_sparse`` tokens that no document has are dropped first, see
   :mod:`processors.search.sparse_dotted`);
5. send the request with the pipeline's core processors as an inline ``search_pipeline``
   (``ext.rerank`` and ``ext.neuralpipe`` removed: the node has no ``ext`` parsers and answers
   400 to any) -- or, for a top-level ``hybrid`` query, hand it to the phase-results
   processor (``normalization-processor``, ``score-ranker-processor``: a hybrid query needs
   one; core processors with a hybrid query are refused);
6. run our response processors (``rerank``, ``ml_inference``...), which get the request as
   written (``neural`` clauses intact, ``ext.rerank`` kept), so a ``query_text_path`` such as
   ``query.neural.<field>.query_text`` resolves as on OpenSearch.

Every step runs through the processor registry (:mod:`processors.registry`): each processor
is found by its section and type name and run by the ``run`` it registered, so this module
names none of them.

With a ``rerank`` step and ``"ext": {"neuralpipe": {"rerank_window": N}}`` (beyond the plugin),
steps 1-6 run once for hits ``0..N`` and later pages of the same request are cut from the
reranked window kept in a :class:`~processors.search.rerank_window.RerankWindowCache` (no
inference, no node call); ``from`` / ``size`` given as URL parameters page through it too.

Example:
    >>> spec = load_search_pipeline(Path("pipelines/search/neural-defaults.yaml"))  # doctest: +SKIP
    >>> pipeline = SearchPipeline(spec, models=store.get, client=client)  # doctest: +SKIP
    >>> body = {"query": {"neural": {"v": {"query_text": "hi"}}}}
    >>> pipeline.search("docs", body)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from processors.config.search_body import SearchPipelineSpec
from processors.errors import InvalidQueryError, UnsupportedFeatureError
from processors.neural_stats.events import increment
from processors.registry import Kind, SearchContext, Stage, processor_type
from processors.search.dsl_values import copy_json
from processors.search.neural_sparse import NAME as NEURAL_SPARSE
from processors.search.neural_sparse import NeuralSparseQuery
from processors.search.node_analyzer import IndexAnalyzerTokens
from processors.search.rerank_window import (
    WINDOW_FLAG,
    RerankWindowCache,
    rerank_window,
    windowed_rerank,
)
from processors.search.rewrite import ANALYZER_MODELS, Found, parse_clauses, rewrite_clauses
from processors.search.semantic_highlight import (
    apply_semantic_highlight,
    take_semantic_highlight,
    wants_semantic_highlight,
)
from processors.search.sparse_ann import ExactTopK, SparseVectorField
from processors.search.sparse_dotted import DottedFeatureCheck, MappedMirrors

JSONObject = dict[str, Any]
ModelFor = Callable[[str], Any]
HYBRID_WITHOUT_FUSION = (
    "a hybrid query needs a normalization-processor or score-ranker-processor in the search "
    "pipeline (without one the plugin's raw hybrid results are not meaningful)"
)
HYBRID_WITH_CORE_STEPS = (
    "core search processors (run on the node) together with a hybrid query are not emulated"
)


class SearchPipeline:
    """A search pipeline bound to models (``model_id -> runtime``) and a node client.

    Args:
        spec: A validated pipeline body; ``None`` runs only the query rewrites.
        models: ``model_id -> loaded model`` (e.g. ``encoder_resolver(settings)``).
        client: An opensearch-py client.
        analyzers: ``neural_sparse`` analyzer name -> SPARSE_TOKENIZE model id.
        check_fields: Refuse ``neural_sparse`` on fields that are not ``rank_features``, as
            the plugin does (one ``_mapping/field`` call per index and field, then cached).
        window_cache: Where ``ext.neuralpipe.rerank_window`` windows are kept (share one
            between pipelines to bound memory once per process); default: one per pipeline.

    Example:
        >>> SearchPipeline(None, models=lambda m: HashEmbedder(), client=client)  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: SearchPipelineSpec | None,
        *,
        models: ModelFor,
        client: Any,
        analyzers: Mapping[str, str] = ANALYZER_MODELS,
        check_fields: bool = True,
        window_cache: RerankWindowCache | None = None,
    ) -> None:
        self.spec = spec
        self.models = models
        self.client = client
        self.analyzers = analyzers
        self.check_fields = check_fields
        self.node_pipeline = spec.node_pipeline() if spec else None
        self._rerank = [s for s in (spec.response if spec else ()) if not s.runs_on_node]
        self._response_names = tuple(s.type_name for s in self._rerank)
        self._sparse_ok: dict[str, dict[str, SparseVectorField | None]] = defaultdict(dict)
        self._mirrors = MappedMirrors(client)
        self.window_cache = window_cache if window_cache is not None else RerankWindowCache()

    @property
    def pipeline_id(self) -> str | None:
        return self.spec.pipeline_id if self.spec else None

    def search(
        self,
        index: str | None,
        body: JSONObject | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> JSONObject:
        """Search ``index`` with ``body``; an OpenSearch-shaped response."""
        request = copy_json(body or {})
        _refuse_inline_pipeline(request)
        query_params = dict(params or {})
        window = rerank_window(request)  # validated even where no rerank step uses it
        if window is None or not self._rerank:
            original = copy_json(request) if self._rerank else request
            return self._response_processors(self._fetch(index, request, query_params), original)
        return self._windowed(index, request, query_params)

    def node_request(
        self,
        index: str | None,
        body: JSONObject | None,
        owned: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> JSONObject | None:
        """What :meth:`search` would send to the node, when the node's answer is the answer.

        That is: steps 1-5 (field checks and inference included) without sending, for a
        pipeline with no ``rerank`` step and a query that is not ``hybrid``; ``None``
        otherwise (run :meth:`search`). A proxy sends the result itself and streams the
        node's answer back unparsed. With ``owned``, ``body`` itself is rewritten (no copy).
        """
        return self.node_request_checked(index, body, owned, params, deferred=False)[0]

    def node_request_checked(
        self,
        index: str | None,
        body: JSONObject | None,
        owned: bool = False,
        params: Mapping[str, Any] | None = None,
        *,
        deferred: bool = True,
    ) -> tuple[JSONObject | None, DottedFeatureCheck | None]:
        """:meth:`node_request`, and with ``deferred`` the dotted tokens of mirrored fields
        sent to their mirrors unasked: the request then carries the probe as its ``suggest``
        section and comes with the check, whose :meth:`~DottedFeatureCheck.confirmed` the
        caller asks of the node's answer (and removes the ``np_dotted_`` suggestions from it);
        unconfirmed, the answer is not the plugin's: send :meth:`node_request`'s instead.
        Not deferred: a request with its own ``suggest`` or ``profile``, a scroll.
        """
        if self._rerank or wants_semantic_highlight(body):
            return None, None
        request = (body if owned else copy_json(body)) if body is not None else {}
        _refuse_inline_pipeline(request)
        rerank_window(request)  # validated, as search() does
        query = request.get("query")
        if isinstance(query, dict) and "hybrid" in query:
            return None, None
        deferred = (
            deferred
            and "suggest" not in request
            and not request.get("profile")
            and "scroll" not in (params or {})
        )
        check = self._rewrite_clauses(
            index, request, check_fields=True, url_size=_url_size(params), deferred=deferred
        )
        self._to_node(request)
        if check is None or not check.assumed:
            return request, None
        request["suggest"] = check.deferred_probe()
        return request, check

    def rewrite(self, body: JSONObject, index: str | None = None) -> JSONObject:
        """The request the node would get (no field checks, no search): for inspection.

        With ``index``, ``neural_sparse`` clauses ask it which dotted tokens exist, as a search
        does (without, a clause with a dotted token shows the ``script_score`` fallback).
        """
        request = copy_json(body)
        self._rewrite_clauses(index, request, check_fields=False)
        if "hybrid" not in request.get("query", {}):
            self._to_node(request)
        return request

    def _fetch(self, index: str | None, request: JSONObject, params: JSONObject) -> JSONObject:
        """Steps 1-5 on ``request`` (rewritten in place): the node's (or hybrid's) response,
        semantic highlights added (the node gets the request without them)."""
        self._ml_inference_requests(request)
        plan = take_semantic_highlight(request)
        self._rewrite_clauses(
            index, request, check_fields=True, requests_done=True, url_size=_url_size(params)
        )
        if isinstance(request.get("query"), dict) and "hybrid" in request["query"]:
            response = self._hybrid(index, request, params)  # reads ext.neuralpipe
        else:
            self._to_node(request)
            response = self.client.search(index=index, body=request, params=params)
        if plan is not None:
            apply_semantic_highlight(response, plan, self._highlight_predict)
        return response

    def _highlight_predict(self, model_id: str, body: JSONObject) -> JSONObject:
        from processors.models.mlcommons.task_predict import task_response

        answer: JSONObject = task_response(self.models(model_id), body)
        return answer

    def _windowed(self, index: str | None, request: JSONObject, params: JSONObject) -> JSONObject:
        """One page of the reranked window (fetched and reranked once per request and window)."""
        for key in ("from", "size"):  # URL paging selects the page of the window, as the body's
            if key in params:
                request[key] = params.pop(key)
        ext = request["ext"]["neuralpipe"]
        others = {k: v for k, v in ext.items() if k != WINDOW_FLAG}  # e.g. hybrid_breakdown

        def fetch(window_body: JSONObject) -> JSONObject:
            if others:
                window_body.setdefault("ext", {})["neuralpipe"] = copy_json(others)
            return self._fetch(index, window_body, dict(params))

        def rerank(response: JSONObject) -> JSONObject:
            return self._response_processors(response, request)

        scope = json.dumps([self.pipeline_id or "", sorted(params.items())], default=str)
        return windowed_rerank(
            index or "_all", request, fetch, rerank, self.window_cache, pipeline_id=scope
        )

    def _context(self, **fields: Any) -> SearchContext:
        return SearchContext(self.models, self.client, **fields)

    def _request_steps(self, stage: Stage) -> list[tuple[Any, Any]]:
        """``(run, config)`` of our request processors of ``stage``, in order (the node's run
        on the node, after ours)."""
        steps = []
        for step in self.spec.request if self.spec else ():
            entry = processor_type(Kind.SEARCH_REQUEST, step.type_name)
            if not step.runs_on_node and entry.stage is stage:
                steps.append((entry.run, step.config))
        return steps

    def _request_processors(
        self, found: list[Found], request: JSONObject, size: int | None
    ) -> list[Found]:
        """The request processors of stage ``clauses`` on the ``neural`` clauses found (they
        may add to ``request``, e.g. a rescore); ``size``: the URL's, if any."""
        context = self._context(request=request, size=size)
        for run, config in self._request_steps(Stage.CLAUSES):
            found = run(config, found, context)
        return found

    def _ml_inference_requests(self, request: JSONObject) -> None:
        """The request processors of stage ``request``, in order, on ``request`` (in place)."""
        context = self._context()
        for run, config in self._request_steps(Stage.REQUEST):
            rewritten = run(config, request, context)
            if rewritten is not request:
                request.clear()
                request.update(rewritten)

    def _rewrite_clauses(
        self,
        index: str | None,
        request: JSONObject,
        *,
        check_fields: bool,
        requests_done: bool = False,
        url_size: int | None = None,
        deferred: bool = False,
    ) -> DottedFeatureCheck | None:
        """Steps 1-4 in place: the request processors, then every neural clause rewritten to
        core DSL; ``ext.rerank`` dropped. With ``check_fields`` the ``neural_sparse`` fields
        are checked against ``index``'s mappings; either way, with an index, its clauses ask it
        which dotted tokens exist (``deferred``: see :meth:`node_request_checked`)."""
        if not requests_done:
            self._ml_inference_requests(request)
        found = self._request_processors(parse_clauses(request), request, url_size)
        check = None
        if check_fields:
            check = self._check_sparse_fields(index, found, deferred)
        elif index is not None:
            check = _bind_sparse_clauses(self.client, index, found, self._mirrors.of(index))
        analyze = IndexAnalyzerTokens(self.client, index) if self.client is not None else None
        rewrite_clauses(found, self.models, analyzers=self.analyzers, analyze=analyze)
        _strip_ext(request, "rerank")
        return check

    def _to_node(self, request: JSONObject) -> None:
        """``request`` as the node takes it: no ``ext.neuralpipe``, the core search processors
        of the pipeline as an inline ``search_pipeline``."""
        _strip_ext(request, "neuralpipe")
        _strip_ext(request, "ml_inference")  # the ml_inference processors' parameters
        if self.node_pipeline:
            request["search_pipeline"] = copy_json(self.node_pipeline)

    def _check_sparse_fields(
        self, index: str | None, found: list[Found], deferred: bool = False
    ) -> DottedFeatureCheck | None:
        mirrors = self._mirrors.of(index)
        check = _bind_sparse_clauses(self.client, index, found, mirrors, deferred)
        if not self.check_fields:
            return check
        target = index or "_all"
        fields = {f.query.field for f in found if isinstance(f.query, NeuralSparseQuery)}
        known = self._sparse_ok[target]
        missing = fields - set(known)
        if missing:
            answer = self.client.indices.get_field_mapping(
                index=target, fields=",".join(sorted(missing))
            )
            for name in sorted(missing):
                vector: SparseVectorField | None = None
                for entry in answer.values():
                    mapping = entry.get("mappings", {}).get(name, {}).get("mapping", {})
                    if [m.get("type") for m in mapping.values()] != ["rank_features"]:
                        raise InvalidQueryError(
                            f"[{NEURAL_SPARSE}] query only works on [rank_features] fields"
                        )
                    for m in mapping.values():
                        vector = vector or SparseVectorField.from_meta(m.get("meta"))
                known[name] = vector
        top_ids = ExactTopK(self.client, target)
        for i, f in enumerate(found):
            if isinstance(f.query, NeuralSparseQuery) and known.get(f.query.field) is not None:
                field = known[f.query.field]
                assert field is not None
                found[i] = replace(f, query=f.query.on_sparse_vector(field, top_ids))
        return check

    def _hybrid(
        self, index: str | None, request: JSONObject, params: Mapping[str, Any] | None
    ) -> JSONObject:
        phase = self.spec.phase_results if self.spec else ()
        if not phase:
            raise UnsupportedFeatureError(HYBRID_WITHOUT_FUSION)
        if self.node_pipeline:
            raise UnsupportedFeatureError(HYBRID_WITH_CORE_STEPS)
        increment("hybrid_query_requests")
        entry = processor_type(Kind.SEARCH_PHASE_RESULTS, phase[0].type_name)
        context = self._context(
            index=index, params=dict(params or {}), response_steps=self._response_names
        )
        assert entry.run is not None
        response: JSONObject = entry.run(phase[0].config, request, context)
        return response

    def _response_processors(self, response: JSONObject, request: JSONObject) -> JSONObject:
        """Our response processors in order (each owns its ``ignore_failure``)."""
        context = self._context(request=request, response_steps=self._response_names)
        for step in self._rerank:
            run = processor_type(Kind.SEARCH_RESPONSE, step.type_name).run
            assert run is not None
            response = run(step.config, response, context)
        return response


def _url_size(params: Mapping[str, Any] | None) -> int | None:
    """The URL's ``size`` (it overrides the body's), for the two-phase rescore window."""
    value = (params or {}).get("size")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None  # the node refuses it with its own message


def _refuse_inline_pipeline(request: JSONObject) -> None:
    if "search_pipeline" in request:
        raise UnsupportedFeatureError(
            "an inline search_pipeline in a request that runs through a neuralpipe pipeline"
        )


def _bind_sparse_clauses(
    client: Any,
    index: str | None,
    found: list[Found],
    mirrored: Callable[[str], bool] | None,
    deferred: bool = False,
) -> DottedFeatureCheck | None:
    """Let every ``neural_sparse`` clause ask ``index`` which dotted tokens exist (in place).

    A dotted token no document has is then dropped, and one the field's mirror holds exactly
    becomes a ``rank_feature`` clause on it, instead of turning the clause into a full
    ``script_score`` scan (:mod:`processors.search.sparse_dotted`); one check per request.
    """
    if not any(isinstance(f.query, NeuralSparseQuery) for f in found):
        return None
    check = DottedFeatureCheck(client, index, mirrored, deferred=deferred)
    for i, f in enumerate(found):
        if isinstance(f.query, NeuralSparseQuery):
            found[i] = replace(f, query=f.query.bind(check.answer))
    return check


def _strip_ext(request: JSONObject, name: str) -> None:
    """Remove ``ext.<name>`` (``rerank``, ``neuralpipe``): ours to read, unknown to the node."""
    ext = request.get("ext")
    if isinstance(ext, dict) and name in ext:
        del ext[name]
        if not ext:
            del request["ext"]
