"""``_predict`` bodies in, ml-commons-shaped responses out (reference §11.7).

The loaded model is any object implementing the protocol of its function
(:mod:`processors.models.encoders`): ``embed`` (TEXT_EMBEDDING), ``encode`` (SPARSE_ENCODING,
SPARSE_TOKENIZE) or ``score`` (TEXT_SIMILARITY).

Example:
    >>> tensor("similarity", [10.223609], byte_buffer=True)["byte_buffer"]["order"]
    'LITTLE_ENDIAN'
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from processors.models.encoders import ContentType, CrossEncoder, SparseEncoder, TextEmbedder
from processors.models.registry_errors import MLCommonsError
from processors.models.registry_store import JSONObject

ASYMMETRIC = (
    "The embedding model chosen is asymmetric. To use it, you must declare whether the input "
    "is of type `QUERY` or of type `PASSAGE`."
)
SPARSE_FUNCTIONS = ("SPARSE_ENCODING", "SPARSE_TOKENIZE")


def _floats(values: Any) -> list[float]:
    """float32 values as the shortest decimals that round-trip (as Java's Float.toString)."""
    return [float(str(v)) for v in np.asarray(values, dtype=np.float32).ravel()]


def tensor(name: str, values: Any, *, data: bool = True, byte_buffer: bool = False) -> JSONObject:
    """One ``ModelTensor``: name, FLOAT32, shape, data and/or a little-endian byte buffer."""
    array = np.asarray(values, dtype=np.float32)
    out: JSONObject = {"name": name, "data_type": "FLOAT32", "shape": list(array.shape)}
    if data:
        out["data"] = _floats(array)
    if byte_buffer:
        raw = array.astype("<f4").tobytes()
        out["byte_buffer"] = {"array": base64.b64encode(raw).decode(), "order": "LITTLE_ENDIAN"}
    return out


def _filters(body: Mapping[str, Any]) -> Mapping[str, Any]:
    nested = body.get("result_filter")
    return nested if isinstance(nested, Mapping) else body


def _wanted(body: Mapping[str, Any], name: str, position: int) -> bool:
    filters = _filters(body)
    names = filters.get("target_response")
    positions = filters.get("target_response_positions")
    if names and name not in names:
        return False
    return not (positions and position not in positions)


def _text_docs(body: Mapping[str, Any], empty_message: str) -> list[str]:
    docs = body.get("text_docs")
    if not docs:
        raise MLCommonsError(empty_message)
    return [str(doc) for doc in docs]


def _content_type(body: Mapping[str, Any], model_config: Mapping[str, Any]) -> ContentType:
    params = body.get("parameters") or {}
    raw = str(params.get("content_type") or "").lower()
    if raw in ("query", "passage"):
        return "query" if raw == "query" else "passage"
    if model_config.get("query_prefix") or model_config.get("passage_prefix"):
        raise MLCommonsError(ASYMMETRIC)
    return "passage"


def _embedding(model: object, body: Mapping[str, Any], config: Mapping[str, Any]) -> JSONObject:
    if not isinstance(model, TextEmbedder):
        raise MLCommonsError("the loaded model is not a text embedding model", 500)
    texts = _text_docs(body, "Empty text docs")
    vectors = model.embed(texts, _content_type(body, config))
    filters = _filters(body)
    as_number = filters.get("return_number", True) is not False
    as_bytes = bool(filters.get("return_bytes", False))
    wanted = _wanted(body, "sentence_embedding", 0)
    results = [
        {"output": [tensor("sentence_embedding", v, data=as_number, byte_buffer=as_bytes)]
                   if wanted else []}
        for v in vectors
    ]  # fmt: skip
    return {"inference_results": results}


def _sparse(model: object, body: Mapping[str, Any], config: Mapping[str, Any]) -> JSONObject:
    if not isinstance(model, SparseEncoder):
        raise MLCommonsError("the loaded model is not a sparse encoding model", 500)
    texts = _text_docs(body, "Empty text docs")
    params = body.get("parameters") or {}
    if str(params.get("sparse_embedding_format") or "WORD").upper() != "WORD":
        raise MLCommonsError("sparse_embedding_format TOKEN_ID is not supported by neuralpipe")
    weights = model.encode(texts, _content_type(body, config))
    results = [
        {"output": [{"name": "output", "dataAsMap": {"response": [
            {token: float(str(np.float32(w))) for token, w in doc.items()}]}}]}
        for doc in weights
    ]  # fmt: skip
    return {"inference_results": results}


def _similarity(model: object, body: Mapping[str, Any]) -> JSONObject:
    if not isinstance(model, CrossEncoder):
        raise MLCommonsError("the loaded model is not a text similarity model", 500)
    docs: Sequence[str] = _text_docs(body, "No text documents were provided")
    query = body.get("query_text")
    if not query:
        raise MLCommonsError("No query text was provided")
    scores = model.score(str(query), docs)
    results = [
        {"output": [tensor("similarity", [score], byte_buffer=True)]}
        for score in np.asarray(scores, dtype=np.float32).ravel()
    ]
    return {"inference_results": results}


def predict_response(
    function_name: str,
    model: object,
    body: Mapping[str, Any],
    model_config: Mapping[str, Any] | None = None,
) -> JSONObject:
    """Run ``model`` on a ``_predict`` body; the ml-commons response.

    Raises:
        MLCommonsError: ml-commons' messages for empty inputs, asymmetric models without a
            content type, or a function neuralpipe does not predict.
    """
    config = model_config or {}
    if function_name == "TEXT_EMBEDDING":
        return _embedding(model, body, config)
    if function_name in SPARSE_FUNCTIONS:
        return _sparse(model, body, config)
    if function_name == "TEXT_SIMILARITY":
        return _similarity(model, body)
    raise MLCommonsError(f"predict is not supported for function {function_name}")
