"""``_predict`` on the same models: dense (ONNX, int8, TorchScript), sparse, tokenizer."""

from __future__ import annotations

from tests.differential.harness.compare import Case
from tests.differential.harness.known import KNOWN
from tests.differential.harness.sides import (
    INT8,
    ONNX,
    SPLADE,
    SPLADE_ONNX,
    TOKENIZER,
    TS,
    JSONObject,
    Sides,
    judge,
)

PREDICT_TEXTS = [
    "hello world",
    "Café déjà vu — naïve ünïcödé 東京",
    "The quick brown fox jumps over the lazy dog.",
    "word " * 400,  # past model_max_length: truncation
]
SPARSE_TEXTS = ["hello world", "Lift and drag on a swept wing at transonic speed."]


def predict_cases(sides: Sides) -> list[Case]:
    runs: list[tuple[str, str, JSONObject, str]] = []
    for model in (ONNX, INT8, TS):
        for text in PREDICT_TEXTS:
            body: JSONObject = {"text_docs": [text]}
            if model == TS:
                body["target_response"] = ["sentence_embedding"]
            runs.append((model, f"{text[:20]!r}", body, KNOWN["int8-ort"] if model == INT8 else ""))
    runs += [
        (ONNX, "batch of 3", {"text_docs": PREDICT_TEXTS[:3]}, ""),
        (TS, "no target_response", {"text_docs": ["hello world"]}, ""),
        (TS, "no target_response, batch of 2", {"text_docs": PREDICT_TEXTS[:2]}, ""),
        (TS, "target_response_positions [2]",
         {"text_docs": ["hello world"], "target_response_positions": [2]}, ""),
        (ONNX, "empty string", {"text_docs": [""]}, ""),
        (TS, "empty string", {"text_docs": [""], "target_response": ["sentence_embedding"]}, ""),
        (TOKENIZER, "empty string", {"text_docs": [""]}, ""),
    ]  # fmt: skip
    for model in (TOKENIZER, SPLADE, SPLADE_ONNX):
        runs += [(model, f"{t[:20]!r}", {"text_docs": [t]}, "") for t in SPARSE_TEXTS]
    runs.append((TOKENIZER, "batch of 2", {"text_docs": SPARSE_TEXTS}, ""))
    cases = []
    for model, label, body, known in runs:
        case = Case("predict", f"{model} {label}", known=known)
        ref = sides.ref("POST", f"/_plugins/_ml/models/{sides.ref_ids[model]}/_predict", body)
        ours = sides.ours(lambda m=model, b=body: sides.predict(m, b))  # type: ignore[misc]
        judge(case, sides, ref, ours)
        cases.append(case)
    return cases
