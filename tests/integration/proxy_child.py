"""A proxy in its own process (fake models, registry models loaded as ``HashEmbedder(384)``),
for the several-proxies tests: it can be killed like a real ``neuralpipe serve``.

python -m tests.integration.proxy_child UPSTREAM PORT HOME ML_PREFIX PIPELINE_INDEX MODEL_FILES
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import uvicorn

from processors.models.mlcommons.model_registry import ModelRegistry
from processors.models.registration import ModelRegistration
from processors.proxy.app import ProxySettings, create_app, server_options
from processors.testing.fakes import HashEmbedder
from tests.integration.proxy_server import fake_models

CACHE_TTL = 0.5


def main() -> None:
    upstream, port, home, prefix, store, model_files = sys.argv[1:7]
    root = Path(home)
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    settings = ProxySettings(
        upstream_url=upstream, pipelines_dir=root / "pipelines", home=root,
        ml_index_prefix=prefix, pipeline_index=store, cache_ttl=CACHE_TTL,
        model_files_dir=Path(model_files),
    )  # fmt: skip

    def registry(sync_client: Any) -> ModelRegistry:
        def loader(path: Path, registration: ModelRegistration) -> object:
            return HashEmbedder(384)

        return ModelRegistry(
            sync_client, index_prefix=prefix, models_dir=root, cache_dir=root / "cache",
            loader=loader, allow_download=False,
        )  # fmt: skip

    app = create_app(settings, models=fake_models, registry=registry)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", **server_options())


if __name__ == "__main__":
    main()
