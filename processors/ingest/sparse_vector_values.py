"""What the plugin's ``sparse_vector`` mapper refuses in a document (3.3+), checked before the
node sees it: the node stores the field as ``rank_features``, which takes any token.

The mapper reads each ``token: weight`` pair in document order: the weight as a float
(``Float.parseFloat`` for a string), then Lucene's ``FeatureField`` check (a finite, positive
normal float), then the token as ``Integer.parseInt`` (``should be valid integer``) and
non-negative (``should be text of non-negative integer``). The node wraps the first refusal as
``mapper_parsing_exception`` (``failed to parse field [f] of type [sparse_vector] in document with
id '1'. Preview of field's value: '<the weight>'``) caused by the mapper's exception.

Example:
    >>> problem = check_document({"emb": {"12": 1.0, "abc": 2}}, {"emb"})
    >>> problem.cause
    ('illegal_argument_exception', '[sparse_vector] fields should be valid integer')
    >>> problem.reason("7").split(". ")[1]
    "Preview of field's value: '2'"
    >>> check_document({"emb": {"007": 0.5}}, {"emb"}) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from processors.compat.floats import f32, java_float_str, java_parse_float
from processors.compat.java_text import java_parse_int

JSONObject = dict[str, Any]
TYPE = "sparse_vector"
MIN_NORMAL = 1.17549435e-38
"""``Float.MIN_NORMAL``, printed by Java as ``1.1754944E-38``."""


@dataclass(frozen=True)
class SparseVectorValueError:
    """The first value of a document the mapper refuses."""

    field: str
    preview: str
    cause: tuple[str, str]
    """``(type, reason)`` of the mapper's exception."""

    def reason(self, doc_id: str | None) -> str:
        """The node's ``mapper_parsing_exception`` reason for document ``doc_id`` (``null``
        for a document whose id the node would generate)."""
        shown = "null" if doc_id is None else doc_id
        return (
            f"failed to parse field [{self.field}] of type [{TYPE}] in document with id "
            f"'{shown}'. Preview of field's value: '{self.preview}'"
        )

    def error(self, doc_id: str | None) -> JSONObject:
        """The ``error`` object the node answers (without ``root_cause``)."""
        kind, reason = self.cause
        return {
            "type": "mapper_parsing_exception",
            "reason": self.reason(doc_id),
            "caused_by": {"type": kind, "reason": reason},
        }

    def body(self, doc_id: str | None) -> JSONObject:
        """The whole answer of a refused ``PUT /<index>/_doc/<id>`` (400)."""
        error = self.error(doc_id)
        root = {k: v for k, v in error.items() if k != "caused_by"}
        return {"error": {"root_cause": [root], **error}, "status": 400}


def check_document(source: Any, paths: Collection[str]) -> SparseVectorValueError | None:
    """The first refusal of the ``sparse_vector`` fields at ``paths`` (dotted) in ``source``,
    in document order (objects inside arrays included); None when the mapper takes it all."""
    return _walk(source, paths, "")


def _walk(node: Any, paths: Collection[str], prefix: str) -> SparseVectorValueError | None:
    if isinstance(node, list):
        for item in node:
            found = _walk(item, paths, prefix)
            if found is not None:
                return found
        return None
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path in paths:
            found = _field(path, value)
        elif any(p.startswith(f"{path}.") for p in paths):
            found = _walk(value, paths, f"{path}.")
        else:
            found = None
        if found is not None:
            return found
    return None


def _field(path: str, value: Any) -> SparseVectorValueError | None:
    if not isinstance(value, dict):
        return None  # (not a token map: the node's own rank_features error stands)
    for token, weight in value.items():
        if weight is None or isinstance(weight, bool) or not isinstance(weight, int | float | str):
            continue  # null is skipped; other kinds: the node's own rank_features error
        preview = weight if isinstance(weight, str) else _json_number(weight)
        problem = _weight_problem(path, str(token), weight)
        if problem is None:
            problem = _token_problem(str(token))
        if problem is not None:
            return SparseVectorValueError(path, preview, problem)
    return None


def _json_number(value: float) -> str:
    return str(value)


def _weight_problem(path: str, token: str, weight: Any) -> tuple[str, str] | None:
    with np.errstate(over="ignore"):  # a weight beyond the float range is +Infinity in Java
        if isinstance(weight, str):
            try:
                number = float(java_parse_float(weight))
            except ValueError:
                return ("number_format_exception", f'For input string: "{weight}"')
        else:
            number = float(f32(weight))
    where = f"for feature {token} on field {path}"
    if not math.isfinite(number):
        return ("illegal_argument_exception",
                f"featureValue must be finite, got: {java_float_str(number)} {where}")  # fmt: skip
    if number < MIN_NORMAL:
        return (
            "illegal_argument_exception",
            f"featureValue must be a positive normal float, got: {java_float_str(number)} "
            f"{where} which is less than the minimum positive normal float: 1.1754944E-38",
        )
    return None


def _token_problem(token: str) -> tuple[str, str] | None:
    try:
        number = java_parse_int(token)
    except ValueError:
        return ("illegal_argument_exception", f"[{TYPE}] fields should be valid integer")
    if number < 0:
        reason = f"[{TYPE}] fields should be text of non-negative integer"
        return ("illegal_argument_exception", reason)
    return None
