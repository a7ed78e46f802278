#!/usr/bin/env python3
"""neuralpipe vs the real ml-commons + neural-search plugins on the same inputs (issue #8).

Starts (or reuses) the main node and the reference node
(:mod:`processors.opensearch.reference`; the reference is stopped again at the end unless it
was already running or ``--keep``), registers the models there, runs every case of
:mod:`tests.differential.harness.cases` on both sides and prints the table. The main node gets a
temporary index, dropped at the end; it is left running.

    python scripts/verify_against_reference.py [--only predict,ingest,search,errors,search3,...]
                                               [--keep]
                                               [--json out.json]

Exit status: 0 when every difference is a known one (explained in the table), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from processors import Settings  # noqa: E402
from tests.differential.harness.cases import CATEGORIES  # noqa: E402
from tests.differential.harness.compare import table  # noqa: E402
from tests.differential.harness.run import run_against_reference  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CATEGORIES), help="comma-separated categories")
    parser.add_argument("--keep", action="store_true", help="leave the reference node running")
    parser.add_argument("--json", type=Path, help="also write every case here")
    args = parser.parse_args(argv)
    categories = tuple(c for c in args.only.split(",") if c)
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        parser.error(f"unknown categories {sorted(unknown)}; known: {', '.join(CATEGORIES)}")
    settings = Settings(pipelines_dir=REPO / "pipelines")
    cases = run_against_reference(settings, categories, keep=args.keep)
    print(table(cases))
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in cases], indent=2, ensure_ascii=False))
    return 1 if any(not c.identical and not c.known for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
