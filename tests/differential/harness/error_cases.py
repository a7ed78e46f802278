"""Invalid requests: searches, pipeline bodies, ``_predict`` and register bodies."""

from __future__ import annotations

from typing import Any

from tests.differential.harness.compare import Case, compare_json
from tests.differential.harness.known import KNOWN
from tests.differential.harness.search_cases import (
    MATCH,
    NEURAL,
    SPARSE_Q,
    _hybrid,
    _norm,
    _rerank,
)
from tests.differential.harness.sides import (
    ONNX,
    SPLADE,
    TOKENIZER,
    JSONObject,
    Sides,
    judge,
    search_case,
)


def _neural(**params: Any) -> JSONObject:
    return {"query": {"neural": {"text_embedding": params}}}


BAD_SEARCHES: list[tuple[str, JSONObject | None, JSONObject, str]] = [
    (
        "neural k + min_score",
        None,
        _neural(query_text="x", model_id=ONNX, k=3, min_score=0.2),
        "",
    ),
    (
        "neural k + max_distance",
        None,
        _neural(query_text="x", model_id=ONNX, k=3, max_distance=0.2),
        "",
    ),
    ("neural k=0", None, _neural(query_text="x", model_id=ONNX, k=0), ""),
    ("neural without query_text", None, _neural(model_id=ONNX, k=3), ""),
    ("neural unknown parameter", None, _neural(query_text="x", model_id=ONNX, k=3, foo=1), ""),
    (
        "neural without model_id, no enricher",
        None,
        _neural(query_text="x", k=3),
        KNOWN["neural-npe"],
    ),
    (
        "neural unknown model",
        None,
        _neural(query_text="x", model_id="no-such-model", k=3),
        "",
    ),
    (
        "neural on a text field",
        None,
        {"query": {"neural": {"text": {"query_text": "x", "model_id": ONNX, "k": 3}}}},
        KNOWN["neural-field-type"],
    ),
    (
        "neural two fields",
        None,
        {
            "query": {
                "neural": {
                    "text_embedding": {"query_text": "x", "model_id": ONNX, "k": 3},
                    "other": {"query_text": "x", "model_id": ONNX, "k": 3},
                }
            }
        },
        "",
    ),
    (
        "neural model_id ''",
        None,
        _neural(query_text="x", model_id="", k=3),
        KNOWN["neural-empty-model"],
    ),
    ("neural blank query_text", None, _neural(query_text="  ", model_id=ONNX, k=3), ""),
    (
        "neural semantic_field_search_analyzer",
        None,
        _neural(query_text="x", model_id=ONNX, k=3, semantic_field_search_analyzer="standard"),
        "",
    ),
    (
        "neural query_tokens",
        None,
        _neural(query_text="x", model_id=ONNX, k=3, query_tokens={"wing": 1.0}),
        KNOWN["neural-object-quirk"],
    ),
    (
        "neural_sparse query_text ''",
        None,
        {"query": {"neural_sparse": {"text_sparse": {"query_text": "", "model_id": TOKENIZER}}}},
        "",
    ),
    (
        "neural_sparse model_id ''",
        None,
        {"query": {"neural_sparse": {"text_sparse": {"query_text": "wing", "model_id": ""}}}},
        "",
    ),
    (
        "neural_sparse two fields",
        None,
        {
            "query": {
                "neural_sparse": {
                    "text_sparse": {"query_tokens": {"wing": 1.0}},
                    "other": {"query_tokens": {"wing": 1.0}},
                }
            }
        },
        "",
    ),
    (
        "neural_sparse without query_text/query_tokens",
        None,
        {"query": {"neural_sparse": {"text_sparse": {"model_id": TOKENIZER}}}},
        "",
    ),
    (
        "neural_sparse query_text without model_id",
        None,
        {"query": {"neural_sparse": {"text_sparse": {"query_text": "wing"}}}},
        KNOWN["sparse-analyzer"],
    ),
    (
        "neural_sparse on a knn_vector field",
        None,
        {"query": {"neural_sparse": {"text_embedding": {"query_tokens": {"wing": 1.0}}}}},
        "",
    ),
    (
        "neural_sparse unknown parameter",
        None,
        {
            "query": {
                "neural_sparse": {"text_sparse": {"query_tokens": {"wing": 1.0}, "boosting": 2}}
            }
        },
        "",
    ),
    (
        "hybrid inside bool",
        _norm("min_max", "arithmetic_mean"),
        {
            "query": {
                "bool": {
                    "must": [{"hybrid": {"queries": [MATCH, NEURAL]}}],
                    "should": [{"match": {"title": "wing"}}],
                }
            }
        },
        "",
    ),
    ("hybrid with 6 sub-queries", _norm("min_max", "arithmetic_mean"), _hybrid(*([MATCH] * 6)), ""),
    (
        "hybrid weights count != sub-queries",
        _norm("min_max", "arithmetic_mean", [0.5, 0.5]),
        _hybrid(MATCH, NEURAL, SPARSE_Q),
        "",
    ),
    ("hybrid without a fusion pipeline", None, _hybrid(MATCH, NEURAL), KNOWN["hybrid-no-pipeline"]),
    (
        "pipeline: z_score normalization",
        _norm("z_score", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL),
        KNOWN["z_score"],
    ),
    (
        "pipeline: unknown normalization",
        _norm("max_abs", "arithmetic_mean"),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    ("pipeline: unknown combination", _norm("min_max", "median"), _hybrid(MATCH, NEURAL), ""),
    (
        "pipeline: weights not summing to 1",
        _norm("min_max", "arithmetic_mean", [0.5, 0.8]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "pipeline: negative weight",
        _norm("min_max", "arithmetic_mean", [-0.5, 1.5]),
        _hybrid(MATCH, NEURAL),
        "",
    ),
    (
        "pipeline: rerank by_field without target_field",
        _rerank(remove_target_field=True),
        {"query": MATCH},
        "",
    ),
    (
        "pipeline: rerank without a type",
        {"response_processors": [{"rerank": {}}]},
        {"query": MATCH},
        "",
    ),
    ("rerank by_field on a missing field", _rerank(target_field="missing"), {"query": MATCH}, ""),
    ("rerank by_field on a text field", _rerank(target_field="title"), {"query": MATCH}, ""),
]


def _te(**options: Any) -> JSONObject:
    return {"processors": [{"text_embedding": options}]}


def _se(**options: Any) -> JSONObject:
    options = {"model_id": TOKENIZER, "field_map": {"text": "s"}, **options}
    return {"processors": [{"sparse_encoding": options}]}


def _tc(**options: Any) -> JSONObject:
    return {"processors": [{"text_chunking": {"field_map": {"text": "c"}, **options}}]}


BAD_PIPELINES: list[tuple[str, JSONObject, str]] = [
    (
        "text_embedding field_map value a number",
        _te(model_id=ONNX, field_map={"text": 5}),
        KNOWN["field-map-tostring"],
    ),
    (
        "text_embedding field_map value a list",
        _te(model_id=ONNX, field_map={"text": ["a"]}),
        KNOWN["field-map-tostring"],
    ),
    ("text_embedding empty field_map", _te(model_id=ONNX, field_map={}), ""),
    ("text_embedding without model_id", _te(field_map={"text": "e"}), ""),
    (
        "text_embedding unknown option",
        _te(model_id=ONNX, field_map={"text": "e"}, foo=1),
        "",
    ),
    ("sparse_encoding prune_ratio 1.5 max_ratio", _se(prune_type="max_ratio", prune_ratio=1.5), ""),
    ("sparse_encoding prune_ratio without prune_type", _se(prune_ratio=0.1), ""),
    ("sparse_encoding unknown prune_type", _se(prune_type="top_p", prune_ratio=0.1), ""),
    ("sparse_encoding top_k 2.5", _se(prune_type="top_k", prune_ratio=2.5), ""),
    ("sparse_encoding alpha_mass 1.2", _se(prune_type="alpha_mass", prune_ratio=1.2), ""),
    ("sparse_encoding abs_value -1", _se(prune_type="abs_value", prune_ratio=-1), ""),
    ("text_chunking token_limit 0", _tc(algorithm={"fixed_token_length": {"token_limit": 0}}), ""),
    (
        "text_chunking overlap_rate 0.6",
        _tc(algorithm={"fixed_token_length": {"overlap_rate": 0.6}}),
        "",
    ),
    (
        "text_chunking unknown tokenizer",
        _tc(algorithm={"fixed_token_length": {"tokenizer": "no_such"}}),
        "",
    ),
    (
        "text_chunking unknown algorithm",
        _tc(algorithm={"sentence": {}}),
        KNOWN["chunking-algorithms"],
    ),
    (
        "text_chunking two algorithms",
        _tc(algorithm={"delimiter": {}, "fixed_token_length": {}}),
        "",
    ),
    ("text_chunking empty delimiter", _tc(algorithm={"delimiter": {"delimiter": ""}}), ""),
    ("text_chunking max_chunk_limit 0", _tc(algorithm={"delimiter": {"max_chunk_limit": 0}}), ""),
    (
        "text_chunking without field_map",
        {"processors": [{"text_chunking": {"algorithm": {"delimiter": {}}}}]},
        "",
    ),
    ("text_embedding batch_size 0", _te(model_id=ONNX, field_map={"text": "e"}, batch_size=0), ""),
    (
        "text_embedding batch_size 'x'",
        _te(model_id=ONNX, field_map={"text": "e"}, batch_size="x"),
        "",
    ),
    ("text_embedding field_map a string", _te(model_id=ONNX, field_map="text"), ""),
    ("text_embedding model_id a number", _te(model_id=5, field_map={"text": "e"}), ""),
    ("sparse_encoding unknown option", _se(foo=1), ""),
    ("text_chunking without algorithm", _tc(), ""),
]

BAD_PREDICTS: list[tuple[str, str, JSONObject, str]] = [
    ("predict empty text_docs", ONNX, {"text_docs": []}, ""),
    ("predict no text_docs", ONNX, {}, ""),
    ("predict sparse empty text_docs", TOKENIZER, {"text_docs": []}, ""),
    ("predict splade empty text_docs", SPLADE, {"text_docs": []}, ""),
]


def _meta(function: str, **config: Any) -> JSONObject:
    """A ``_register_meta`` body that is valid but for its ``model_config``."""
    return {
        "name": f"diff-{function.lower()}", "version": "1.0.0", "function_name": function,
        "model_format": "TORCH_SCRIPT", "model_content_hash_value": "0" * 64,
        "model_content_size_in_bytes": 1000, "total_chunks": 1, "model_config": config,
    }  # fmt: skip


BAD_REGISTERS: list[tuple[str, JSONObject, str]] = [
    (
        "register SPARSE_ENCODING with a model_config",
        _meta("SPARSE_ENCODING", model_type="bert", framework_type="huggingface_transformers"),
        "",
    ),
    (
        "register SPARSE_TOKENIZE with a model_config",
        _meta("SPARSE_TOKENIZE", model_type="bert"),
        "",
    ),
    (
        "register TEXT_EMBEDDING without framework_type",
        _meta("TEXT_EMBEDDING", model_type="bert", embedding_dimension=384),
        "",
    ),
]


def _without_id(answer: Any) -> Any:
    """A register answer with its generated ``model_id`` masked."""
    return {**answer, "model_id": "<id>"} if isinstance(answer, dict) else answer


def error_cases(sides: Sides) -> list[Case]:
    cases = []
    for number, (name, pipeline, body, known) in enumerate(BAD_SEARCHES):
        case = Case("errors", name, known=known)
        cases.append(search_case(case, sides, pipeline, body, f"diff-bad-{number}"))
    doc = [{"_source": {"text": "hello world"}}]
    for name, pipeline, known in BAD_PIPELINES:
        case = Case("errors", name, known=known)
        ref = sides.ref("POST", "/_ingest/pipeline/_simulate",
                        {"pipeline": sides.to_ref(pipeline), "docs": doc})  # fmt: skip
        ours = sides.ours(lambda p=pipeline: sides.simulate(p, doc))  # type: ignore[misc]
        judge(case, sides, ref, ours)
        cases.append(case)
    for name, model, body, known in BAD_PREDICTS:
        case = Case("errors", name, known=known)
        ref = sides.ref("POST", f"/_plugins/_ml/models/{sides.ref_ids[model]}/_predict", body)
        ours = sides.ours(lambda m=model, b=body: sides.predict(m, b))  # type: ignore[misc]
        judge(case, sides, ref, ours)
        cases.append(case)
    for name, body, known in BAD_REGISTERS:
        case = Case("errors", name, known=known)
        ref = sides.ref("POST", "/_plugins/_ml/models/_register_meta", body)
        ours = sides.ours(lambda b=body: sides.register_meta(b))  # type: ignore[misc]
        if (ref[0], ours[0]) == (200, 200):  # both register: the same answer but for the new id
            case.differences = compare_json(_without_id(ref[1]), _without_id(ours[1]))
        else:
            judge(case, sides, ref, ours)
        cases.append(case)
    return cases
