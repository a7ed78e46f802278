"""ml-commons ``_predict`` response bodies from a loaded model (reference §11.7).

Example:
    >>> body = predict_response(model, FunctionName.TEXT_EMBEDDING, ["sunny"])  # doctest: +SKIP
    >>> body["inference_results"][0]["output"][0]["name"]  # doctest: +SKIP
    'sentence_embedding'
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from processors.errors import ModelError
from processors.models.encoders import ContentType
from processors.models.loader import LoadedModel
from processors.models.registration import FunctionName
from processors.models.runtimes import CrossRuntime, DenseRuntime, SparseRuntime
from processors.models.sparse_tokenize import SparseTokenizer

ASYMMETRIC_ERROR = (
    "The embedding model chosen is asymmetric. To use it, you must declare whether the input is "
    "of type `QUERY` or of type `PASSAGE`."
)


def _float_tensor(name: str, values: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "data_type": "FLOAT32",
        "shape": list(values.shape),
        "data": [float(x) for x in values.reshape(-1)],
    }


def predict_response(
    model: LoadedModel,
    function: FunctionName,
    texts: Sequence[str],
    *,
    query: str | None = None,
    content_type: ContentType | None = None,
    sparse_format: str = "WORD",
) -> dict[str, Any]:
    """Run ``model`` and shape the result as ml-commons' predict response.

    Args:
        model: A loaded runtime.
        function: Its function name.
        texts: ``text_docs``.
        query: ``query_text`` (TEXT_SIMILARITY only).
        content_type: ``query`` | ``passage`` (required for asymmetric models).
        sparse_format: ``WORD`` or ``TOKEN_ID`` keys for sparse maps.

    Raises:
        ModelError: empty input, missing query, asymmetric model without content type.
    """
    if not texts:
        raise ModelError(
            "No text documents were provided" if query is not None else "Empty text docs"
        )
    if isinstance(model, CrossRuntime):
        if not query:
            raise ModelError("No query text was provided")
        scores = model.score(query, texts)
        return {
            "inference_results": [
                {
                    "output": [
                        {
                            **_float_tensor("similarity", np.asarray([s], dtype=np.float32)),
                            "byte_buffer": {
                                "array": base64.b64encode(
                                    np.float32(s).astype("<f4").tobytes()
                                ).decode(),
                                "order": "LITTLE_ENDIAN",
                            },
                        }
                    ]
                }
                for s in scores
            ]
        }
    cfg = getattr(model, "config", None)
    if content_type is None and cfg is not None and (cfg.query_prefix or cfg.passage_prefix):
        raise ModelError(ASYMMETRIC_ERROR)
    kind = content_type or "passage"
    if isinstance(model, DenseRuntime):
        vectors = model.embed(texts, kind)
        return {
            "inference_results": [
                {"output": [_float_tensor("sentence_embedding", v)]} for v in vectors
            ]
        }
    if isinstance(model, SparseRuntime | SparseTokenizer):
        maps = model.encode(texts, kind, token_ids=sparse_format.upper() == "TOKEN_ID")
        # named after a TorchScript module's dict output; ONNX outputs reach ml-commons unnamed
        dict_output = isinstance(model, SparseRuntime) and model.runner.dict_input
        named = (
            {"name": "output"} if function is FunctionName.SPARSE_ENCODING and dict_output else {}
        )
        return {
            "inference_results": [
                {"output": [{**named, "dataAsMap": {"response": [m]}}]} for m in maps
            ]
        }
    raise ModelError(f"cannot predict with a {type(model).__name__}")
