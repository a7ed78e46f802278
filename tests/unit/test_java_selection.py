"""Which JDK runs which OpenSearch line (processors.opensearch.prereqs), on fake JDK trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.errors import PrerequisiteError
from processors.opensearch import prereqs
from processors.opensearch.prereqs import java_home, java_major, java_range


def fake_jdk(root: Path, name: str, version: str) -> Path:
    """A directory whose bin/java prints ``version`` the way a real JDK does."""
    home = root / name
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    return home


@pytest.fixture
def jdks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only the fake JDKs are visible: no JAVA_HOME, no java on PATH, one scan directory."""
    java_major.cache_clear()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("OPENSEARCH_JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(prereqs, "_JDK_GLOBS", (str(tmp_path / "jvm" / "*"),))
    return tmp_path / "jvm"


def test_ranges_per_line() -> None:
    assert java_range("3.6.0") == (21, None)
    assert java_range("2.19.6") == (11, 23)


def test_3x_takes_the_newest_jdk_and_2_19_one_before_the_security_manager_went(
    jdks: Path,
) -> None:
    fake_jdk(jdks, "java-17", "17.0.15")
    newest = fake_jdk(jdks, "temurin-25", "25.0.1")
    assert java_home("3.6.0") == newest
    assert java_home("2.19.6") == jdks / "java-17"  # 25 has no security manager any more
    fake_jdk(jdks, "java-21", "21.0.4")
    assert java_home("2.19.6") == jdks / "java-21"  # the newest in range


def test_java_home_first_when_in_range_else_scanned(
    jdks: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_jdk(jdks, "temurin-25", "25.0.1")
    chosen = fake_jdk(tmp_path / "mine", "jdk-21", "21.0.2")
    monkeypatch.setenv("JAVA_HOME", str(chosen))
    assert java_home("3.6.0") == chosen
    too_old = fake_jdk(tmp_path / "mine", "jdk-17", "17.0.1")
    monkeypatch.setenv("JAVA_HOME", str(too_old))
    assert java_home("3.6.0") == jdks / "temurin-25"  # JAVA_HOME too old: not used for 3.x
    assert java_home("2.19.6") == too_old


def test_no_suitable_jdk_names_the_need_and_the_2_19_way_out(jdks: Path) -> None:
    fake_jdk(jdks, "java-17", "17.0.15")
    with pytest.raises(PrerequisiteError) as err:
        java_home("3.6.0")
    message = str(err.value)
    assert "OpenSearch 3.6.0 needs Java 21 or newer" in message
    assert "java-17 (Java 17)" in message
    assert "--version 2.19.6" in message and "JAVA_HOME" in message


def test_legacy_version_strings(jdks: Path) -> None:
    fake_jdk(jdks, "java-8", "1.8.0_402")
    assert java_major(jdks / "java-8" / "bin" / "java") == 8
    with pytest.raises(PrerequisiteError, match=r"found: .*java-8 \(Java 8\)"):
        java_home("2.19.6")


def test_the_cli_offers_both_lines_and_refuses_others(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from processors.cli.main import cli

    refused = CliRunner().invoke(cli, ["--home", str(tmp_path), "opensearch", "logs",
                                       "--version", "2.11.0"])  # fmt: skip
    assert refused.exit_code == 2 and "'3.6.0', '2.19.6'" in refused.output
    # a 2.19.6 node has its own state directory: nothing runs there, so no log lines
    ok = CliRunner().invoke(cli, ["--home", str(tmp_path), "opensearch", "logs", "--version",
                                  "2.19.6"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
