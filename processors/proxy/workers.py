"""``neuralpipe serve --workers N``: N proxy processes behind one port, run by uvicorn.

uvicorn's own process manager starts the workers (each a fresh interpreter), restarts one that
dies, and stops them all on SIGINT/SIGTERM; each worker builds its app from the
:class:`~processors.proxy.app.ProxySettings` the parent put in the environment. Nothing is shared
between workers but the node: pipelines PUT through any of them live in the node's pipeline
index and models in the registry's indices, read again after ``cache_ttl`` seconds, exactly as
several ``serve`` processes on different machines share them.

Example:
    >>> from processors.proxy.app import ProxySettings
    >>> encoded = encode_settings(ProxySettings(upstream_url="http://127.0.0.1:9200"))
    >>> decode_settings(encoded).upstream_url
    'http://127.0.0.1:9200'
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from processors.errors import ConfigError
from processors.proxy.app import ProxySettings, create_app

SETTINGS_ENV = "NEURALPIPE_PROXY_SETTINGS"
_PATH_FIELDS = ("pipelines_dir", "home", "ca_certs", "model_files_dir")


def encode_settings(settings: ProxySettings) -> str:
    """The settings as one JSON string (paths as strings)."""
    values = dataclasses.asdict(settings)
    return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in values.items()})


def decode_settings(encoded: str) -> ProxySettings:
    """The inverse of :func:`encode_settings`."""
    values: dict[str, Any] = json.loads(encoded)
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            values[name] = Path(values[name])
    return ProxySettings(**values)


def app_from_environment() -> Any:
    """The uvicorn factory each worker calls: the app for the settings in ``SETTINGS_ENV``."""
    encoded = os.environ.get(SETTINGS_ENV)
    if not encoded:
        raise ConfigError(f"{SETTINGS_ENV} is not set: start the workers with neuralpipe serve")
    return create_app(decode_settings(encoded))


def run_workers(settings: ProxySettings, workers: int, **uvicorn_options: Any) -> None:
    """Serve ``workers`` processes under uvicorn's process manager (blocks until stopped)."""
    import uvicorn

    os.environ[SETTINGS_ENV] = encode_settings(settings)
    uvicorn.run(
        f"{__name__}:app_from_environment", factory=True, workers=workers, **uvicorn_options
    )
