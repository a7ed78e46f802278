"""Helpers for the proxy's integration tests: fake models, and the app under uvicorn in a thread."""

from __future__ import annotations

from typing import Any

from processors.errors import ModelNotRegisteredError
from processors.opensearch.node import free_port
from processors.testing.fakes import CountSparseEncoder, HashEmbedder, OverlapCrossEncoder
from processors.testing.serving import serve

__all__ = ["fake_models", "free_port", "serve"]


def fake_models(model_id: str) -> Any:
    if model_id == "dense":
        return HashEmbedder(384)
    if model_id == "sparse":
        return CountSparseEncoder()
    if model_id == "cross":
        return OverlapCrossEncoder()
    raise ModelNotRegisteredError(f"model id [{model_id}] not found")
