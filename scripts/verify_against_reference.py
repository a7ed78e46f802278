#!/usr/bin/env python3
"""neuralpipe vs the real ml-commons + neural-search plugins on the same inputs (issue #8 §2).

Starts the reference node (``scripts/differential/reference_node.py``; stopped again at the
end unless it was already running or ``--keep``), registers the models there, runs every case
of :mod:`processors.differential.cases` on both sides and prints the table. The main node
(port 9200) must be running; it gets a temporary index, dropped at the end.

    python scripts/verify_against_reference.py [--only predict,ingest,search,errors] [--keep]
                                               [--json out.json]

Exit status: 0 when every difference is a known one (explained in the table), 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from processors.differential.cases import MODELS, Sides, run_all  # noqa: E402
from processors.differential.compare import table  # noqa: E402

CATEGORIES = ("predict", "ingest", "search", "errors")


def reference_module() -> ModuleType:
    name = "neuralpipe_reference_node"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, REPO / "scripts" / "differential" / "reference_node.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CATEGORIES),
                        help="comma-separated categories")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="leave the reference node running")
    parser.add_argument("--json", type=Path, help="also write every case here")
    args = parser.parse_args(argv)
    categories = tuple(c for c in args.only.split(",") if c)
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        parser.error(f"unknown categories {sorted(unknown)}; known: {', '.join(CATEGORIES)}")
    reference = reference_module().ReferenceNode()
    was_running = bool(reference.node.running())
    info = reference.start()
    try:
        ids = {model: reference.register(model) for model in MODELS}
        cases = run_all(Sides(info.url, ids), categories)
    finally:
        if not was_running and not args.keep:
            reference.stop()
    print(table(cases))
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in cases], indent=2, ensure_ascii=False))
    return 1 if any(not c.identical and not c.known for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
