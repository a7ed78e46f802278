"""Bind pipeline ``model_id``s to loaded models: ``pipelines/models/<id>.yaml`` + model cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processors.settings import Settings


def encoder_resolver(settings: Settings) -> Callable[[str], Any]:
    """``model_id -> loaded model`` through one shared, lazy :class:`ModelStore`."""
    from processors.models.store import ModelStore, yaml_resolver

    store = ModelStore(yaml_resolver(settings.pipelines_dir / "models", settings.home / "models"))
    return store.get
