"""A proxy in its own process (fake models, registry models loaded as ``HashEmbedder(384)``),
for the several-proxies tests: it can be killed like a real ``neuralpipe serve``.

python -m tests.integration.proxy_child UPSTREAM PORT HOME ML_PREFIX PIPELINE_INDEX MODEL_FILES
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from processors.proxy.app import server_options
from tests.integration.proxy_server import registry_app

CACHE_TTL = 0.5


def main() -> None:
    upstream, port, home, prefix, store, model_files = sys.argv[1:7]
    root = Path(home)
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    app = registry_app(upstream, root, prefix, store, Path(model_files), CACHE_TTL)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", **server_options())


if __name__ == "__main__":
    main()
