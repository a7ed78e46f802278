"""``_cluster/settings``: the settings of the plugins neuralpipe emulates.

``plugins.ml_commons.*`` and ``plugins.neural_search.*``.

The node has neither plugin, so it refuses their settings ("not recognized"). The proxy takes
them out of ``PUT _cluster/settings`` (persistent and transient, flat or nested, ``null`` and
``prefix.*: null`` to reset), checks the type of those it knows, keeps them in a document of
the node's hidden ``.neuralpipe-pipelines`` index (so every proxy in front of the node shares
them, re-read after ``ttl`` seconds) and sends the rest to the node. ``GET _cluster/settings``
merges them into the node's answer, nested or ``flat_settings``, and with
``include_defaults`` adds the plugins' defaults. Transient values win over persistent ones,
which win over the defaults (:meth:`ClusterSettings.value`), as on a node.

Example:
    >>> flatten({"plugins": {"ml_commons": {"only_run_on_ml_node": False}}})
    {'plugins.ml_commons.only_run_on_ml_node': False}
    >>> nest({"plugins.ml_commons.a.b": "1", "plugins.ml_commons.c": "2"})
    {'plugins': {'ml_commons': {'a': {'b': '1'}, 'c': '2'}}}
"""

from __future__ import annotations

import fnmatch
import json
import time
from typing import Any

from processors.proxy.errors import ProxyError

JSONObject = dict[str, Any]
PREFIXES = ("plugins.ml_commons.", "plugins.neural_search.")
SCOPES = ("persistent", "transient")
SETTINGS_DOC = "settings:cluster"
BOOL, INT, FLOAT, TEXT, LIST = "bool", "int", "float", "text", "list"
URL_REGEX = r"^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]"
KNOWN: dict[str, tuple[str, Any]] = {
    # ml-commons (MLCommonsSettings), the ones a local-model cluster is set up with
    "plugins.ml_commons.only_run_on_ml_node": (BOOL, "true"),
    "plugins.ml_commons.native_memory_threshold": (INT, "90"),
    "plugins.ml_commons.jvm_heap_memory_threshold": (INT, "85"),
    "plugins.ml_commons.disk_free_space_threshold": (TEXT, "5gb"),
    "plugins.ml_commons.allow_registering_model_via_url": (BOOL, "false"),
    "plugins.ml_commons.allow_registering_model_via_local_file": (BOOL, "false"),
    "plugins.ml_commons.trusted_url_regex": (TEXT, URL_REGEX),
    "plugins.ml_commons.model_access_control_enabled": (BOOL, "false"),
    "plugins.ml_commons.connector_access_control_enabled": (BOOL, "false"),
    "plugins.ml_commons.max_model_on_node": (INT, "10"),
    "plugins.ml_commons.max_ml_task_per_node": (INT, "10"),
    "plugins.ml_commons.max_register_model_tasks_per_node": (INT, "10"),
    "plugins.ml_commons.max_deploy_model_tasks_per_node": (INT, "10"),
    "plugins.ml_commons.ml_task_timeout_in_seconds": (INT, "600"),
    "plugins.ml_commons.sync_up_job_interval_in_seconds": (INT, "10"),
    "plugins.ml_commons.monitoring_request_count": (INT, "100"),
    "plugins.ml_commons.enable_inhouse_python_model": (BOOL, "false"),
    "plugins.ml_commons.model_auto_redeploy.enable": (BOOL, "true"),
    "plugins.ml_commons.model_auto_redeploy.lifetime_retry_times": (INT, "3"),
    "plugins.ml_commons.model_auto_redeploy_success_ratio": (FLOAT, "0.8"),
    "plugins.ml_commons.model_auto_deploy.enable": (BOOL, "true"),
    "plugins.ml_commons.allow_custom_deployment_plan": (BOOL, "false"),
    "plugins.ml_commons.task_dispatch_policy": (TEXT, "round_robin"),
    "plugins.ml_commons.local_model.enabled": (BOOL, "true"),
    "plugins.ml_commons.remote_inference.enabled": (BOOL, "true"),
    "plugins.ml_commons.connector.private_ip_enabled": (BOOL, "false"),
    "plugins.ml_commons.trusted_connector_endpoints_regex": (LIST, []),
    "plugins.ml_commons.memory_feature_enabled": (BOOL, "true"),
    "plugins.ml_commons.rag_pipeline_feature_enabled": (BOOL, "true"),
    "plugins.ml_commons.agent_framework_enabled": (BOOL, "true"),
    "plugins.ml_commons.controller_enabled": (BOOL, "true"),
    "plugins.ml_commons.offline_batch_ingestion_enabled": (BOOL, "true"),
    "plugins.ml_commons.offline_batch_inference_enabled": (BOOL, "true"),
    "plugins.ml_commons.safe_delete_model": (BOOL, "false"),
    "plugins.ml_commons.multi_tenancy_enabled": (BOOL, "false"),
    "plugins.ml_commons.update_connector.enabled": (BOOL, "false"),
    # neural-search (NeuralSearchSettings)
    "plugins.neural_search.hybrid_search_disabled": (BOOL, "false"),
    "plugins.neural_search.stats_enabled": (BOOL, "false"),
    "plugins.neural_search.semantic_ingest_batch_size": (INT, "10"),
}


def ours(key: str) -> bool:
    """Whether a flat setting key belongs to the plugins neuralpipe emulates."""
    return key.startswith(PREFIXES)


def flatten(value: Any, prefix: str = "") -> JSONObject:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {}
    flat: JSONObject = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            flat.update(flatten(item, name))
        else:
            flat[name] = item
    return flat


def nest(flat: JSONObject) -> JSONObject:
    """The nested form of flat keys (OpenSearch's answer without ``flat_settings``)."""
    nested: JSONObject = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return nested


