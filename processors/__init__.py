"""neuralpipe: OpenSearch's neural-search and ml-commons behaviour, run in Python.

The package is named ``processors``; the distribution and the command are ``neuralpipe``.
Importing it loads no model runtime (no torch, no onnxruntime).
"""

from __future__ import annotations

from processors.errors import (
    ConfigError,
    ModelError,
    NeuralpipeError,
    NodeError,
    ProcessorRuntimeError,
)
from processors.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ModelError",
    "NeuralpipeError",
    "NodeError",
    "ProcessorRuntimeError",
    "Settings",
    "__version__",
]
