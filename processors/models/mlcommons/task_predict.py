"""``_predict`` for the NLP task models (NER, fill-mask, QA, text / zero-shot classification).

Request: ``{"text_docs": [...], "parameters": {<the task's inference_config options>}}``;
question answering also takes ml-commons' ``{"question": ..., "context": ...}``. Response:
one ``inference_results`` item per text, its one output ``{"name": "response", "dataAsMap":
<the Elastic-shaped result>}`` (QA: ``"name": "answer"`` with the answer in ``result`` too).

Example:
    >>> task_request({"question": "who?", "context": "Waldo"})
    (['Waldo'], {'question': 'who?'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.errors import ModelError
from processors.models.mlcommons.errors import illegal_argument
from processors.models.registration import FunctionName
from processors.models.task_runtime import TaskRuntime

JSONObject = dict[str, Any]


def task_request(body: Mapping[str, Any]) -> tuple[list[str], JSONObject]:
    """Texts and options of a task ``_predict`` body.

    Raises:
        MLCommonsError: no text, or ``parameters`` not an object (400).
    """
    params = body.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise illegal_argument("parameters must be an object")
    options = dict(params)
    if "context" in body or "question" in body:
        context = body.get("context")
        question = body.get("question")
        if not isinstance(context, str) or not isinstance(question, str):
            raise illegal_argument("question answering needs a string question and context")
        return [context], {**options, "question": question}
    docs = body.get("text_docs")
    if not isinstance(docs, list) or not docs:
        raise illegal_argument("Empty text docs")
    return [str(doc) for doc in docs], options


def task_response(model: object, body: Mapping[str, Any]) -> JSONObject:
    """Run a task model on a ``_predict`` body (model errors become 400s)."""
    if not isinstance(model, TaskRuntime):
        raise illegal_argument("the loaded model is not an NLP task model")
    if model.spec.sentence_highlighting:
        return _highlight(model, body)
    texts, options = task_request(body)
    try:
        results = model.infer(texts, options)
    except ModelError as exc:
        raise illegal_argument(str(exc)) from exc
    return {"inference_results": [{"output": [_output(model, r)]} for r in results]}


def _output(model: TaskRuntime, result: JSONObject) -> JSONObject:
    if model.function is FunctionName.QUESTION_ANSWERING:
        field = next(iter(result))
        return {"name": "answer", "result": result[field], "dataAsMap": result}
    return {"name": "response", "dataAsMap": result}


def _highlight(model: TaskRuntime, body: Mapping[str, Any]) -> JSONObject:
    """A sentence highlighting model: ``{"question", "context"}`` -> one ``highlights`` output."""
    from processors.models.sentence_highlight import highlight

    question, context = body.get("question"), body.get("context")
    if not isinstance(question, str) or not isinstance(context, str):
        raise illegal_argument("sentence highlighting needs a string question and context")
    try:
        result = highlight(model, question, context)
    except ModelError as exc:
        raise illegal_argument(str(exc)) from exc
    return {"inference_results": [{"output": [{"name": "highlights", "dataAsMap": result}]}]}
