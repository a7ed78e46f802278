"""Semantic highlighting (neural-search 3.x) emulated over the node's hits.

A request's ``highlight.fields.<field>`` with ``"type": "semantic"`` and a ``model_id``
(in the field's options or the highlight's ``options``) is taken out of the request the node
gets (the node has no ``semantic`` highlighter); for each hit the field's text (from
``_source``) and the query's text go to the sentence highlighting model, and the hit gets
``highlight.<field>``: the text with each relevant sentence between ``pre_tags[0]`` and
``post_tags[0]`` (``<em>``, ``</em>``). The query text is taken as the plugin takes it from the
Lucene query: ``neural`` gives its ``query_text``; ``term`` (and a ``match`` analysed into
terms, lower-cased words) its value when on the highlighted field; ``bool`` joins its
non-``must_not`` clauses, ``hybrid`` its sub-queries (each once), ``nested`` its query. No text:
no highlight for the hit. A hit whose field is missing, not a string or empty fails the
search with the plugin's message. ``batch_inference: true`` is refused as on a cluster where
the system-generated ``semantic-highlighter`` processor is not enabled.

Example:
    >>> request = {"query": {"neural": {"v": {"query_text": "lift"}}}, "highlight": {
    ...     "fields": {"text": {"type": "semantic"}}, "options": {"model_id": "h"}}}
    >>> plan = take_semantic_highlight(request)
    >>> plan.fields, plan.model_id, plan.question("text"), "highlight" in request
    (('text',), 'h', 'lift', False)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.errors import InvalidQueryError, ProcessorRuntimeError

JSONObject = dict[str, Any]
SEMANTIC = "semantic"
BATCH_DISABLED = (
    "Batch inference for semantic highlighting is disabled. Enable it by adding "
    "'semantic-highlighter' to the 'cluster.search.enabled_system_generated_factories' cluster "
    "setting."
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class HighlightPlan:
    """What a request asks of semantic highlighting (taken out of the request)."""

    fields: tuple[str, ...]
    model_id: str
    pre_tag: str
    post_tag: str
    query: Any

    def question(self, field: str) -> str | None:
        """The query's text for ``field``, as the plugin extracts it (None: none)."""
        text = _query_text(self.query, field)
        return text or None


def _field_entries(fields: Any) -> list[tuple[str, JSONObject]]:
    if isinstance(fields, dict):
        return [(k, v if isinstance(v, dict) else {}) for k, v in fields.items()]
    if isinstance(fields, list):  # [{"f": {...}}, ...]
        return [(k, v if isinstance(v, dict) else {}) for item in fields
                if isinstance(item, dict) for k, v in item.items()]  # fmt: skip
    return []


def wants_semantic_highlight(request: Any) -> bool:
    """Whether ``request`` has a ``semantic`` highlight field."""
    if not isinstance(request, dict) or not isinstance(request.get("highlight"), dict):
        return False
    fields = _field_entries(request["highlight"].get("fields"))
    return any(options.get("type") == SEMANTIC for _, options in fields)


def take_semantic_highlight(request: JSONObject) -> HighlightPlan | None:
    """Remove the ``semantic`` fields from ``request`` (in place) and say what they ask."""
    if not wants_semantic_highlight(request):
        return None
    highlight = request["highlight"]
    entries = _field_entries(highlight.get("fields"))
    semantic = [(name, options) for name, options in entries if options.get("type") == SEMANTIC]
    merged = {**(highlight.get("options") or {}), **(semantic[0][1].get("options") or {})}
    if str(merged.get("batch_inference", "false")).lower() == "true":
        raise InvalidQueryError(BATCH_DISABLED)
    model_id = merged.get("model_id")
    if not isinstance(model_id, str):
        kind = "null" if model_id is None else type(model_id).__name__
        raise InvalidQueryError(f"model_id must be a non-null string, but was {kind}")
    field_opts = semantic[0][1]
    pre = field_opts.get("pre_tags") or highlight.get("pre_tags") or ["<em>"]
    post = field_opts.get("post_tags") or highlight.get("post_tags") or ["</em>"]
    others = [(name, options) for name, options in entries if options.get("type") != SEMANTIC]
    if others:
        highlight["fields"] = (
            dict(others) if isinstance(highlight.get("fields"), dict)
            else [{name: options} for name, options in others]
        )  # fmt: skip
        if isinstance(highlight.get("options"), dict):
            dropped = ("model_id", "batch_inference", "max_inference_batch_size")
            rest = {k: v for k, v in highlight["options"].items() if k not in dropped}
            if rest:
                highlight["options"] = rest
            else:
                del highlight["options"]
    else:
        del request["highlight"]
    return HighlightPlan(
        tuple(name for name, _ in semantic), model_id, str(pre[0]), str(post[0]),
        copy.deepcopy(request.get("query")),
    )  # fmt: skip


