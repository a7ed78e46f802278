"""The ``sparse_vector`` mapper's refusals of documents, in the words of the 3.6 node."""

from __future__ import annotations

from typing import Any

import pytest

from processors.ingest.sparse_vector_values import check_document

PATHS = frozenset({"emb", "o.e2"})
MIN = "which is less than the minimum positive normal float: 1.1754944E-38"


@pytest.mark.parametrize(
    ("doc", "field", "preview", "cause"),
    [
        ({"emb": {"abc": 1.2}}, "emb", "1.2",
         ("illegal_argument_exception", "[sparse_vector] fields should be valid integer")),
        ({"emb": {"-1": 1.0}}, "emb", "1.0",
         ("illegal_argument_exception",
          "[sparse_vector] fields should be text of non-negative integer")),
        ({"emb": {"12": 1.0, "x y": 2}}, "emb", "2",
         ("illegal_argument_exception", "[sparse_vector] fields should be valid integer")),
        ({"o": {"e2": {"1.5": 1}}}, "o.e2", "1",
         ("illegal_argument_exception", "[sparse_vector] fields should be valid integer")),
        ({"emb": {"2147483648": 1.0}}, "emb", "1.0",
         ("illegal_argument_exception", "[sparse_vector] fields should be valid integer")),
        # the weight is checked before the token
        ({"emb": {"abc": 0}}, "emb", "0",
         ("illegal_argument_exception",
          f"featureValue must be a positive normal float, got: 0.0 for feature abc on field emb {MIN}")),
        ({"emb": {"5": -1.0}}, "emb", "-1.0",
         ("illegal_argument_exception",
          f"featureValue must be a positive normal float, got: -1.0 for feature 5 on field emb {MIN}")),
        ({"emb": {"5": "abc"}}, "emb", "abc", ("number_format_exception", 'For input string: "abc"')),
        # document order, objects in arrays too
        ({"o": [{"e2": {"1": 1}}, {"e2": {"w": 1}}], "emb": {"z": 1}}, "o.e2", "1",
         ("illegal_argument_exception", "[sparse_vector] fields should be valid integer")),
    ],
)  # fmt: skip
def test_refusals(doc: Any, field: str, preview: str, cause: tuple[str, str]) -> None:
    problem = check_document(doc, PATHS)
    assert problem is not None
    assert (problem.field, problem.preview, problem.cause) == (field, preview, cause)


@pytest.mark.parametrize(
    "doc",
    [{"emb": {"007": 1.0, "+7": 2.0}}, {"emb": {"3": "0.25", "4": None}}, {"other": {"w": 1}},
     {"emb": "not an object: the node's own error"}, {}],
)  # fmt: skip
def test_taken(doc: Any) -> None:
    assert check_document(doc, PATHS) is None


def test_the_node_answer() -> None:
    problem = check_document({"emb": {"w": 1.5}}, PATHS)
    assert problem is not None
    reason = (
        "failed to parse field [emb] of type [sparse_vector] in document with id 'd'. "
        "Preview of field's value: '1.5'"
    )
    assert problem.body("d") == {
        "error": {
            "root_cause": [{"type": "mapper_parsing_exception", "reason": reason}],
            "type": "mapper_parsing_exception",
            "reason": reason,
            "caused_by": {"type": "illegal_argument_exception",
                          "reason": "[sparse_vector] fields should be valid integer"},
        },
        "status": 400,
    }  # fmt: skip
    assert "with id 'null'" in problem.reason(None)
