"""The layer rule of docs/architecture.md, read from the source: every import (function-level ones included)
points down the layers, and no two modules import each other, directly or through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"evonas": ROOT / "evonas", "evonas.kernels": ROOT / "kernels", "evonas.genomes": ROOT / "genomes"}

#: Modules of the foundation: they import nothing of the project, and every layer may import them. The package
#: files of evonas, genomes/ and kernels/ are here because importing any module in them runs them first.
FOUNDATION = {"evonas", "evonas.genomes", "evonas.kernels", "evonas.errors", "evonas.genomes.base", "evonas.genomes.ir",
              "evonas.genomes.program_ir"}
#: The front: commands, benchmarks, reports and exports; nothing below imports them.
FRONT_PREFIXES = ("evonas.cli", "evonas.__main__", "evonas.bench", "evonas.report", "evonas.export", "evonas.api", "evonas.run_view")
#: The one import that points up: the package's ``__getattr__`` loads the Python API (the front) on first use.
LAZY_API = ("evonas", "evonas.api")
LAYERS = ("foundation", "kernels", "genomes", "engine", "front")


def layer_of(module: str) -> int:
    """The layer of a module of the project, by its import name."""
    if module in FOUNDATION:
        return 0
    if module == "evonas.kernels" or module.startswith("evonas.kernels."):
        return 1
    if module == "evonas.genomes" or module.startswith("evonas.genomes."):
        return 2
    if any(module == p or module.startswith(p + ".") or module.startswith(p + "_") for p in FRONT_PREFIXES):
        return 4
    return 3


def project_modules() -> dict[str, str]:
    """Source of every module of the project by import name (a package by its ``__init__``)."""
    out = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path.read_text()
    return out


def imports_of(name: str, source: str, known: set[str], is_package: bool) -> set[str]:
    """The project modules ``name`` imports anywhere in its source (at module level or inside functions)."""
    found = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import mod`` imports the module pkg.mod where there is one, else names of pkg
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` of a name inside a module: the module
                target = target.rpartition(".")[0]
            # Importing a.b.c runs the packages a and a.b first: those count too, except the importer's own.
            while target and target != name:
                if not name.startswith(target + "."):
                    found.add(target)
                target = target.rpartition(".")[0]
                while target and target not in known:
                    target = target.rpartition(".")[0]
    return found


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    known = set(sources)
    return {name: imports_of(name, text, known, any(k.startswith(name + ".") for k in known) or name in FOLDERS)
            for name, text in sources.items()}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up the layers, and import cycles, as readable lines."""
    out = [f"{a} ({LAYERS[layer_of(a)]}) imports {b} ({LAYERS[layer_of(b)]})"
           for a, targets in sorted(graph.items()) for b in sorted(targets) if layer_of(b) > layer_of(a) and (a, b) != LAZY_API]
    out += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), each as a path that closes on itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group) + [sorted(group)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_imports_point_down_the_layers_and_never_in_a_cycle() -> None:
    """foundation <- kernels <- genomes <- engine <- front, function-level imports included; no cycles."""
    found = violations(import_graph(project_modules()))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("planted, expected", [
    ({"evonas.kernels.fast": "from evonas.genomes.neat import CODES\n", "evonas.genomes.neat": ""}, "evonas.kernels.fast (kernels) imports evonas.genomes.neat (genomes)"),
    ({"evonas.genomes.fam": "def f():\n    from evonas.run import Run\n", "evonas.run": ""}, "evonas.genomes.fam (genomes) imports evonas.run (engine)"),
    ({"evonas.a": "from evonas import b\n", "evonas.b": "def f():\n    import evonas.a\n"}, "import cycle: evonas.a -> evonas.b -> evonas.a"),
    ({"evonas.kernels.k": "from .neat_cpu import x\n", "evonas.kernels.neat_cpu": "from . import k\n"},
     "import cycle: evonas.kernels.k -> evonas.kernels.neat_cpu -> evonas.kernels.k"),
    ({"evonas.genomes.ir": "from evonas.genomes import base\n", "evonas.genomes.base": "", "evonas.genomes": ""}, None),
    ({"evonas.kernels.k": "from evonas.genomes.ir import CellIR\n", "evonas.genomes.ir": "", "evonas.genomes": "from . import neat\n",
      "evonas.genomes.neat": ""}, "evonas.genomes (foundation) imports evonas.genomes.neat (genomes)"),
])
def test_the_checker_finds_planted_violations(planted: dict[str, str], expected: str | None) -> None:
    """The checker itself: an upward import (also inside a function), a cycle through absolute or relative
    imports, a package whose ``__init__`` (run by importing any module in it) sits above the importer; a
    foundation module importing another is fine."""
    found = violations(import_graph(planted))
    assert found == ([expected] if expected else [])
