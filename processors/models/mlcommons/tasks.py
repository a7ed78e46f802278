"""ml-commons tasks (reference §11.3): ``CREATED`` → ``RUNNING`` → ``COMPLETED`` | ``FAILED``.

Example:
    >>> tasks = Tasks(DocStore(client, IndexNames()))                    # doctest: +SKIP
    >>> task_id = tasks.create("REGISTER_MODEL", "TEXT_EMBEDDING")        # doctest: +SKIP
    >>> tasks.get(task_id)["state"]                                       # doctest: +SKIP
    'CREATED'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.models.mlcommons.errors import task_not_found
from processors.models.mlcommons.system_indices import DocStore, JSONObject, new_id, now_ms

REGISTER_MODEL = "REGISTER_MODEL"
DEPLOY_MODEL = "DEPLOY_MODEL"


class Tasks:
    """Task documents in the task index."""

    def __init__(self, store: DocStore) -> None:
        self.store = store

    @property
    def index(self) -> str:
        """The task index."""
        return self.store.names.task

    def create(self, task_type: str, function_name: str, model_id: str | None = None) -> str:
        """A new task in state ``CREATED``; its id."""
        now = now_ms()
        doc: JSONObject = {
            "task_type": task_type,
            "function_name": function_name,
            "state": "CREATED",
            "worker_node": [self.store.node_id()],
            "create_time": now,
            "last_update_time": now,
            "is_async": True,
        }
        if model_id is not None:
            doc["model_id"] = model_id
        task_id = new_id()
        self.store.put(self.index, task_id, doc, op_type="create")
        return task_id

    def set_state(self, task_id: str, state: str, **fields: Any) -> None:
        """Move a task to ``state`` (``RUNNING``, ``COMPLETED``, ``FAILED``) with extra fields."""
        self.store.update(
            self.index, task_id, {"state": state, "last_update_time": now_ms(), **fields}
        )

    def fail(self, task_id: str, error: str) -> None:
        """Mark a task ``FAILED`` with ``error``."""
        self.set_state(task_id, "FAILED", error=error)

    def get(self, task_id: str) -> JSONObject:
        """``GET _plugins/_ml/tasks/<id>``.

        Raises:
            MLNotFoundError: ``Failed to find task``.
        """
        doc = self.store.get(self.index, task_id)
        if doc is None:
            raise task_not_found()
        return doc

    def search(self, body: Mapping[str, Any] | None = None) -> JSONObject:
        """``POST _plugins/_ml/tasks/_search``."""
        return self.store.search(self.index, body)

    def delete(self, task_id: str) -> JSONObject:
        """``DELETE _plugins/_ml/tasks/<id>``."""
        self.get(task_id)
        return self.store.delete(self.index, task_id)
