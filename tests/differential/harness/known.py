"""Why each expected difference between neuralpipe and the plugins is there.

Three kinds only: a plugin bug neuralpipe does not copy, a behaviour that
``neural-search-semantics.md`` documents for neuralpipe to reproduce (that document wins over
an older plugin where they disagree), and a version difference. neuralpipe follows the 3.x
plugins (the reference node's default, 3.6.0); :data:`VERSION_219` explains, per case, what
differs only against the 2.19.6 plugins, where neuralpipe answers in 3.6's words.
"""

from __future__ import annotations

from typing import Any

DOC = "neural-search-semantics.md"
WINS = f"{DOC} wins over 2.19.6 where they disagree"
KNOWN = {
    "blank": "plugin bug not copied: 2.19.x-3.3 refuse blank strings in text_embedding "
    "('map type field [text] has empty string value, cannot process it' / 'list type field "
    "[text] has empty string, cannot process it') because neural-search #1086 (RRF) "
    "accidentally reverted #1041 (skip blank strings, 2.19); #1668 restored it in 3.4. "
    f"{DOC} §1.3/§1.4/§13 documents skipping (and sending blanks inside lists to the model) "
    f"for 2.19+ as the behaviour to reproduce; {WINS}",
    "int8-ort": "version difference (probable): ml-commons (2.19 and 3.6) runs ONNX Runtime "
    "1.16.3, neuralpipe 1.2x; their int8 kernels (MatMulInteger, fused MultiHeadAttention) "
    "differ slightly, so an int8 vector drifts by up to ~1e-2 per component (cosine >= 0.998) "
    "on some inputs; the fp32 model is identical on the same inputs",
    "rrf-rank-constant": f"documented: {DOC} §9.5 (score-ranker-processor, 2.19+) takes "
    "combination.rank_constant; 2.19.6 reads only combination.parameters.rank_constant and "
    f"silently uses 60 (the 2.19.6 spelling is the next case, identical); {WINS}",
    "neural-npe": "plugin bug not copied: 2.19.6 answers 500 null_pointer_exception 'modelId "
    "is marked non-null but is null'; neuralpipe answers 400 with the 2.19 plugin's own message "
    "for a missing model id ('Model ID must be provided for neural query')",
    "neural-object-quirk": "plugin bug not copied: 2.19.6's parser does not skip an unknown "
    "object parameter and reports its first inner key ('[neural] query does not support "
    "[wing]'); neuralpipe names the parameter ('... [query_tokens]'); status and type match",
    "neural-empty-model": "plugin bug not copied: 2.19.6 asks ml-commons for model '' and "
    "answers 500 status_exception 'Failed to get data object from index .plugins-ml-model' "
    "(id is missing); neuralpipe answers 400 'model_id field can not be empty', the plugin's "
    f"later parse-time check ({DOC} §5.1)",
    "sparse-analyzer": f"documented: {DOC} §7.2 step 4 runs a neural_sparse query_text "
    "without model_id through the default bert-uncased analyzer (3.1+), which neuralpipe "
    f"reproduces; 2.19.6 requires model_id ('query_text and model_id cannot be null'); {WINS}",
    "field-map-tostring": "plugin bug not copied: 2.19.6 takes any field_map value and uses "
    "its toString() as the target field ('5', '[a]'); neuralpipe refuses non-string/map values",
    "chunking-algorithms": f"documented: {DOC} §4.1/§4.2 list fixed_char_length (3.1) among "
    "the supported algorithms and neuralpipe supports it; 2.19.6 lists [fixed_token_length, "
    f"delimiter] (and wraps the IllegalArgumentException as 500 'exception'); {WINS}",
    "z_score": f"documented: {DOC} §9.2/§9.3 define z_score normalization (3.0), which "
    f"neuralpipe reproduces; 2.19.6 refuses it at PUT; {WINS}",
    "neural-field-type": "not emulated yet: 3.x reads the target field's mapping before "
    "rewriting and refuses a field that is neither knn_vector nor semantic with 400 "
    "illegal_argument_exception ('Failed to process the neural query against the field <f> "
    "because its type is not supported...'); neuralpipe rewrites without reading the mapping, "
    "so the node refuses the knn query: 400 search_phase_execution_exception (same status)",
    "asymmetric-500": "plugin bug not copied (a 500 wrapper): ml-commons 3.6 wraps the input check of an "
    "asymmetric _predict (no parameters.content_type for a model with query_prefix / "
    "passage_prefix; a content_type for a model without them) as 500 m_l_exception 'Failed to "
    "inference TEXT_EMBEDDING model: <id>' whose caused_by is the 400 illegal_argument_exception "
    "neuralpipe answers, with the same message",
    "explain-double-min-max": "plugin bug not copied: with explain=true, neural-search 3.6's "
    "NormalizationProcessorWorkflow runs the technique's explain() before normalize(), and "
    "MinMaxScoreNormalizationTechnique.explain() writes the normalized scores back into the "
    "shard's ScoreDocs, so min_max (bounds included) is applied twice and the scores differ from "
    "the same search without explain (here by 3e-4; with a clip lower bound and min_score, a "
    "different hit set); neuralpipe's scores and explanations are those of the search without "
    "explain",
    "hybrid-no-pipeline": f"documented and deliberate: {DOC} §9.1 says to treat a hybrid "
    "query without a normalization/score-ranker processor as unsupported (its raw results are "
    "not meaningful); 2.19.6 returns the raw hybrid scores, neuralpipe refuses the query",
    "ml-inference-query-string": "not emulated yet (rendering): the plugin's 'cannot find field' message "
    "quotes the request as OpenSearch renders it (every default filled in, e.g. "
    "'match_all':{'boost':1.0}); neuralpipe quotes the request as written (short forms of leaf "
    "queries expanded): same message up to that quoted JSON",
    "ml-inference-output-path": "not emulated yet (error type): ml-commons 3.6 fails the document "
    "with a runtime_exception ('An unexpected error occurred: model inference output cannot find "
    "such json path: <path>'); neuralpipe's ingest failures are all illegal_argument_exception "
    "(same message)",
    "ml-inference-ignore-missing": "plugin bug not copied (probable): with ignore_missing, "
    "ml-commons 3.6 still calls the model when the input field is missing, the template's "
    "${input_map.text} left unfilled as a literal string, and writes that output; neuralpipe "
    "leaves the document unchanged, as ignore_missing is documented to do",
}

