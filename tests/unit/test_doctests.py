"""The ``>>>`` examples of the package's modules run, so they stay true (as
``pytest --doctest-modules processors`` would run them, inside the normal unit run).

Every module of the package is imported (the unit run has every extra installed), one test per
module. Examples that need a node, a client or files mark themselves ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import processors

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(processors.__path__, "processors.")
    if ".workbench" not in info.name
)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_walk_sees_the_examples() -> None:
    """Guard against a walk that silently finds nothing (most modules carry examples)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    with_examples = [
        name
        for name in MODULES
        if any(t.examples for t in finder.find(importlib.import_module(name)))
    ]
    assert len(MODULES) > 100 and len(with_examples) > 100
