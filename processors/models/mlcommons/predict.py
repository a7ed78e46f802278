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
from processors.models.mlcommons.errors import MLCommonsError, illegal_argument
from processors.models.mlcommons.system_indices import JSONObject
from processors.models.mlcommons.task_predict import task_response
from processors.models.runtimes import DenseRuntime, SparseRuntime
from processors.models.sparse_tokenize import SparseTokenizer
from processors.models.task_runtime import TASK_FUNCTIONS

TASK_FUNCTION_NAMES = tuple(f.value for f in TASK_FUNCTIONS)

ASYMMETRIC = (
    "The embedding model chosen is asymmetric. To use it, you must declare whether the input "
    "is of type `QUERY` or of type `PASSAGE`."
)
NOT_ASYMMETRIC = (
    "When passing AsymmetricTextEmbeddingParameters, the model requires to be registered with at "
    "least one of `query_prefix` or `passage_prefix`."
)
CONTENT_TYPE_ENUM = (
    "org.opensearch.ml.common.input.parameter.textembedding.AsymmetricTextEmbeddingParameters"
    ".EmbeddingContentType"
)
SPARSE_FUNCTIONS = ("SPARSE_ENCODING", "SPARSE_TOKENIZE")
SPARSE_FORMATS = ("WORD", "TOKEN_ID")
"""``parameters.sparse_embedding_format``: token strings (default) or decimal token ids."""


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
        raise illegal_argument(empty_message)
    return [str(doc) for doc in docs]


def _content_type(
    body: Mapping[str, Any], model_config: Mapping[str, Any], *, dense: bool = False
) -> ContentType:
    """``parameters.content_type`` as ml-commons 3.x reads it: an ``EmbeddingContentType`` name
    (any case), for a dense model only with a prefix; an asymmetric model needs one."""
    params = body.get("parameters") or {}
    asymmetric = bool(model_config.get("query_prefix") or model_config.get("passage_prefix"))
    raw = params.get("content_type") if isinstance(params, Mapping) else None
    if raw is not None:
        name = str(raw).upper()
        if name not in ("QUERY", "PASSAGE"):
            raise illegal_argument(f"No enum constant {CONTENT_TYPE_ENUM}.{name}")
        if dense and not asymmetric:
            raise illegal_argument(NOT_ASYMMETRIC)
        return "query" if name == "QUERY" else "passage"
    if asymmetric:
        raise illegal_argument(ASYMMETRIC)
    return "passage"


def any_tensor(
    name: str, values: Any, *, data: bool = True, byte_buffer: bool = False
) -> JSONObject:
    """:func:`tensor`, or an ``INT64`` one for integer arrays (token ids, attention masks)."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer):
        return tensor(name, array, data=data, byte_buffer=byte_buffer)
    out: JSONObject = {"name": name, "data_type": "INT64", "shape": list(array.shape)}
    if data:
        out["data"] = [int(v) for v in array.ravel()]
    if byte_buffer:
        raw = array.astype("<i8").tobytes()
        out["byte_buffer"] = {"array": base64.b64encode(raw).decode(), "order": "LITTLE_ENDIAN"}
    return out


def java_hashmap_order(names: Sequence[str]) -> list[int]:
    """Indices of ``names`` in the iteration order of a ``java.util.HashMap`` holding them.

    DJL hands ml-commons a TorchScript module's dict output as a ``HashMap``, so the tensors of
    a ``_predict`` without ``target_response`` come in that order (bucket of the spread
    ``String.hashCode``; insertion order within a bucket).

    >>> names = ["input_ids", "attention_mask", "token_embeddings", "sentence_embedding"]
    >>> [names[i] for i in java_hashmap_order(names)]
    ['input_ids', 'token_embeddings', 'sentence_embedding', 'attention_mask']
    """
    capacity = 16
    while len(names) > capacity * 3 // 4:
        capacity *= 2

    def bucket(name: str) -> int:
        units = name.encode("utf-16-be")  # String.hashCode runs over UTF-16 code units
        h = 0
        for i in range(0, len(units), 2):
            h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(range(len(names)), key=lambda i: bucket(names[i]))


def _all_outputs(model: object) -> bool:
    """A sentence-transformers TorchScript model: ml-commons returns every tensor its module
    returns (``input_ids``, ``token_embeddings``, ``sentence_embedding``, ``attention_mask``)
    unless ``target_response`` picks some; other models return ``sentence_embedding`` only."""
    return (
        isinstance(model, DenseRuntime)
        and model.runner.dict_input
        and model.runner.backend == "torch_script"
    )


def _embedding(model: object, body: Mapping[str, Any], config: Mapping[str, Any]) -> JSONObject:
    if not isinstance(model, TextEmbedder):
        raise MLCommonsError("the loaded model is not a text embedding model", 500)
    texts = _text_docs(body, "Empty text docs")
    content_type = _content_type(body, config, dense=True)
    filters = _filters(body)
    as_number = filters.get("return_number", True) is not False
    as_bytes = bool(filters.get("return_bytes", False))
    if isinstance(model, DenseRuntime) and _all_outputs(model):
        outputs = []
        for run in model.outputs(texts, content_type):
            order = java_hashmap_order([name for name, _ in run])
            outputs.append([(run[i][0], run[i][1][0]) for i in order])  # [0]: drop the batch
    else:
        outputs = [[("sentence_embedding", v)] for v in model.embed(texts, content_type)]
    results = [
        {"output": [any_tensor(name, array, data=as_number, byte_buffer=as_bytes)
                    for position, (name, array) in enumerate(run)
                    if _wanted(body, name, position)]}
        for run in outputs
    ]  # fmt: skip
    return {"inference_results": results}


def _sparse(
    model: object, body: Mapping[str, Any], config: Mapping[str, Any], function_name: str
) -> JSONObject:
    if not isinstance(model, SparseEncoder):
        raise MLCommonsError("the loaded model is not a sparse encoding model", 500)
    texts = _text_docs(body, "Empty text docs")
    params = body.get("parameters") or {}
    key_format = str(params.get("sparse_embedding_format") or "WORD").upper()
    if key_format not in SPARSE_FORMATS:
        raise illegal_argument(
            f"sparse_embedding_format [{key_format}] is not supported: use WORD or TOKEN_ID"
        )
    content_type = _content_type(body, config)
    if key_format == "TOKEN_ID":  # keys are the decimal token ids
        if not isinstance(model, SparseRuntime | SparseTokenizer):  # the ones with token ids
            raise illegal_argument(
                "sparse_embedding_format TOKEN_ID needs a model that knows its token ids; "
                f"{type(model).__name__} does not"
            )
        weights = model.encode(texts, content_type, token_ids=True)
    else:
        weights = model.encode(texts, content_type)
    # ml-commons names the tensor after the TorchScript module's dict output ("output"); an
    # ONNX graph's output reaches it without a name, and SPARSE_TOKENIZE has no model at all
    runner = getattr(model, "runner", None)
    dict_output = function_name == "SPARSE_ENCODING" and getattr(runner, "dict_input", False)
    named = {"name": "output"} if dict_output else {}
    results = [
        {"output": [{**named, "dataAsMap": {"response": [
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
        raise illegal_argument("No query text was provided")
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
        return _sparse(model, body, config, function_name)
    if function_name == "TEXT_SIMILARITY":
        return _similarity(model, body)
    if function_name in TASK_FUNCTION_NAMES:
        return task_response(model, body)
    raise MLCommonsError(f"predict is not supported for function {function_name}")
