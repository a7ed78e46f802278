"""The fault group's closing-note table: each scenario records its ledger (documents sent /
indexed / dead-lettered / lost / duplicated); the session writes them to
``<pytest basetemp>/faults-table.json`` (and ``$NEURALPIPE_FAULTS_TABLE`` when set) and prints
them as a Markdown table in the terminal summary."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

COLUMNS = ("sent", "indexed", "dead", "lost", "duplicated")
ROWS = pytest.StashKey[list[dict[str, object]]]()


class FaultTable:
    """Rows of the table, in the order the scenarios ran."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    def record(self, fault: str, figures: dict[str, int]) -> dict[str, int]:
        """Add one scenario's figures (a :func:`tests.faults.common.ledger` dict); returns them."""
        assert set(COLUMNS) <= set(figures), figures
        self.rows.append({"fault": fault, **{key: figures[key] for key in COLUMNS}})
        return figures


@pytest.fixture(scope="session")
def fault_table(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultTable]:
    rows = request.config.stash.setdefault(ROWS, [])
    yield FaultTable(rows)
    targets = [tmp_path_factory.getbasetemp() / "faults-table.json"]
    if os.environ.get("NEURALPIPE_FAULTS_TABLE"):
        targets.append(Path(os.environ["NEURALPIPE_FAULTS_TABLE"]))
    for target in targets:
        target.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def markdown(rows: list[dict[str, object]]) -> list[str]:
    """The table as Markdown lines."""
    head = "| fault | sent | indexed | dead-lettered | lost | duplicated |"
    lines = [head, "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row[key]) for key in ("fault", *COLUMNS)) + " |")
    return lines


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    rows = config.stash.get(ROWS, [])
    if rows:
        terminalreporter.section("fault table (documents)")
        for line in markdown(rows):
            terminalreporter.write_line(line)
