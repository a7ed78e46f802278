"""Checks for the tools the local node needs: a suitable Java runtime and Maven.

Each OpenSearch line needs a Java of its own range: 2.19 runs on Java 11 to 23 (it relies on
the Java security manager, which Java 24 removed), 3.x needs Java 21 or newer. The machine's
default ``java`` is not assumed to fit: :func:`java_home` looks for one that does, in this
order, and uses the first in range:

1. ``OPENSEARCH_JAVA_HOME``, then ``JAVA_HOME`` (what the user chose);
2. the directories where Linux distributions and vendors install JDKs
   (``/usr/lib/jvm/*``, ``/usr/java/*``, ``/opt/java/*``, ``/opt/jdk*``, SDKMAN's and
   IntelliJ's per-user folders, macOS's ``/Library/Java/JavaVirtualMachines``), newest first;
3. the ``java`` on ``PATH``.

The JDK found is used only to run the node (its ``JAVA_HOME``), never exported.

Example:
    >>> java_range("3.6.0")
    (21, None)
    >>> java_range("2.19.6")
    (11, 23)
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from processors.errors import PrerequisiteError
from processors.settings import is_3x

_JDK_GLOBS = (
    "/usr/lib/jvm/*",
    "/usr/java/*",
    "/usr/local/java/*",
    "/opt/java/*",
    "/opt/jdk*",
    "/opt/openjdk*",
    "~/.sdkman/candidates/java/*",
    "~/.jdks/*",
    "/Library/Java/JavaVirtualMachines/*/Contents/Home",
)


def java_range(opensearch_version: str) -> tuple[int, int | None]:
    """The Java majors an OpenSearch version runs on: ``(lowest, highest or None)``."""
    return (21, None) if is_3x(opensearch_version) else (11, 23)


def _describe(low: int, high: int | None) -> str:
    return f"Java {low} or newer" if high is None else f"Java {low} to {high}"


def java_home(opensearch_version: str = "3.6.0") -> Path:
    """The Java installation to run OpenSearch ``opensearch_version`` with.

    Raises:
        PrerequisiteError: no JDK in range was found; the message says which versions were
            seen, what is needed and how to get it.
    """
    low, high = java_range(opensearch_version)
    seen: list[str] = []
    for home in _candidates():
        major = java_major(home / "bin" / "java")
        if major is None:
            continue
        seen.append(f"{home} (Java {major})")
        if major >= low and (high is None or major <= high):
            return home
    hint = (
        "Install one (Debian/Ubuntu: apt-get install openjdk-21-jdk-headless, or a Temurin 21+ "
        "JDK) and set JAVA_HOME to it; or run the 2.19 line, which runs on Java 17: "
        "--version 2.19.6 (NEURALPIPE_OPENSEARCH_VERSION=2.19.6)"
        if high is None
        else "Install a JDK 17 or 21 (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) "
        "and set JAVA_HOME to it"
    )
    found = "; found: " + ", ".join(seen) if seen else "; no Java was found"
    raise PrerequisiteError(
        f"OpenSearch {opensearch_version} needs {_describe(low, high)}{found}. {hint}"
    )


def _candidates() -> Iterator[Path]:
    emitted: set[Path] = set()
    for name in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(name)
        if value:
            yield from _once(Path(value), emitted)
    scanned: list[tuple[int, Path]] = []
    for pattern in _JDK_GLOBS:
        base = Path(pattern).expanduser()
        for home in sorted(Path(base.anchor).glob(str(base.relative_to(base.anchor)))):
            major = java_major(home / "bin" / "java")
            if major is not None:
                scanned.append((major, home))
    for _, home in sorted(scanned, key=lambda item: -item[0]):
        yield from _once(home, emitted)
    on_path = shutil.which("java")
    if on_path:
        yield from _once(Path(on_path).resolve().parent.parent, emitted)


def _once(home: Path, emitted: set[Path]) -> Iterator[Path]:
    key = home.resolve() if home.exists() else home
    if key not in emitted:
        emitted.add(key)
        yield home


@functools.lru_cache(maxsize=64)
def java_major(java: Path) -> int | None:
    """The major version of a ``java`` executable, or None when it is not one that runs.

    >>> java_major(Path("/nonexistent/bin/java")) is None
    True
    """
    if not java.is_file():
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def maven() -> str:
    """The ``mvn`` executable, or a clear error saying how to get it."""
    found = shutil.which("mvn")
    if not found:
        raise PrerequisiteError(
            "Maven (mvn) not found: it downloads OpenSearch from Maven Central. "
            "Install it (Debian: apt-get install maven) or point --url at an existing cluster"
        )
    return found
