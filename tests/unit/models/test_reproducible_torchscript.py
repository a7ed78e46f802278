"""The same module traced from two clones (different source paths) gives the same TorchScript
bytes after :func:`make_reproducible`, and ``torch.jit.load`` still runs it. Without it the
bytes differ (``.debug_pkl`` quotes the absolute source paths), so this test can fail."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MODULE = """
import torch

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, features: dict):
        return {"output": self.linear(features["input_ids"]).relu()}
"""
TRACE = """
import importlib.util, sys, warnings
from pathlib import Path
import torch
from processors.models.build.export import make_reproducible
warnings.simplefilter("ignore")
example = ({"input_ids": torch.ones(2, 4)},)
folder = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("tiny", folder / "tiny.py")
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)
for name in ("raw", "model"):
    out = folder / f"{name}.pt"
    torch.jit.trace(tiny.Tiny().eval(), example_inputs=example, strict=False).save(str(out))
    if name == "model":
        make_reproducible(out)
print(torch.jit.load(str(folder / "model.pt"))({"input_ids": torch.ones(1, 4)}))
"""


def test_two_clones_trace_the_same_bytes(tmp_path: Path) -> None:
    # one process per clone, as on two machines (in one process TorchScript would mangle the
    # second class's name); run side by side
    clones = [tmp_path / "clone-a", tmp_path / "elsewhere" / "clone-b"]
    runs = []
    for clone in clones:
        clone.mkdir(parents=True)
        (clone / "tiny.py").write_text(MODULE)
        runs.append(
            subprocess.Popen(
                [sys.executable, "-c", TRACE, str(clone)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        outputs.append(out)
    raw_a, raw_b = ((c / "raw.pt").read_bytes() for c in clones)
    model_a, model_b = ((c / "model.pt").read_bytes() for c in clones)
    assert hashlib.sha256(raw_a).digest() != hashlib.sha256(raw_b).digest()
    assert model_a == model_b
    assert outputs[0] == outputs[1] and "output" in outputs[0]
    with zipfile.ZipFile(clones[0] / "model.pt") as zf:
        names = zf.namelist()
    assert not [n for n in names if n.endswith(".debug_pkl")]
    assert any(n.endswith("/.data/serialization_id") for n in names)