def _leaf(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else value


def _query_text(query: Any, field: str) -> str:
    if not isinstance(query, dict) or len(query) != 1:
        return ""
    ((kind, body),) = query.items()
    if not isinstance(body, dict):
        return ""
    if kind == "neural":
        inner: Any = next(iter(body.values()), {})
        text = inner.get("query_text") if isinstance(inner, dict) else None
        return text if isinstance(text, str) else ""
    if kind == "term":
        if field in body:
            return str(_leaf(body[field], "value"))
        return ""
    if kind == "match":
        if field not in body:
            return ""
        return " ".join(w.lower() for w in _WORD.findall(str(_leaf(body[field], "query"))))
    if kind == "bool":
        parts = []
        for clause in ("must", "should", "filter"):
            items = body.get(clause, [])
            for item in items if isinstance(items, list) else [items]:
                text = _query_text(item, field)
                if text:
                    parts.append(text)
        return " ".join(parts)
    if kind == "hybrid":
        seen: list[str] = []
        for item in body.get("queries", []):
            text = _query_text(item, field)
            if text and text not in seen:
                seen.append(text)
        return " ".join(seen).strip()
    if kind == "nested":
        return _query_text(body.get("query"), field)
    return ""


def _field_text(hit: JSONObject, field: str) -> str:
    value: Any = hit.get("_source")
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        raise ProcessorRuntimeError(f"Field {field} is not found in the document")
    if not isinstance(value, str):
        kind = {int: "Integer", float: "Double", bool: "Boolean", list: "ArrayList",
                dict: "HashMap"}.get(type(value), type(value).__name__)  # fmt: skip
        raise ProcessorRuntimeError(
            f"Field {field} must be a string for highlighting, but was {kind}"
        )
    if not value:
        raise ProcessorRuntimeError(f"Field {field} is empty")
    return value


def mark(text: str, highlights: list[JSONObject], pre: str, post: str) -> str:
    """``text`` with each highlight's ``[start, end)`` between the tags.

    >>> mark("Lift. Drag.", [{"start": 6, "end": 11}], "<b>", "</b>")
    'Lift. <b>Drag.</b>'
    """
    out, position = [], 0
    for item in highlights:
        start, end = int(item["start"]), int(item["end"])
        if start < 0 or end > len(text) or start >= end:
            raise ProcessorRuntimeError(
                f"Invalid highlight positions: start={start}, end={end}, textLength={len(text)}. "
                "Positions must satisfy: 0 <= start < end <= textLength"
            )
        out.append(text[position:start] + pre + text[start:end] + post)
        position = end
    return "".join(out) + text[position:]


def apply_semantic_highlight(
    response: JSONObject, plan: HighlightPlan, predict: Callable[[str, JSONObject], JSONObject]
) -> JSONObject:
    """Add ``highlight.<field>`` to each hit of ``response`` (in place; also returned).

    ``predict(model_id, {"question", "context"})`` is the model's ``_predict`` answer.
    """
    for hit in response.get("hits", {}).get("hits", []):
        for field in plan.fields:
            context = _field_text(hit, field)
            question = plan.question(field)
            if question is None:
                continue
            answer = predict(plan.model_id, {"question": question, "context": context})
            try:
                found = answer["inference_results"][0]["output"][0]["dataAsMap"]["highlights"]
            except (KeyError, IndexError, TypeError):
                continue
            if not isinstance(found, list):
                continue
            text = mark(context, found, plan.pre_tag, plan.post_tag) if found else context
            hit.setdefault("highlight", {})[field] = [text]
    return response
