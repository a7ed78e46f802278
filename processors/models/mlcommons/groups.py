"""Model groups (reference §11.1): unique names, and the version counter of their models.

Example:
    >>> groups = ModelGroups(DocStore(client, IndexNames()))            # doctest: +SKIP
    >>> groups.register({"name": "local_model_group"})["status"]         # doctest: +SKIP
    'CREATED'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.models.mlcommons.errors import (
    GROUP_HAS_MODELS,
    GROUP_NAME_TAKEN,
    MLCommonsError,
    group_not_found,
)
from processors.models.mlcommons.system_indices import DocStore, JSONObject, new_id, now_ms

_ACCESS_MODES = ("public", "private", "restricted")


class ModelGroups:
    """Register, read, search and delete model groups; hand out model versions."""

    def __init__(self, store: DocStore) -> None:
        self.store = store

    @property
    def index(self) -> str:
        """The model group index."""
        return self.store.names.model_group

    def find_by_name(self, name: str) -> str | None:
        """The id of the group called exactly ``name``, if any."""
        for hit in self.store.hits(self.index, {"term": {"name.keyword": name}}, size=1):
            return str(hit["_id"])
        return None

    def register(self, body: Mapping[str, Any]) -> JSONObject:
        """``POST _plugins/_ml/model_groups/_register``.

        Returns:
            ``{"model_group_id": ..., "status": "CREATED"}``.

        Raises:
            MLCommonsError: no name, a bad ``access_mode``, or a name already in use.
        """
        name = str(body.get("name") or "").strip()
        if not name:
            raise MLCommonsError("Model group name must be provided")
        access = str(body.get("access_mode") or "public").lower()
        if access not in _ACCESS_MODES:
            raise MLCommonsError(f"Invalid access mode: {body.get('access_mode')}")
        existing = self.find_by_name(name)
        if existing is not None:
            raise MLCommonsError(GROUP_NAME_TAKEN.format(existing))
        now = now_ms()
        doc: JSONObject = {"name": name, "latest_version": 0, "access": access}
        if body.get("description") is not None:
            doc["description"] = body["description"]
        if body.get("backend_roles"):
            doc["backend_roles"] = list(body["backend_roles"])
        doc.update(created_time=now, last_updated_time=now)
        group_id = new_id()
        self.store.put(self.index, group_id, doc, op_type="create")
        return {"model_group_id": group_id, "status": "CREATED"}

    def get(self, group_id: str) -> JSONObject:
        """``GET _plugins/_ml/model_groups/<id>``: the group document.

        Raises:
            MLNotFoundError: unknown id.
        """
        doc = self.store.get(self.index, group_id)
        if doc is None:
            raise group_not_found(group_id)
        return doc

    def search(self, body: Mapping[str, Any] | None = None) -> JSONObject:
        """``POST _plugins/_ml/model_groups/_search``: a plain search response."""
        return self.store.search(self.index, body)

    def delete(self, group_id: str) -> JSONObject:
        """``DELETE _plugins/_ml/model_groups/<id>``; refused while it has models.

        Raises:
            MLNotFoundError: unknown id.
            MLCommonsError: the group still has model versions.
        """
        self.get(group_id)
        models = self.store.names.model
        query = {"bool": {"filter": [{"term": {"model_group_id": group_id}}],
                          "must_not": [{"exists": {"field": "chunk_number"}}]}}  # fmt: skip
        if any(True for _ in self.store.hits(models, query, size=1)):
            raise MLCommonsError(GROUP_HAS_MODELS, status=409)
        return self.store.delete(self.index, group_id)

    def next_version(self, group_id: str) -> str:
        """Increment the group's ``latest_version`` (optimistic concurrency); the new value."""
        for _ in range(20):
            current = self.store.get_versioned(self.index, group_id)
            if current is None:
                raise group_not_found(group_id)
            doc, seq_no, term = current
            version = int(doc.get("latest_version", 0)) + 1
            doc.update(latest_version=version, last_updated_time=now_ms())
            resp = self.store.client.index(
                index=self.index, id=group_id, body=doc, if_seq_no=seq_no,
                if_primary_term=term, refresh="true", ignore=409,
            )  # fmt: skip
            if resp.get("result") in ("updated", "created"):
                return str(version)
        raise MLCommonsError(f"could not increment the version of model group {group_id}", 409)
