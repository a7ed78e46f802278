"""Sourcing scripts/bootstrap.sh leaves the caller's shell options as they were, whether the
virtualenv step fails or succeeds (a stand-in Python makes a fake virtualenv, so no download)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_PYTHON = """#!/usr/bin/env bash
# python3, except that `-m venv DIR` makes a virtualenv whose pip exits with $FAKE_PIP_RC
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"; printf '#!/bin/sh\\nexit %s\\n' "$FAKE_PIP_RC" > "$3/bin/pip"
  chmod +x "$3/bin/pip"; exit 0
fi
exec python3 "$@"
"""
# An interactive user's shell: no errexit, nounset or pipefail. Print the options after sourcing.
SOURCE = """set +euo pipefail
source "$REPO/scripts/bootstrap.sh"; rc=$?
echo "rc=$rc flags=$- pipefail=$(set -o | awk '$1 == "pipefail" {print $2}')"
echo "path=$PATH"
"""


def _source(tmp_path: Path, pip_rc: int) -> str:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "REPO": str(REPO),
        "PYTHON": str(python),
        "FAKE_PIP_RC": str(pip_rc),
        "NEURALPIPE_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        ["bash", "-c", SOURCE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout + done.stderr


def test_a_failed_install_returns_1_and_leaves_the_shell_options(tmp_path: Path) -> None:
    out = _source(tmp_path, pip_rc=3)
    assert "rc=1 " in out and "creating the virtualenv failed" in out
    flags = out.split("flags=", 1)[1].split()[0]
    assert "e" not in flags and "u" not in flags and "pipefail=off" in out


def test_a_good_install_puts_the_venv_on_path_and_leaves_the_shell_options(
    tmp_path: Path,
) -> None:
    out = _source(tmp_path, pip_rc=0)
    assert "rc=0 " in out, out
    flags = out.split("flags=", 1)[1].split()[0]
    assert "e" not in flags and "u" not in flags and "pipefail=off" in out
    venvs = list((tmp_path / "home" / "venv").iterdir())
    assert len(venvs) == 1 and (venvs[0] / ".complete").is_file()
    assert out.split("path=", 1)[1].startswith(f"{venvs[0]}/bin:")
