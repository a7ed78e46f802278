"""Registering models (reference §11.2, §11.6): by URL / local path, pretrained, or in chunks.

* :meth:`Registrar.register_model`: ``POST models/_register`` — the zip comes from ``url`` (a
  local path, ``file:`` URL or http(s)) or, without ``url``, from the pretrained catalog; it is
  hash-checked and stored as chunk documents.
* :meth:`Registrar.register_model_meta` + :meth:`Registrar.upload_chunk`: ml-commons'
  "upload a model in chunks" flow (``models/_register_meta``, ``models/<id>/upload_chunk/<n>``).

Example:
    >>> registry.register_model(body)            # doctest: +SKIP
    {'task_id': 'cVeMb4kBJ1eYAeTMFFgj', 'status': 'CREATED'}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from processors.errors import ConfigError, NeuralpipeError
from processors.models.mlcommons import catalog
from processors.models.mlcommons.chunks import (
    ML_CHUNK_SIZE,
    chunk_doc,
    delete_chunks,
    sha256,
    write_chunks,
)
from processors.models.mlcommons.errors import (
    CONTENT_CHANGED,
    HASH_REQUIRED,
    MLCommonsError,
    illegal_argument,
)
from processors.models.mlcommons.groups import ModelGroups
from processors.models.mlcommons.sources import zip_for_catalog, zip_for_url
from processors.models.mlcommons.system_indices import (
    DocStore,
    IndexNames,
    JSONObject,
    new_id,
    now_ms,
)
from processors.models.mlcommons.tasks import REGISTER_MODEL, Tasks
from processors.models.registration import (
    FunctionName,
    ModelConfig,
    ModelFormat,
    ModelRegistration,
)

RegisterBody = Mapping[str, Any] | ModelRegistration


def _validate(raw: Mapping[str, Any]) -> ModelRegistration:
    try:
        return ModelRegistration.model_validate(lenient(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"[{'.'.join(map(str, error['loc']))}] {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ConfigError(f"invalid register model body: {problems}") from None


TEXT_FIELDS = ("name", "version", "description", "model_group_id", "url",
               "model_content_hash_value", "model_type")  # fmt: skip
UPPER_FIELDS = ("function_name", "model_format", "framework_type")


def lenient(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A register body read as ml-commons' parser reads it: fields it does not know are
    skipped (``is_hidden``, ``deploy_setting``, ``backend_roles``, ...), text fields take
    numbers (``"version": 1``), enum names any case.

    Example:
        >>> lenient({"name": "m", "version": 1, "is_hidden": False,
        ...          "function_name": "text_embedding"})
        {'name': 'm', 'version': '1', 'function_name': 'TEXT_EMBEDDING'}
    """
    return _known(raw, REGISTER_FIELDS, nested={"model_config": CONFIG_FIELDS})


