"""A home below a folder the node's user cannot enter is named before the node starts."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_the_node_runs_in_its_users_group_not_roots(tmp_path: Path) -> None:
    """Run as root, the node gets its user's group and no supplementary groups: with root's
    group kept, a root-owned folder of mode 0701 (what ``mktemp -d`` + ``chmod o+x`` gives)
    shut the node out although ``closed_ancestor`` found nothing to name."""
    import os
    import shutil
    import subprocess
    import tempfile

    from processors.opensearch import node

    if os.geteuid() != 0:
        assert node._as_node_user() == {}
        return
    node._ensure_node_user()
    assert node._as_node_user() == {"user": node.NODE_USER, "group": node.NODE_USER,
                                     "extra_groups": []}  # fmt: skip
    folder = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's own temp folders are 0700
    try:
        folder.chmod(0o701)
        script = folder / "launcher"
        script.write_text("#!/bin/sh\nid -gn\n")
        script.chmod(0o755)
        assert closed_ancestor(script) is None
        done = subprocess.run([str(script)], capture_output=True, text=True, check=True,
                              **node._as_node_user())  # fmt: skip
        assert done.stdout.strip() == node.NODE_USER
        with pytest.raises(PermissionError):  # root's group kept: what the option prevents
            subprocess.run([str(script)], capture_output=True, check=False, user=node.NODE_USER)
    finally:
        shutil.rmtree(folder)
