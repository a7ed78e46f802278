from __future__ import annotations

import pytest

from processors.errors import RegistryError, UnknownProcessorError
from processors.registry import Kind, lookup, register, registered


def test_register_and_lookup_returns_the_class() -> None:
    @register(Kind.INGEST, "unit_test_step")
    class Step:
        pass

    assert lookup(Kind.INGEST, "unit_test_step") is Step
    assert "unit_test_step" in registered(Kind.INGEST)
    assert "unit_test_step" not in registered(Kind.SEARCH_REQUEST)


def test_duplicate_registration_is_an_error() -> None:
    @register(Kind.SEARCH_RESPONSE, "unit_dup")
    class First:
        pass

    with pytest.raises(RegistryError, match="unit_dup"):

        @register(Kind.SEARCH_RESPONSE, "unit_dup")
        class Second:
            pass


def test_unknown_name_suggests_the_closest() -> None:
    @register(Kind.INGEST, "unit_text_embedding")
    class Embed:
        pass

    with pytest.raises(UnknownProcessorError, match="Did you mean 'unit_text_embedding'"):
        lookup(Kind.INGEST, "unit_text_embeding")
