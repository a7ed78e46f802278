"""Checks for the tools the local node needs: a Java runtime and Maven."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from processors.errors import PrerequisiteError

MIN_JAVA = 11


def java_home() -> Path:
    """The Java installation the node will use (``JAVA_HOME`` or the ``java`` on PATH)."""
    env = os.environ.get("OPENSEARCH_JAVA_HOME") or os.environ.get("JAVA_HOME")
    if env and (Path(env) / "bin" / "java").exists():
        home = Path(env)
    else:
        found = shutil.which("java")
        if not found:
            raise PrerequisiteError(
                "Java not found: install a JDK 11, 17 or 21 (Debian: apt-get install "
                "openjdk-17-jre-headless) or set JAVA_HOME"
            )
        home = Path(found).resolve().parent.parent
    _check_java_version(home / "bin" / "java")
    return home


def _check_java_version(java: Path) -> None:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise PrerequisiteError(f"could not read the version of {java}: {out.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise PrerequisiteError(f"{java} is Java {major}; OpenSearch 2.19 needs Java 11 or newer")


def maven() -> str:
    """The ``mvn`` executable, or a clear error saying how to get it."""
    found = shutil.which("mvn")
    if not found:
        raise PrerequisiteError(
            "Maven (mvn) not found: it downloads OpenSearch from Maven Central. "
            "Install it (Debian: apt-get install maven) or point --url at an existing cluster"
        )
    return found
