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

OPENSEARCH_VERSION = "2.19.6"
"""The newest 2.19.x for which Maven Central has both the minimal distribution and k-NN."""


def default_home() -> Path:
    """Where downloads, installs and node state live, outside any clone.

    Root's home is not readable by the unprivileged user the node runs as, so root uses
    ``/var/cache/neuralpipe``; everyone else ``$XDG_CACHE_HOME/neuralpipe``.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/neuralpipe")
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "neuralpipe"


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
    node_name: str = Field(default="default", description="Name of the embedded node's state dir.")
    node_heap: str = Field(default="512m", description="Embedded node JVM heap (-Xms/-Xmx).")
    pipelines_dir: Path = Field(
        default=Path("pipelines"), description="Folder with ingest/, search/ and models/ bodies."
    )
    node_port: int | None = Field(
        default=None, description="HTTP port; default 9200 or a free one."
    )
    model_artifacts_url: str | None = Field(
        default=None,
        description="Root of the pretrained model artifacts (`neuralpipe model fetch`); "
        "unset means OpenSearch's, https://artifacts.opensearch.org/models/ml-models.",
    )

    @property
    def uses_embedded_node(self) -> bool:
        """True when no external cluster URL is configured."""
        return not self.opensearch_url