def _known(
    raw: Mapping[str, Any],
    fields: frozenset[str],
    nested: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            continue
        if nested and key in nested and isinstance(value, Mapping):
            value = _known(value, nested[key])
        elif key in TEXT_FIELDS and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        elif key in UPPER_FIELDS and isinstance(value, str):
            value = value.upper()
        body[key] = value
    return body


def _names(model: Any) -> frozenset[str]:
    return frozenset(info.alias or name for name, info in model.model_fields.items())


REGISTER_FIELDS = _names(ModelRegistration)
CONFIG_FIELDS = _names(ModelConfig)


def _check_config(reg: ModelRegistration) -> None:
    """ml-commons 3.x parses a TEXT_EMBEDDING ``model_config`` as a ``TextEmbeddingModelConfig``,
    whose constructor requires both values. A SPARSE_ENCODING / SPARSE_TOKENIZE config is a
    ``BaseModelConfig`` there (2.19 still refused it with "embedding dimension is null"), and
    TEXT_SIMILARITY is not checked (the pretrained catalog states only the model type of its
    cross-encoders)."""
    cfg = reg.model_config_
    if cfg is not None and reg.function_name is FunctionName.TEXT_EMBEDDING:
        if cfg.embedding_dimension is None:
            raise illegal_argument("embedding dimension is null")
        if cfg.framework_type is None:
            raise illegal_argument("framework type is null")


class Registrar:
    """The register half of :class:`~processors.models.mlcommons.model_registry.ModelRegistry`."""

    names: IndexNames
    store: DocStore
    groups: ModelGroups
    tasks: Tasks
    models_dir: Path
    artifact_dir: Path | None
    download_dir: Path | None
    chunk_size: int

    def deploy_model(self, model_id: str) -> JSONObject:
        """Implemented by the registry."""
        raise NotImplementedError

    def register_model(
        self, body: RegisterBody, *, deploy: bool = False, model_id: str | None = None
    ) -> JSONObject:
        """``POST models/_register[?deploy=true]`` → ``{"task_id", "status": "CREATED"}``.

        The task ends ``COMPLETED`` with ``model_id``, or ``FAILED`` with ``error`` (e.g.
        ``model content changed``, or the "not in the pre-trained model list" message).

        Args:
            body: The register body (dict or :class:`ModelRegistration`).
            deploy: Deploy the model once registered.
            model_id: Use this id instead of a random one (e.g. a pipelines/models file stem).

        Raises:
            ConfigError: the body is not a valid register body.
            MLCommonsError: ml-commons' synchronous refusals (hash missing for a url, unknown
                model group, id in use).
        """
        raw = body.to_body() if isinstance(body, ModelRegistration) else dict(body)
        entry = None
        if not raw.get("url"):
            entry = catalog.find_model(
                str(raw.get("name", "")), raw.get("version"), raw.get("model_format")
            )
            if entry is None:
                return self._failed_task(str(raw.get("function_name") or "TEXT_EMBEDDING"))
            fmt = ModelFormat(raw.get("model_format") or entry.default_format())
            base = entry.registration(fmt).to_body()
            kept = {k: v for k, v in raw.items() if k in ("description", "model_group_id")}
            raw = {**base, **kept}
        reg = _validate(raw)
        if reg.url and not reg.model_content_hash_value:
            raise MLCommonsError(HASH_REQUIRED)
        _check_config(reg)
        group_id = self._group_for(reg)
        self._check_new_id(model_id)
        task_id = self.tasks.create(REGISTER_MODEL, reg.function_name.value)
        self.tasks.set_state(task_id, "RUNNING")
        try:
            data = self._content(reg, entry)
            new = self._store_model(reg, group_id, data, model_id)
        except Exception as exc:
            self.tasks.fail(task_id, str(exc))
            if not isinstance(exc, (NeuralpipeError, OSError)):
                raise
            return {"task_id": task_id, "status": "CREATED"}
        self.tasks.set_state(task_id, "COMPLETED", model_id=new)
        if deploy:
            self.deploy_model(new)
        return {"task_id": task_id, "status": "CREATED"}

    def register_model_meta(self, body: RegisterBody, *, model_id: str | None = None) -> JSONObject:
        """``POST models/_register_meta`` → ``{"model_id", "status": "CREATED"}``.

        The body needs ``total_chunks``, ``model_content_hash_value`` and ``model_format``;
        the model stays ``REGISTERING`` until its last chunk is uploaded.
        """
        raw = body.to_body() if isinstance(body, ModelRegistration) else dict(body)
        reg = _validate(raw)
        if not reg.total_chunks or reg.total_chunks < 1:
            raise MLCommonsError("total_chunks must be a positive number")
        if not reg.model_content_hash_value:
            raise MLCommonsError("model content hash value is required")
        _check_config(reg)
        group_id = self._group_for(reg)
        self._check_new_id(model_id)
        new = model_id or new_id()
        version = self.groups.next_version(group_id)
        meta = self._meta_doc(reg, group_id, version, reg.model_content_hash_value,
                              reg.model_content_size_in_bytes)  # fmt: skip
        meta["total_chunks"] = reg.total_chunks
        self.store.put(self.names.model, new, meta, op_type="create")
        return {"model_id": new, "status": "CREATED"}

    def upload_chunk(self, model_id: str, chunk_number: int, content: bytes) -> JSONObject:
        """``POST models/<id>/upload_chunk/<n>`` → ``{"status": "Uploaded"}``.

        The last chunk (``n == total_chunks - 1``) moves the model to ``REGISTERED``; the
        content hash is checked when the model is deployed.
        """
        meta = self.store.get(self.names.model, model_id, excludes="model_content")
        if meta is None or "chunk_number" in meta:
            raise MLCommonsError("Failed to find model", status=404)
        total = int(meta.get("total_chunks") or 0)
        if chunk_number < 0 or chunk_number >= total:
            raise MLCommonsError("Chunk number exceeds total chunks")
        if not content:
            raise MLCommonsError("Chunk size either 0 or null")
        if len(content) > ML_CHUNK_SIZE:
            raise MLCommonsError("Chunk size exceeds 10MB")
        doc = chunk_doc(meta, model_id, chunk_number, content)
        self.store.put(self.names.model, f"{model_id}_{chunk_number}", doc)
        if chunk_number == total - 1:
            now = now_ms()
            self.store.update(self.names.model, model_id, {
                "model_state": "REGISTERED", "last_registered_time": now, "last_updated_time": now,
            })  # fmt: skip
        return {"status": "Uploaded"}

    # -- internals --------------------------------------------------------------------------

    def _failed_task(self, function_name: str) -> JSONObject:
        task_id = self.tasks.create(REGISTER_MODEL, function_name)
        self.tasks.fail(task_id, catalog.NOT_IN_LIST)
        return {"task_id": task_id, "status": "CREATED"}

    def _group_for(self, reg: ModelRegistration) -> str:
        if reg.model_group_id:
            self.groups.get(reg.model_group_id)
            return reg.model_group_id
        existing = self.groups.find_by_name(reg.name)
        if existing is not None:
            return existing
        body = {"name": reg.name, "description": reg.description}
        return str(self.groups.register(body)["model_group_id"])

    def _check_new_id(self, model_id: str | None) -> None:
        if model_id and self.store.get(self.names.model, model_id, excludes="model_content"):
            raise MLCommonsError(f"model id [{model_id}] is already in use", status=409)

    def _content(self, reg: ModelRegistration, entry: catalog.CatalogModel | None) -> bytes:
        if entry is not None and reg.model_format is not None:
            return zip_for_catalog(
                entry, reg.model_format, artifact_dir=self.artifact_dir,
                download_dir=self.download_dir,
            )  # fmt: skip
        assert reg.url is not None
        downloads = self.download_dir or Path("/nonexistent-neuralpipe-downloads")
        return zip_for_url(reg.url, models_dir=self.models_dir, download_dir=downloads)

    def _meta_doc(
        self, reg: ModelRegistration, group_id: str, version: str, digest: str, size: int | None
    ) -> JSONObject:
        now = now_ms()
        doc: JSONObject = {
            "name": reg.name, "model_group_id": group_id, "algorithm": reg.function_name.value,
            "model_version": version, "model_state": "REGISTERING",
            "model_content_hash_value": digest, "created_time": now, "last_updated_time": now,
            "is_hidden": False,
        }  # fmt: skip
        if size is not None:
            doc["model_content_size_in_bytes"] = size
        if reg.model_format is not None:
            doc["model_format"] = reg.model_format.value
        if reg.description:
            doc["description"] = reg.description
        if reg.model_config_ is not None:
            doc["model_config"] = reg.model_config_.model_dump(mode="json", exclude_none=True)
        return doc

    def _store_model(
        self, reg: ModelRegistration, group_id: str, data: bytes, model_id: str | None
    ) -> str:
        digest = sha256(data)
        if reg.model_content_hash_value and digest != reg.model_content_hash_value.lower():
            raise MLCommonsError(CONTENT_CHANGED)
        version = self.groups.next_version(group_id)
        new = model_id or new_id()
        meta = self._meta_doc(reg, group_id, version, digest, len(data))
        self.store.put(self.names.model, new, meta, op_type="create")
        try:
            total = write_chunks(self.store, meta, new, data, self.chunk_size)
        except Exception:
            delete_chunks(self.store, new)
            self.store.delete(self.names.model, new)
            raise
        now = now_ms()
        self.store.update(self.names.model, new, {
            "model_state": "REGISTERED", "total_chunks": total, "last_registered_time": now,
            "last_updated_time": now,
        })  # fmt: skip
        return new
