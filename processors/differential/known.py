"""Why each expected difference between neuralpipe and the 2.19.6 plugins is there.

Three kinds only: a plugin bug neuralpipe does not copy, a behaviour that
``../shared/reference/neural-search-semantics.md`` documents for neuralpipe to reproduce (that
document wins over 2.19.6 where they disagree), and a runtime version difference.
"""

from __future__ import annotations

DOC = "neural-search-semantics.md"
WINS = f"{DOC} wins over 2.19.6 where they disagree"
KNOWN = {
    "blank": "plugin bug not copied: 2.19.x-3.3 refuse blank strings in text_embedding "
    "('map type field [text] has empty string value, cannot process it' / 'list type field "
    "[text] has empty string, cannot process it') because neural-search #1086 (RRF) "
    "accidentally reverted #1041 (skip blank strings, 2.19); #1668 restored it in 3.4. "
    f"{DOC} §1.3/§1.4/§13 documents skipping (and sending blanks inside lists to the model) "
    f"for 2.19+ as the behaviour to reproduce; {WINS}",
    "int8-ort": "version difference (probable): ml-commons 2.19 runs ONNX Runtime 1.16.3, "
    "neuralpipe 1.32.0; their int8 kernels (DynamicQuantizeLinear/MatMulInteger) differ "
    "slightly and the drift grows with length: only the 256-token input passes 1e-4 "
    "(cosine 0.9995); the fp32 model is identical on the same input",
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
    "hybrid-no-pipeline": f"documented and deliberate: {DOC} §9.1 says to treat a hybrid "
    "query without a normalization/score-ranker processor as unsupported (its raw results are "
    "not meaningful); 2.19.6 returns the raw hybrid scores, neuralpipe refuses the query",
}
