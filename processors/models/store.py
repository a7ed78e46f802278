"""ModelStore: one per process; ``model_id -> loaded runtime``, lazy and thread-safe.

Registrations are resolved by a callable (``model_id -> (zip path, registration)``);
:func:`yaml_resolver` reads ``pipelines/models/<model_id>.yaml`` and resolves its ``url``
against the models directory (``Settings().home / "models"``).

Example:
    >>> store = ModelStore(yaml_resolver(Path("pipelines/models"), Path("~/.cache/m")))
    >>> store.embedder("all-minilm-l6-v2-onnx").embed(["hi"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from processors.errors import MODEL_NOT_FOUND, ConfigError, ModelError, ModelNotRegisteredError
from processors.models.artifact import resolve_artifact_url
from processors.models.loader import LoadedModel, load_model
from processors.models.registration import ModelRegistration
from processors.models.runtimes import CrossRuntime, DenseRuntime, SparseRuntime
from processors.models.sparse_tokenize import SparseTokenizer
from processors.models.tokenization import TokenStats

log = logging.getLogger(__name__)

Resolver = Callable[[str], tuple[Path, ModelRegistration]]


def read_registration(path: Path) -> ModelRegistration:
    """Parse a ``pipelines/models/<id>.yaml`` (or .json) register body."""
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"cannot read model registration {path}: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: a model register body must be a mapping (name, "
                          "function_name, model_format, model_config, url, ...)")  # fmt: skip
    for key in ("name", "version", "description"):  # ml-commons reads these as text
        if isinstance(body.get(key), int | float) and not isinstance(body.get(key), bool):
            body[key] = str(body[key])
    try:
        return ModelRegistration.model_validate(body)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(map(str, error['loc'])) or '(body)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: not a valid model register body:\n{problems}") from None


def yaml_resolver(yaml_dir: Path, models_dir: Path) -> Resolver:
    """A resolver over ``<yaml_dir>/<model_id>.yaml`` files."""

    def resolve(model_id: str) -> tuple[Path, ModelRegistration]:
        for suffix in (".yaml", ".yml", ".json"):
            path = yaml_dir / f"{model_id}{suffix}"
            if path.is_file():
                reg = read_registration(path)
                if not reg.url:
                    raise ModelError(f"model {model_id} has no url to a local zip")
                return resolve_artifact_url(reg.url, models_dir), reg
        # ml-commons' own reason (what the proxy and a real cluster answer); where we looked
        # goes to the log
        log.info("model id [%s]: no %s/%s.yaml", model_id, yaml_dir, model_id)
        raise ModelNotRegisteredError(MODEL_NOT_FOUND)

    return resolve


class ModelStore:
    """Thread-safe lazy cache of loaded models.

    Args:
        resolver: ``model_id -> (zip path, registration)``.
        load_options: Extra keyword arguments for :func:`load_model` (threads, truncation...).

    Example:
        >>> ModelStore(resolver).get("bert-uncased-tokenizer")  # doctest: +SKIP
    """

    def __init__(self, resolver: Resolver, **load_options: Any) -> None:
        self._resolver = resolver
        self._options = load_options
        self._models: dict[str, LoadedModel] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, model_id: str) -> LoadedModel:
        """The loaded model, loading it on first use (once, even under concurrency)."""
        model = self._models.get(model_id)
        if model is not None:
            return model
        with self._guard:
            lock = self._locks.setdefault(model_id, threading.Lock())
        with lock:
            if model_id not in self._models:
                zip_path, reg = self._resolver(model_id)
                self._models[model_id] = load_model(zip_path, reg, **self._options)
            return self._models[model_id]

    def embedder(self, model_id: str) -> DenseRuntime:
        """A TEXT_EMBEDDING model."""
        model = self.get(model_id)
        if not isinstance(model, DenseRuntime):
            raise ModelError(f"model {model_id} is not a TEXT_EMBEDDING model")
        return model

    def sparse_encoder(self, model_id: str) -> SparseRuntime | SparseTokenizer:
        """A SPARSE_ENCODING or SPARSE_TOKENIZE model."""
        model = self.get(model_id)
        if not isinstance(model, SparseRuntime | SparseTokenizer):
            raise ModelError(f"model {model_id} is not a sparse encoding/tokenize model")
        return model

    def cross_encoder(self, model_id: str) -> CrossRuntime:
        """A TEXT_SIMILARITY model."""
        model = self.get(model_id)
        if not isinstance(model, CrossRuntime):
            raise ModelError(f"model {model_id} is not a TEXT_SIMILARITY model")
        return model

    def loaded(self) -> list[str]:
        """Ids of the models loaded so far."""
        return sorted(self._models)

    def registration(self, model_id: str) -> ModelRegistration:
        """The ``_register`` body a model id resolves to (without loading the model)."""
        return self._resolver(model_id)[1]

    def token_stats(self) -> TokenStats:
        """Tokens and truncations counted so far over every loaded model."""
        total = TokenStats()
        for model in list(self._models.values()):
            stats = getattr(getattr(model, "tokenizer", None), "stats", None)
            if isinstance(stats, TokenStats):
                total.add(stats.texts, stats.tokens, stats.truncated, stats.lost)
        return total
