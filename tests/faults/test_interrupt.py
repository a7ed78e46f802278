"""Ctrl-C in the middle of a real-model bulk run: exit 130, no traceback, no abort from a model
thread left running; ``--resume`` then indexes the rest, nothing lost or duplicated."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from processors.opensearch.indices import create_index, load_mapping
from tests.faults.common import ledger, write_jsonl
from tests.faults.conftest import FaultTable

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
NEURALPIPE = Path(sys.executable).parent / "neuralpipe"


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_cleanly_and_resume_finishes(
    client: Any, index_name: str, opensearch_url: str, tmp_path: Path, fault_table: FaultTable
) -> None:
    create_index(client, index_name, load_mapping(REPO / "mappings/dense.json"), embedded=True)
    docs = [{"_id": f"i{i}", "text": f"interrupted run document {i} " + "lift and drag " * 12}
            for i in range(1000)]  # fmt: skip
    corpus, cp = write_jsonl(tmp_path / "c.jsonl", docs), tmp_path / "cp.json"
    command = [str(NEURALPIPE), "--url", opensearch_url, "index", "bulk", index_name,
               str(corpus), "--pipeline", "minilm-dense-int8", "--no-progress",
               "--checkpoint", str(cp), "--token-budget", "1500", "--batch-size", "50"]  # fmt: skip
    # bulks of 50: the checkpoint settles long before the run ends, leaving a run to interrupt;
    # the child gets SIGINT's default action: a suite started in the background of a
    # non-interactive shell (`bash scripts/test.sh &`) inherits SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler, so the run would ignore the Ctrl-C and exit 0
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=_sigint_default)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if cp.exists() and json.loads(cp.read_text())["settled"] > 0:
            break
        time.sleep(0.1)
    assert child.poll() is None, "the run ended before it could be interrupted"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err and "terminate called" not in err
    settled = json.loads(cp.read_text())["settled"]
    assert 0 < settled < len(docs)
    resumed = subprocess.run([*command, "--resume"], cwd=REPO, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["resumed_from"] == settled
    found = fault_table.record(
        "Ctrl-C in a MiniLM int8 bulk run, then --resume", ledger(client, index_name, docs)
    )
    assert found == {"sent": 1000, "indexed": 1000, "dead": 0, "lost": 0, "duplicated": 0}
