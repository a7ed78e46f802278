"""Bind pipeline ``model_id``s to loaded models: ``pipelines/models/<id>.yaml`` + model cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from processors.settings import Settings

if TYPE_CHECKING:
    from processors.models.store import ModelStore


def model_store(settings: Settings, **load_options: Any) -> ModelStore:
    """One shared, lazy :class:`ModelStore` over ``<pipelines_dir>/models`` and the zip cache."""
    from processors.models.store import ModelStore, yaml_resolver

    resolver = yaml_resolver(settings.pipelines_dir / "models", settings.home / "models")
    return ModelStore(resolver, **load_options)


def encoder_resolver(settings: Settings) -> Callable[[str], Any]:
    """``model_id -> loaded model`` through one shared, lazy :class:`ModelStore`."""
    return model_store(settings).get
