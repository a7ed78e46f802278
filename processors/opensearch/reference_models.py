"""Models on the reference node: register + deploy ``pipelines/models/<id>.yaml``'s zip there.

The zip is sent with ml-commons' chunked upload (``_register_meta`` + ``upload_chunk``), so no
network is needed; ``_register`` is avoided because a ``name`` that matches an OpenSearch
pretrained model makes it fetch that model from the pretrained-model host. Registrations are
remembered per zip hash in ``<state>/models.json``, so a second call is a readiness probe; a
model whose zip changed is registered again and the old one undeployed and deleted.

Example:
    >>> ReferenceModels(node, settings).register("all-minilm-l6-v2-onnx")  # doctest: +SKIP
    'kVa1bZoB...'
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from processors.errors import ModelError
from processors.opensearch.reference import ReferenceNode
from processors.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 10_000_000
"""``upload_chunk`` accepts at most 10 MB a chunk."""


class ReferenceModels:
    """Register, deploy and probe neuralpipe's models on a running reference node.

    Args:
        node: The reference node (must be running).
        settings: Where neuralpipe's model bodies (``pipelines_dir/models``) and zips
            (``home/models``) are.
    """

    def __init__(self, node: ReferenceNode, settings: Settings) -> None:
        self.node = node
        self.settings = settings
        self.index_file = node.state_dir / "models.json"

    def known(self) -> dict[str, dict[str, str]]:
        """``{neuralpipe model id: {"model_id": reference id, "sha256": zip hash}}``."""
        if not self.index_file.exists():
            return {}
        known: dict[str, dict[str, str]] = json.loads(self.index_file.read_text())
        return known

    def register(self, model: str) -> str:
        """The reference node's id of ``model``, registered and deployed (idempotent per zip).

        Raises:
            ModelError: the body or zip is missing, or ml-commons refused or failed to deploy.
        """
        url = self.node.url()
        body, data = self._body_and_zip(model)
        digest = hashlib.sha256(data).hexdigest()
        known = self.known()
        entry = known.get(model)
        probe: dict[str, Any] = {"text_docs": ["ok"]}
        config = body.get("model_config") or {}
        if config.get("query_prefix") or config.get("passage_prefix"):  # asymmetric: say a side
            probe["parameters"] = {"content_type": "query"}
        if entry and entry.get("sha256") == digest and self._ready(url, entry["model_id"], probe):
            return entry["model_id"]
        if entry:
            self._remove(url, entry["model_id"])
        body.update(
            model_content_hash_value=digest, model_content_size_in_bytes=len(data),
            total_chunks=(len(data) + CHUNK - 1) // CHUNK,
        )  # fmt: skip
        meta = requests.post(f"{url}/_plugins/_ml/models/_register_meta", json=body, timeout=60)
        if meta.status_code != 200:
            raise ModelError(f"reference node refused {model}: {meta.text[:500]}")
        model_id = str(meta.json()["model_id"])
        for i in range(body["total_chunks"]):
            # upload_chunk takes the raw bytes, but the REST layer only accepts a
            # JSON/YAML/CBOR/SMILE content type (application/octet-stream: 406)
            up = requests.post(
                f"{url}/_plugins/_ml/models/{model_id}/upload_chunk/{i}",
                data=data[i * CHUNK : (i + 1) * CHUNK],
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
            if up.status_code != 200:
                raise ModelError(f"uploading {model} chunk {i} failed: {up.text[:500]}")
        self._deploy(url, model_id)
        known[model] = {"model_id": model_id, "sha256": digest}
        self.index_file.write_text(json.dumps(known, indent=2))
        return model_id

    def _body_and_zip(self, model: str) -> tuple[dict[str, Any], bytes]:
        path = self.settings.pipelines_dir / "models" / f"{model}.yaml"
        if not path.is_file():
            raise ModelError(f"no model body {path}")
        body: dict[str, Any] = yaml.safe_load(path.read_text())
        zip_name = str(body.pop("url", "")).removeprefix("file:")
        zip_path = Path(zip_name)
        if not zip_path.is_absolute():
            zip_path = self.settings.home / "models" / zip_name
        if not zip_path.is_file():
            raise ModelError(f"{model}: zip {zip_path} not found (python scripts/build_models.py)")
        return body, zip_path.read_bytes()

    def _ready(
        self, url: str, model_id: str, probe_body: dict[str, Any], wait: float = 180
    ) -> bool:
        """True once ``model_id`` answers ``_predict`` (deploying it again if needed); False
        if the node does not know it. After a restart ml-commons redeploys on its own
        (``DEPLOYING``) while the model index may still say ``DEPLOYED``, so readiness is
        judged by a real prediction."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            got = requests.get(f"{url}/_plugins/_ml/models/{model_id}", timeout=30)
            if got.status_code != 200:
                return False
            probe = requests.post(f"{url}/_plugins/_ml/models/{model_id}/_predict",
                                  json=probe_body, timeout=60)  # fmt: skip
            if probe.status_code == 200:
                return True
            if got.json().get("model_state") != "DEPLOYING":
                # may fail with "Duplicate deploy model task" while the node's own redeploy
                # runs; the next round's probe decides
                self._deploy(url, model_id, must=False)
            time.sleep(2)
        raise ModelError(f"reference model {model_id} not ready after {wait}s")

    @staticmethod
    def _deploy(url: str, model_id: str, timeout: float = 300, must: bool = True) -> bool:
        task = requests.post(f"{url}/_plugins/_ml/models/{model_id}/_deploy", timeout=60)
        if task.status_code != 200:
            if not must:
                return False
            raise ModelError(f"deploying {model_id} refused: {task.text[:500]}")
        task_id = task.json()["task_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = requests.get(f"{url}/_plugins/_ml/tasks/{task_id}", timeout=30).json()
            if state.get("state") == "COMPLETED":
                return True
            if state.get("state") in ("FAILED", "COMPLETED_WITH_ERROR"):
                if not must:
                    return False
                raise ModelError(f"deploying {model_id} failed: {state.get('error')}")
            time.sleep(1)
        raise ModelError(f"deploying {model_id}: task {task_id} not done after {timeout}s")

    @staticmethod
    def _remove(url: str, model_id: str) -> None:
        """Undeploy and delete a superseded registration (best effort: frees native memory)."""
        requests.post(f"{url}/_plugins/_ml/models/{model_id}/_undeploy", timeout=60)
        gone = requests.delete(f"{url}/_plugins/_ml/models/{model_id}", timeout=60)
        if gone.status_code not in (200, 404):  # the node lacks delete-by-query (reindex)
            log.info("could not delete reference model %s: %s", model_id, gone.text[:200])
