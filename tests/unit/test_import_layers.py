"""The allowed direction of imports between the packages of ``processors`` (a small AST check).

Every ``import`` / ``from ... import`` in every module counts, the ones inside functions and
``TYPE_CHECKING`` blocks too: a lazy import is still a dependency. A package may import only
packages of a lower layer (or itself); packages in the same layer are independent of each other.
A new package has to be placed in ``LAYERS`` before its first import is allowed.
"""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from pathlib import Path

import processors

ROOT = Path(processors.__file__).resolve().parent

LAYERS: list[set[str]] = [
    {"processors"},  # the package's own __init__: the public API, may name anything
    {"cli"},
    {"testing"},
    {"evaluation", "proxy"},
    {"indexing"},
    {"pipeline"},
    {"config"},
    {"search", "semantic"},
    {"ingest"},
    {"models.build", "opensearch"},
    {"models.mlcommons"},
    {"models"},  # the model runtime
    {"bodies", "datasets", "registry", "neural_stats"},
    {"compat"},  # Java / OpenSearch semantics: text, numbers, ConfigurationUtils readers
    {"errors", "settings"},
]
"""Top to bottom. ``models.mlcommons`` and ``models.build`` are their own units: the runtime
(``processors.models``) must not import the registry or the build tools."""

SUBPACKAGES = ("models.mlcommons", "models.build")


def unit_of(module: str) -> str:
    """``processors.models.mlcommons.errors`` -> ``models.mlcommons``; ``processors.x.y`` -> ``x``."""
    parts = module.split(".")
    if parts == ["processors"]:
        return "processors"
    rest = ".".join(parts[1:])
    for sub in SUBPACKAGES:
        if rest == sub or rest.startswith(sub + "."):
            return sub
    return parts[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                names.add(node.module)
    return names


def dependencies() -> dict[str, dict[str, list[str]]]:
    """``unit -> {imported unit: [files]}`` across ``processors``."""
    deps: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        src = unit_of(module_name(path))
        for name in imported(path):
            top = name.split(".")[0]
            if top == "tests":
                deps[src]["tests"].append(str(path.relative_to(ROOT.parent)))
            if top != "processors":
                continue
            dst = unit_of(name)
            if dst != src:
                deps[src][dst].append(str(path.relative_to(ROOT.parent)))
    return deps


def test_every_unit_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    found = {unit_of(module_name(p)) for p in ROOT.rglob("*.py")}
    assert found - placed == set(), "place the new package(s) in LAYERS"


def test_imports_only_go_down() -> None:
    level = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    wrong = [
        f"{src} -> {dst} ({', '.join(sorted(set(files)))})"
        for src, targets in dependencies().items()
        for dst, files in targets.items()
        if dst == "tests" or level[dst] <= level[src]
    ]
    assert wrong == []


def test_no_import_cycle_between_packages() -> None:
    graph = {src: set(targets) for src, targets in dependencies().items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())  # CycleError on a cycle
    assert "errors" in order


def test_the_check_sees_lazy_imports() -> None:
    """A function-level import counts (``config.cross_checks`` reads mappings lazily)."""
    assert "opensearch" in dependencies()["config"]
    assert unit_of("processors.models.mlcommons.errors") == "models.mlcommons"
    assert unit_of("processors.models.loader") == "models"
