"""Settings shared by the CLI, the Python API and the proxy.

Every field can be set by an environment variable ``NEURALPIPE_<FIELD>`` (for example
``NEURALPIPE_OPENSEARCH_URL``) or passed explicitly.

Example:
    >>> s = Settings(opensearch_url="http://127.0.0.1:9200")
    >>> s.uses_embedded_node
    False
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OPENSEARCH_VERSION = "3.6.0"
"""The embedded node's default: the newest 3.x for which Maven Central serves the distribution,
k-NN and the plugins the reference node diffs against. ``2.19.6`` stays selectable."""


def is_3x(version: str) -> bool:
    """Whether an OpenSearch version is on the 3.x line (or newer).

    >>> is_3x("3.6.0"), is_3x("2.19.6")
    (True, False)
    """
    return int(version.split(".", 1)[0]) >= 3


def default_home() -> Path:
    """Where downloads, installs and node state live, outside any clone.

    Root's home is not readable by the unprivileged user the node runs as, so root uses
    ``/var/cache/neuralpipe``; everyone else ``$XDG_CACHE_HOME/neuralpipe``.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/neuralpipe")
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "neuralpipe"


def project_dir() -> Path:
    """The project's checkout (where ``pipelines/`` and ``mappings/`` are), whatever the CWD."""
    return Path(__file__).resolve().parents[1]


def default_pipelines_dir() -> Path:
    """``pipelines/`` of the current directory (as an absolute path), as a user's project has
    it; nothing inside the installed package (a wheel has no ``pipelines/``)."""
    return Path.cwd() / "pipelines"


class Settings(BaseSettings):
    """Connection and local-node settings."""

    model_config = SettingsConfigDict(env_prefix="NEURALPIPE_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="Cache and state directory.")
    opensearch_url: str | None = Field(
        default=None, description="An existing cluster; unset means the embedded local node."
    )
    opensearch_username: str | None = Field(default=None, description="Basic auth user.")
    opensearch_password: str | None = Field(default=None, description="Basic auth password.")
    opensearch_verify_certs: bool = Field(default=True, description="Verify TLS certificates.")
    opensearch_ca_certs: Path | None = Field(default=None, description="CA bundle for TLS.")
    opensearch_version: str = Field(
        default=OPENSEARCH_VERSION, description="Embedded node version."
    )
    reference_version: str = Field(
        default=OPENSEARCH_VERSION,
        description="OpenSearch version of the reference node (the real plugins).",
    )
    node_name: str = Field(default="default", description="Name of the embedded node's state dir.")
    node_heap: str = Field(
        default="",
        description="Embedded node JVM heap (-Xms/-Xmx); empty: 1g on 3.x (whose real-memory "
        "circuit breaker trips at 512m under bulk loads), 512m on 2.19.",
    )
    pipelines_dir: Path = Field(
        default_factory=default_pipelines_dir,
        description="Folder with ingest/, search/ and models/ bodies "
        "(NEURALPIPE_PIPELINES_DIR; default: pipelines/ of the current directory).",
    )
    node_port: int | None = Field(
        default=None, description="HTTP port; default 9200 or a free one."
    )
    model_artifacts_url: str | None = Field(
        default=None,
        description="Root of the pretrained model artifacts (`neuralpipe model fetch`); "
        "unset means OpenSearch's, https://artifacts.opensearch.org/models/ml-models.",
    )
    model_files_dir: Path | None = Field(
        default=None,
        description="The only directory the proxy's _register reads local model files from "
        "(default: <home>/models).",
    )

    @property
    def uses_embedded_node(self) -> bool:
        """True when no external cluster URL is configured."""
        return not self.opensearch_url
