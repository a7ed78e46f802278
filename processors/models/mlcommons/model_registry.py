"""The ml-commons-shaped model registry, with its state in the real OpenSearch node.

Model groups, models (meta document + zip chunks) and tasks live in three indices of the node
(:mod:`~processors.models.mlcommons.system_indices`), so every neuralpipe process — indexer,
proxy, CLI — sees the same models, and a restart loses nothing. Only the loaded runtimes are per
process: a model whose document says ``DEPLOYED`` is loaded on first use in any process.

Operations run synchronously; their responses keep ml-commons' asynchronous shapes
(``{"task_id": ..., "status": "CREATED"}``), and the task document records the outcome.

Example:
    >>> reg = ModelRegistry(client, index_prefix=".plugins-ml")                  # doctest: +SKIP
    >>> task = reg.register_model({"name": "m", "function_name": "SPARSE_TOKENIZE",
    ...     "model_content_hash_value": h, "url": "file:bert.zip"})      # doctest: +SKIP
    >>> model_id = reg.get_task(task["task_id"])["model_id"]                     # doctest: +SKIP
    >>> reg.deploy_model(model_id)                                               # doctest: +SKIP
    >>> reg.predict(model_id, {"text_docs": ["hello"]})                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from processors.errors import BackendUnavailableError, NeuralpipeError
from processors.models.artifact import sha256_file
from processors.models.mlcommons.chunks import ML_CHUNK_SIZE, delete_chunks, read_model
from processors.models.mlcommons.errors import (
    DELETE_DEPLOYED,
    NOT_DEPLOYED,
    MLCommonsError,
    model_not_found,
)
from processors.models.mlcommons.groups import ModelGroups
from processors.models.mlcommons.predict import predict_response
from processors.models.mlcommons.register import Registrar
from processors.models.mlcommons.system_indices import (
    DEFAULT_INDEX_PREFIX,
    Client,
    DocStore,
    IndexNames,
    JSONObject,
    now_ms,
)
from processors.models.mlcommons.tasks import DEPLOY_MODEL, Tasks
from processors.models.registration import ModelRegistration
from processors.settings import default_home

logger = logging.getLogger(__name__)

ModelLoader = Callable[[Path, ModelRegistration], object]
"""Turns a verified zip and its registration into a runtime (``embed``/``encode``/``score``)."""

DEPLOYED_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED")
BUSY_STATES = ("DEPLOYING", *DEPLOYED_STATES)
UPDATABLE = ("name", "description", "model_group_id", "is_enabled", "rate_limiter")


def default_loader(zip_path: Path, registration: ModelRegistration) -> object:
    """:func:`processors.models.loader.load_model`, imported only when a model is deployed.

    Raises:
        BackendUnavailableError: the loader module is not available.
    """
    try:
        module = importlib.import_module("processors.models.loader")
    except ImportError as exc:
        raise BackendUnavailableError(f"no model runtime available: {exc}") from exc
    load: ModelLoader = module.load_model
    return load(zip_path, registration)


def without_content(body: Mapping[str, Any] | None) -> JSONObject:
    """A model search body whose ``_source`` leaves ``model_content`` out, as ml-commons adds
    it to the request's own fetch-source excludes (a ``_source_excludes`` URL parameter would
    replace the body's ``_source`` includes instead).

    >>> without_content({"_source": ["name"]})["_source"]
    {'includes': ['name'], 'excludes': ['model_content']}
    >>> without_content({"_source": False})["_source"]
    False
    """
    out: JSONObject = dict(body or {})
    source = out.get("_source", True)
    if source is False or source == "false":
        return out
    if isinstance(source, dict):
        includes, excludes = source.get("includes", []), source.get("excludes", [])
    elif source is True or source == "true":
        includes, excludes = [], []
    else:
        includes, excludes = source, []
    includes = [includes] if isinstance(includes, str) else list(includes)
    excludes = [excludes] if isinstance(excludes, str) else list(excludes)
    out["_source"] = {"includes": includes, "excludes": [*excludes, "model_content"]}
    return out


class ModelRegistry(Registrar):
    """ml-commons model APIs (groups, register, tasks, deploy, predict) over OpenSearch.

    Args:
        client: An ``opensearchpy.OpenSearch`` client.
        index_prefix: Prefix of the three indices (default ``.plugins-ml``).
        models_dir: Where relative ``url`` paths of register bodies resolve.
        artifact_dir: Where pretrained catalog zips are looked up (by their URL's file name).
        cache_dir: Where deployed zips are reassembled and downloads are kept.
        loader: Builds a runtime from a zip; default :func:`default_loader`.
        chunk_size: Bytes per chunk document (ml-commons: 10,000,000).
        allow_download: Download http(s) / catalog zips that are not available locally.

    Example:
        >>> ModelRegistry(client, index_prefix=".test-ml").names.task  # doctest: +SKIP
        '.test-ml-task'
    """

    def __init__(
        self,
        client: Client,
        *,
        index_prefix: str = DEFAULT_INDEX_PREFIX,
        models_dir: Path | None = None,
        artifact_dir: Path | None = None,
        cache_dir: Path | None = None,
        loader: ModelLoader | None = None,
        chunk_size: int = ML_CHUNK_SIZE,
        allow_download: bool = True,
    ) -> None:
        home = default_home()
        self.names = IndexNames(index_prefix)
        self.store = DocStore(client, self.names)
        self.groups = ModelGroups(self.store)
        self.tasks = Tasks(self.store)
        self.models_dir = models_dir or home / "models"
        self.artifact_dir = artifact_dir
        self.cache_dir = cache_dir or home / "registry-cache"
        self.download_dir: Path | None = self.cache_dir / "downloads" if allow_download else None
        self.loader: ModelLoader = loader or default_loader
        if chunk_size < 1 or chunk_size > ML_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be in [1, {ML_CHUNK_SIZE}]")
        self.chunk_size = chunk_size
        self._loaded: dict[str, object] = {}
        self._lock = threading.RLock()

    # -- model groups and tasks -------------------------------------------------------------

    def register_model_group(self, body: Mapping[str, Any]) -> JSONObject:
        """``POST model_groups/_register`` → ``{"model_group_id", "status": "CREATED"}``."""
        return self.groups.register(body)

    def get_model_group(self, group_id: str) -> JSONObject:
        """``GET model_groups/<id>``."""
        return self.groups.get(group_id)

    def search_model_groups(self, body: Mapping[str, Any] | None = None) -> JSONObject:
        """``POST model_groups/_search``."""
        return self.groups.search(body)

    def delete_model_group(self, group_id: str) -> JSONObject:
        """``DELETE model_groups/<id>`` (refused while it has models)."""
        return self.groups.delete(group_id)

    def update_model_group(self, group_id: str, body: Mapping[str, Any]) -> JSONObject:
        """``PUT model_groups/<id>``: ``name`` and ``description`` (access control fields are
        ignored: access control is not emulated) → ``{"status": "Updated"}``."""
        self.groups.get(group_id)
        fields = {k: body[k] for k in ("name", "description") if k in body}
        name = str(fields.get("name") or "").strip()
        if "name" in fields and not name:
            raise MLCommonsError("Model group name must be provided")
        existing = self.groups.find_by_name(name) if name else None
        if existing is not None and existing != group_id:
            raise MLCommonsError(
                f"The name you provided is already being used by another model with ID: {existing}."
            )
        if fields:
            self.store.update(
                self.groups.index, group_id, {**fields, "last_updated_time": now_ms()}
            )
        return {"status": "Updated"}

    def get_task(self, task_id: str) -> JSONObject:
        """``GET tasks/<id>``."""
        return self.tasks.get(task_id)

    def search_tasks(self, body: Mapping[str, Any] | None = None) -> JSONObject:
        """``POST tasks/_search``."""
        return self.tasks.search(body)

    def delete_task(self, task_id: str) -> JSONObject:
        """``DELETE tasks/<id>``."""
        return self.tasks.delete(task_id)

    # -- models -----------------------------------------------------------------------------

    def get_model(self, model_id: str) -> JSONObject:
        """``GET models/<id>``: the model document, without content.

        Raises:
            MLNotFoundError: ``Failed to find model``.
        """
        doc = self.store.get(self.names.model, model_id, excludes="model_content")
        if doc is None or "chunk_number" in doc:
            raise model_not_found()
        return doc

    def search_models(self, body: Mapping[str, Any] | None = None) -> JSONObject:
        """``POST models/_search``: chunk documents match too, as in ml-commons; the body's
        ``_source`` (includes, excludes, ``false``) is kept, ``model_content`` never shown."""
        return self.store.search(self.names.model, without_content(body))

    def list_models(self) -> list[JSONObject]:
        """Every model (no chunks), oldest first, each with its ``model_id``."""
        query = {"bool": {"must_not": [{"exists": {"field": "chunk_number"}}]}}
        body = {"query": query, "size": 1000, "sort": [{"created_time": "asc"}]}
        resp = self.store.search(self.names.model, body, _source_excludes="model_content")
        return [{"model_id": hit["_id"], **hit["_source"]} for hit in resp["hits"]["hits"]]

    def delete_model(self, model_id: str) -> JSONObject:
        """``DELETE models/<id>``: the meta document and all chunks.

        Raises:
            MLNotFoundError: unknown id.
            MLCommonsError: the model is deploying or deployed (400).
        """
        doc = self.get_model(model_id)
        if doc.get("model_state") in BUSY_STATES:
            raise MLCommonsError(DELETE_DEPLOYED)
        delete_chunks(self.store, model_id)
        resp = self.store.delete(self.names.model, model_id)
        with self._lock:
            self._loaded.pop(model_id, None)
        shutil.rmtree(self.cache_dir / model_id, ignore_errors=True)
        return resp

    def update_model(self, model_id: str, body: Mapping[str, Any]) -> JSONObject:
        """``PUT models/<id>``: name, description, group, ``is_enabled``, ``rate_limiter``.

        Other fields are ignored, as ml-commons' update input ignores them; the answer is the
        node's update answer (``result: updated``).
        """
        self.get_model(model_id)
        fields = {k: v for k, v in body.items() if k in UPDATABLE}
        if "model_group_id" in fields:
            self.groups.get(str(fields["model_group_id"]))
        answer: JSONObject = self.store.client.update(
            index=self.names.model, id=model_id, body={"doc": {**fields,
                                                               "last_updated_time": now_ms()}},
            params={"refresh": "true"},
        )  # fmt: skip
        return answer

    def profile(self, model_ids: list[str] | None = None, *, tasks: bool = True) -> JSONObject:
        """``GET profile[/models[/<ids>]]``: the deployed models, per node (ml-commons' node view).

        ``{}`` when nothing is deployed (ml-commons leaves out nodes with nothing to report).
        """
        node = self.store.node_id()
        models: JSONObject = {}
        for doc in self.list_models():
            if doc.get("model_state") not in DEPLOYED_STATES:
                continue
            if model_ids and doc["model_id"] not in model_ids:
                continue
            models[doc["model_id"]] = {
                "model_state": doc["model_state"],
                "predictor": f"neuralpipe.{str(doc.get('algorithm')).lower()}",
                "target_worker_nodes": [node], "worker_nodes": [node],
            }  # fmt: skip
        if not models:
            return {}
        entry: JSONObject = {"models": models}
        if tasks:
            entry["tasks"] = {}
        return {"nodes": {node: entry}}

    def stats(self, stat: str | None = None) -> JSONObject:
        """``GET [<node>/]stats[/<stat>]``: model counts (cluster level) and per node."""
        docs = self.list_models()
        deployed = sum(doc.get("model_state") in DEPLOYED_STATES for doc in docs)
        cluster = {"ml_model_count": len(docs), "ml_connector_count": 0}
        node = {
            "ml_deployed_model_count": deployed, "ml_executing_task_count": 0,
            "ml_request_count": 0, "ml_failure_count": 0, "ml_circuit_breaker_trigger_count": 0,
        }  # fmt: skip
        wanted = {name.strip().lower() for name in stat.split(",")} if stat else None
        answer: JSONObject = {k: v for k, v in cluster.items() if not wanted or k in wanted}
        node_part = {k: v for k, v in node.items() if not wanted or k in wanted}
        if node_part:
            answer["nodes"] = {self.store.node_id(): node_part}
        return answer

    # -- deploy, undeploy, predict ----------------------------------------------------------

    def deploy_model(self, model_id: str) -> JSONObject:
        """``POST models/<id>/_deploy``: reassemble, verify, load; state ``DEPLOYED``.

        Returns:
            ``{"task_id", "task_type": "DEPLOY_MODEL", "status": "CREATED"}``; a failure is
            recorded in the task (``FAILED`` + ``error``) and the model (``DEPLOY_FAILED``).
        """
        doc = self.get_model(model_id)
        task_id = self.tasks.create(DEPLOY_MODEL, str(doc.get("algorithm")), model_id)
        self.tasks.set_state(task_id, "RUNNING")
        self._set_model(model_id, model_state="DEPLOYING")
        try:
            self._load(model_id, doc, reload=True)
        except Exception as exc:
            self._set_model(model_id, model_state="DEPLOY_FAILED")
            self.tasks.fail(task_id, str(exc))
            logger.warning("deploying model %s failed: %s", model_id, exc)
            if not isinstance(exc, (NeuralpipeError, OSError)):
                raise
        else:
            node = self.store.node_id()
            self._set_model(
                model_id, model_state="DEPLOYED", last_deployed_time=now_ms(),
                planning_worker_node_count=1, current_worker_node_count=1,
                planning_worker_nodes=[node], deploy_to_all_nodes=True,
            )  # fmt: skip
            self.tasks.set_state(task_id, "COMPLETED")
        return {"task_id": task_id, "task_type": DEPLOY_MODEL, "status": "CREATED"}

    def undeploy_model(self, model_id: str) -> JSONObject:
        """``POST models/<id>/_undeploy``: ``{"<node_id>": {"stats": {"<id>": "undeployed"}}}``.

        A model that was not deployed gives ``{}`` (nodes with nothing to report are omitted).
        """
        doc = self.get_model(model_id)
        with self._lock:
            self._loaded.pop(model_id, None)
        if doc.get("model_state") not in BUSY_STATES:
            return {}
        self._set_model(
            model_id, model_state="UNDEPLOYED", last_undeployed_time=now_ms(),
            current_worker_node_count=0, planning_worker_node_count=0, planning_worker_nodes=[],
        )  # fmt: skip
        return {self.store.node_id(): {"stats": {model_id: "undeployed"}}}

    def predict(self, model_id: str, body: Mapping[str, Any]) -> JSONObject:
        """``POST models/<id>/_predict`` (or ``_predict/<algorithm>/<id>``).

        Raises:
            MLNotFoundError: unknown id.
            MLCommonsError: ``Model not ready yet. Please deploy the model first.`` or a bad body.
        """
        doc = self.get_model(model_id)
        runtime = self.runtime(model_id, doc)
        return predict_response(str(doc["algorithm"]), runtime, body, doc.get("model_config"))

    def runtime(self, model_id: str, doc: Mapping[str, Any] | None = None) -> object:
        """The loaded runtime of a deployed model (loaded on first use in this process)."""
        doc = doc if doc is not None else self.get_model(model_id)
        if doc.get("model_state") not in DEPLOYED_STATES:
            raise MLCommonsError(NOT_DEPLOYED)
        return self._load(model_id, doc, reload=False)

    def materialize(self, model_id: str) -> tuple[Path, ModelRegistration]:
        """The model's zip in the local cache and its registration (a ModelStore resolver)."""
        doc = self.get_model(model_id)
        return self._zip_path(model_id, doc), self.registration_of(doc)

    @staticmethod
    def registration_of(doc: Mapping[str, Any]) -> ModelRegistration:
        """The registration a runtime loader needs, rebuilt from a model document."""
        return ModelRegistration.model_validate({
            "name": doc["name"], "version": str(doc.get("model_version", "1")),
            "function_name": doc["algorithm"], "model_format": doc.get("model_format"),
            "model_config": doc.get("model_config"), "description": doc.get("description"),
            "model_content_hash_value": doc.get("model_content_hash_value"),
            "model_content_size_in_bytes": doc.get("model_content_size_in_bytes"),
            "model_group_id": doc.get("model_group_id"),
        })  # fmt: skip

    # -- internals --------------------------------------------------------------------------

    def _set_model(self, model_id: str, **fields: Any) -> None:
        self.store.update(self.names.model, model_id, {**fields, "last_updated_time": now_ms()})

    def _zip_path(self, model_id: str, doc: Mapping[str, Any]) -> Path:
        digest = str(doc.get("model_content_hash_value") or "content")
        path = self.cache_dir / model_id / f"{digest}.zip"
        if path.is_file() and sha256_file(path) == doc.get("model_content_hash_value"):
            return path
        data = read_model(self.store, model_id, doc)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)
        return path

    def _load(self, model_id: str, doc: Mapping[str, Any], *, reload: bool) -> object:
        with self._lock:
            if not reload and model_id in self._loaded:
                return self._loaded[model_id]
            path = self._zip_path(model_id, doc)
            runtime = self.loader(path, self.registration_of(doc))
            self._loaded[model_id] = runtime
            return runtime
