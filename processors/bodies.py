"""Request bodies kept in files: JSON, or YAML (a superset of JSON).

Pipeline bodies (:mod:`processors.config`) and index bodies (:mod:`processors.opensearch.indices`)
are both read here, so neither package needs the other for it.

Example:
    >>> read_body(Path("no/such/file.yaml"))
    Traceback (most recent call last):
    ...
    processors.errors.ConfigError: no/such/file.yaml: cannot read: No such file or directory
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from processors.errors import ConfigError


def read_body(path: Path) -> Any:
    """YAML or JSON (YAML is a superset); a ConfigError naming the file if unreadable."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
