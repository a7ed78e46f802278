from __future__ import annotations

import pytest

from processors.errors import InvalidProcessorConfigError, RegistryError, UnknownProcessorError
from processors.registry import (
    Kind,
    ProcessorType,
    is_registered,
    load_builtin,
    parse_options,
    processor_type,
    register_processor,
    registered,
)


def test_register_and_look_up() -> None:
    entry = register_processor(Kind.INGEST, "unit_test_step", parse=dict)
    assert processor_type(Kind.INGEST, "unit_test_step") is entry
    assert "unit_test_step" in registered(Kind.INGEST)
    assert not is_registered(Kind.SEARCH_REQUEST, "unit_test_step")


def test_duplicate_registration_is_an_error() -> None:
    register_processor(Kind.SEARCH_RESPONSE, "unit_dup", parse=dict)
    register_processor(Kind.SEARCH_RESPONSE, "unit_dup", parse=dict)  # the same: a re-import
    with pytest.raises(RegistryError, match="unit_dup"):
        register_processor(Kind.SEARCH_RESPONSE, "unit_dup", parse=list)


def test_unknown_name_suggests_the_closest() -> None:
    register_processor(Kind.INGEST, "unit_text_embedding", parse=dict)
    with pytest.raises(UnknownProcessorError, match="Did you mean 'unit_text_embedding'"):
        processor_type(Kind.INGEST, "unit_text_embeding")


def test_every_builtin_processor_registers_itself() -> None:
    load_builtin()
    assert {
        "text_embedding",
        "sparse_encoding",
        "text_chunking",
        "inference",
        "ml_inference",
    } <= set(registered(Kind.INGEST))
    assert "neural_query_enricher" in registered(Kind.SEARCH_REQUEST)
    assert {"rerank", "ml_inference"} <= set(registered(Kind.SEARCH_RESPONSE))
    assert {"normalization-processor", "score-ranker-processor"} <= set(
        registered(Kind.SEARCH_PHASE_RESULTS)
    )
    for name in ("text_embedding", "sparse_encoding", "text_chunking", "inference", "ml_inference"):
        assert processor_type(Kind.INGEST, name).build is not None, name


def test_one_error_policy_collects_every_problem() -> None:
    def strict(body: object) -> object:
        raise InvalidProcessorConfigError("bad", problems=[("a", "x"), ("b", "y")])

    errors: list[str] = ["earlier"]
    entry = ProcessorType(Kind.INGEST, "strict", strict)
    assert parse_options(entry, {}, "p.strict", errors) is None
    assert errors == ["earlier", "p.strict.a: x", "p.strict.b: y"]
