"""A home below a folder the node's user cannot enter is named before the node starts."""

from __future__ import annotations

from pathlib import Path

from processors.opensearch.node import closed_ancestor


def test_a_private_folder_above_the_home_is_found(tmp_path: Path) -> None:
    private = tmp_path / "private"
    home = private / "home" / "opensearch"
    home.mkdir(parents=True)
    private.chmod(0o700)
    assert closed_ancestor(home) == private
    private.chmod(0o755)
    assert closed_ancestor(home) != private
    assert closed_ancestor(Path("/usr/bin/env")) is None
