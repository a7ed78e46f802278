"""Differential tests: the real ml-commons + neural-search plugins on a second (reference) node.

They install about 1.5 GB (plugins, PyTorch natives) and start a second node with a 1 GB heap,
so they are deselected by default (pyproject's ``addopts`` has ``-m "not differential"``) and run
with ``bash scripts/test.sh -m differential``. The node is stopped after the session unless it
was already running or ``NEURALPIPE_KEEP_NODE`` is set.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_reference_module() -> ModuleType:
    """``scripts/differential/reference_node.py`` (scripts/ is not a package)."""
    name = "neuralpipe_reference_node"
    if name in sys.modules:
        return sys.modules[name]
    path = REPO / "scripts" / "differential" / "reference_node.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def reference() -> Iterator[Any]:
    """The started reference node (a ``ReferenceNode``)."""
    node = load_reference_module().ReferenceNode()
    already = node.node.running()
    node.start()
    yield node
    if not already and not os.environ.get("NEURALPIPE_KEEP_NODE"):
        node.stop()
