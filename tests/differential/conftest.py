"""Differential tests: the real ml-commons + neural-search plugins on a second (reference) node.

They install about 1.5 GB (plugins, PyTorch natives) and start a second node with a 1 GB heap,
so they are deselected by default (pyproject's ``addopts`` has ``-m "not differential"``) and run
with ``bash scripts/test.sh -m differential``. The node is stopped after the session unless it
was already running or ``NEURALPIPE_KEEP_NODE`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from processors.opensearch.reference import ReferenceNode
from processors.settings import Settings


@pytest.fixture(scope="session")
def reference() -> Iterator[ReferenceNode]:
    """The started reference node."""
    node = ReferenceNode.from_settings(Settings())
    already = node.running()
    node.start()
    yield node
    if not already and not os.environ.get("NEURALPIPE_KEEP_NODE"):
        node.stop()