def merge(into: JSONObject, extra: JSONObject) -> JSONObject:
    """``extra`` merged deeply into ``into`` (changed and returned)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def normalize(key: str, value: Any, scope: str) -> Any:
    """A setting value as OpenSearch keeps it (a string, or a list of strings).

    Raises:
        ProxyError: a known setting with a value of the wrong type (OpenSearch's message).
    """
    kind = KNOWN.get(key, (None, None))[0]
    if isinstance(value, list):
        if kind not in (None, LIST):
            raise _illegal(f"Failed to parse value [{json.dumps(value)}] for setting [{key}]")
        return [_text(item) for item in value]
    if isinstance(value, dict):
        raise _illegal(f"{scope} setting [{key}], not recognized")
    text = _text(value)
    if kind == BOOL and text not in ("true", "false"):
        raise _illegal(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")
    if kind == INT:
        try:
            int(text)
        except ValueError:
            raise _illegal(f"Failed to parse value [{text}] for setting [{key}]") from None
    if kind == FLOAT:
        try:
            float(text)
        except ValueError:
            raise _illegal(f"Failed to parse value [{text}] for setting [{key}]") from None
    return [text] if kind == LIST else text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _illegal(reason: str) -> ProxyError:
    return ProxyError(400, "illegal_argument_exception", reason)


def split_update(body: JSONObject) -> tuple[JSONObject, dict[str, JSONObject]]:
    """``(body left for the node, {scope: {flat key: value or None}} of ours)``.

    Raises:
        ProxyError: a value of the wrong type, or a body that is not settings.
    """
    left: JSONObject = {}
    taken: dict[str, JSONObject] = {scope: {} for scope in SCOPES}
    for key, value in body.items():
        if key not in SCOPES:
            left[key] = value
            continue
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ProxyError(400, "parse_exception", f"[{key}] must be an object")
        node_part: JSONObject = {}
        for name, item in flatten(value).items():
            if ours(name):
                taken[key][name] = None if item is None else normalize(name, item, key)
            elif item is None and name.endswith("*"):  # a reset by pattern: ours and the node's
                taken[key][name] = None
                node_part[name] = None
            else:
                node_part[name] = item
        left[key] = node_part
    return left, taken


class ClusterSettings:
    """The plugins' cluster settings, kept in the node (see the module docstring).

    Args:
        store: The pipeline store (its hidden index holds the settings document).
        ttl: Seconds a read is reused.
    """

    def __init__(self, store: Any, *, ttl: float = 1.0) -> None:
        self.store = store
        self.ttl = ttl
        self._cached: tuple[float, dict[str, JSONObject]] | None = None

    def _path(self) -> str:
        return f"/{self.store.index}/_doc/{SETTINGS_DOC.replace(':', '%3A')}"

    async def current(self) -> dict[str, JSONObject]:
        """``{"persistent": {flat: value}, "transient": {...}}`` as stored."""
        if self._cached is not None and self._cached[0] > time.monotonic():
            return self._cached[1]
        status, answer = await self.store.upstream.json("GET", self._path())
        found: dict[str, JSONObject] = {scope: {} for scope in SCOPES}
        if status == 200 and isinstance(answer, dict) and answer.get("found"):
            body = answer["_source"].get("body") or {}
            for scope in SCOPES:
                found[scope] = dict(body.get(scope) or {})
        elif status not in (200, 404):
            raise ProxyError(status, "exception", f"reading {self.store.index}: {answer}")
        self._cached = (time.monotonic() + self.ttl, found)
        return found

    async def update(self, taken: dict[str, JSONObject]) -> dict[str, JSONObject]:
        """Apply ``{scope: {key: value or None}}``; the changes as applied, per scope."""
        if not any(taken.values()):
            return {scope: {} for scope in SCOPES}
        stored = {scope: dict(values) for scope, values in (await self.current()).items()}
        applied: dict[str, JSONObject] = {scope: {} for scope in SCOPES}
        for scope in SCOPES:
            for key, value in taken[scope].items():
                if value is None:
                    for name in [n for n in stored[scope] if fnmatch.fnmatchcase(n, key)]:
                        del stored[scope][name]
                else:
                    stored[scope][key] = value
                    applied[scope][key] = value
        await self.store.ensure_index()
        doc = {"kind": "settings", "pipeline_id": "cluster", "body": stored}
        status, answer = await self.store.upstream.json(
            "PUT", self._path(), doc, params={"refresh": "true"}
        )
        if status >= 300:
            raise ProxyError(status, "exception", f"storing cluster settings: {answer}")
        self._cached = (time.monotonic() + self.ttl, stored)
        return applied

    async def value(self, key: str) -> Any:
        """The effective value: transient, else persistent, else the default (None if none)."""
        stored = await self.current()
        for scope in ("transient", "persistent"):
            if key in stored[scope]:
                return stored[scope][key]
        return KNOWN[key][1] if key in KNOWN else None

    async def flag(self, key: str) -> bool:
        """A boolean setting's effective value."""
        return str(await self.value(key)).lower() == "true"

    async def merged_answer(self, answer: JSONObject, *, flat: bool, defaults: bool) -> JSONObject:
        """The node's ``GET _cluster/settings`` answer with ours merged in."""
        stored = await self.current()
        for scope in SCOPES:
            part = stored[scope]
            if not part:
                answer.setdefault(scope, {})
                continue
            target = answer.setdefault(scope, {})
            merge(target, part if flat else nest(part))
        if defaults:
            unset = {k: v for k, (_, v) in KNOWN.items()
                     if k not in stored["persistent"] and k not in stored["transient"]}  # fmt: skip
            merge(answer.setdefault("defaults", {}), unset if flat else nest(unset))
        return answer