_SAYS_36 = "version difference: neuralpipe answers as the 3.6 plugins do; 2.19.6 "
VERSION_219 = {
    "neural k + min_score": _SAYS_36 + "has no 'Invalid neural query: ' prefix",
    "neural k + max_distance": _SAYS_36 + "has no 'Invalid neural query: ' prefix",
    "neural without query_text": _SAYS_36 + "says 'Either query text or image text must be "
    "provided for neural query'",
    "neural blank query_text": _SAYS_36 + "says 'Either query text or image text must be "
    "provided for neural query'",
    "neural model_id ''": _SAYS_36 + "asks ml-commons for model '' and answers 500 "
    "(plugin bug not copied)",
    "neural without model_id, no enricher": _SAYS_36 + "answers 500 null_pointer_exception "
    "(plugin bug not copied)",
    "neural unknown model": _SAYS_36 + "says 'Failed to find model' (3.x reads the model's "
    "config first and names the id)",
    "neural semantic_field_search_analyzer": _SAYS_36 + "does not know the 3.1 parameter "
    "('[neural] query does not support ...')",
    "neural query_tokens": _SAYS_36 + "does not know the 3.1 parameter and reports its first "
    "inner key ('[neural] query does not support [wing]')",
    "hybrid inside bool": _SAYS_36 + "stops the message after 'cannot be wrapped into other "
    "queries' (and fails in the search phase)",
    "RRF score-ranker combination.parameters.rank_constant 5": _SAYS_36 + "reads "
    "combination.parameters.rank_constant, which 3.x refuses as an unsupported parameter",
    "register SPARSE_ENCODING with a model_config": _SAYS_36 + "refuses it ('embedding "
    "dimension is null'); 3.x reads a sparse model_config as a BaseModelConfig",
    "register SPARSE_TOKENIZE with a model_config": _SAYS_36 + "refuses it ('embedding "
    "dimension is null'); 3.x reads a sparse model_config as a BaseModelConfig",
}
"""Case name -> why it differs against the 2.19.6 plugins only (identical on 3.6)."""


def explain_for_version(cases: list[Any], version: str) -> None:
    """Give a 2.19 reference run's version-only differences their explanation."""
    if not version.startswith("2."):
        return
    for case in cases:
        if not case.identical and not case.known and case.name in VERSION_219:
            case.known = VERSION_219[case.name]


KNOWN_SPARSE_ANN = {
    "ann": "documented (README, sparse_vector): where the plugin runs SEISMIC (a segment with at "
    "least approximate_threshold documents) it returns at most k approximate hits per segment "
    "with byte-quantized scores; neuralpipe returns the exact top k with exact float scores "
    "(recall 1, a superset of the approximation's recall), so scores differ by the "
    "quantization and the hit lists may differ in order",
}
"""Explanations of the ``sparse_ann`` category (:mod:`.sparse_ann_cases`)."""


KNOWN_TWO_PHASE: dict[str, str] = {
    "prune_ratio 'abc'": "plugin bug not copied: the processor's factory casts "
    "two_phase_parameter values with (Number) and a string fails with a ClassCastException, "
    "which OpenSearch answers as 500 class_cast_exception; neuralpipe answers 400 "
    "illegal_argument_exception with the same message (a bad option is the client's error)",
}
"""Explanations of the ``two_phase`` category (:mod:`.two_phase_cases`), by case name."""
