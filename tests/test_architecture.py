"""The architecture, machine-checked: import-linter's contracts (pyproject.toml), no import
cycle between any two modules (counting imports inside functions and under TYPE_CHECKING), and
the pure parts' contracts checked once more at run time, through third-party code."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over every module of the package; components of two or more modules
    are cycles (a module importing itself is not counted)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def imported(module: str) -> Iterator[str]:
        return iter(sorted(graph.find_modules_directly_imported_by(module)))

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, imported(start))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c.startswith("ecabinet")), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, imported(child)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    for module in sorted(graph.modules):
        if module.startswith("ecabinet") and module not in index:
            visit(module)
    return components


def test_no_module_takes_part_in_an_import_cycle() -> None:
    graph = grimp.build_graph("ecabinet", cache_dir=None)
    assert strongly_connected(graph) == []


def _pure_contracts() -> list[dict[str, Any]]:
    """The forbidden contracts that count indirect imports too (the domain's, pdf/'s)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "forbidden" and not c.get("allow_indirect_imports", False)
    ]


@pytest.mark.parametrize("contract", _pure_contracts(), ids=lambda c: str(c["id"]))
def test_a_pure_part_loads_no_forbidden_module_at_run_time(contract: dict[str, Any]) -> None:
    # import-linter sees ecabinet's own imports only: a third-party library that a pure part uses
    # could still pull a framework in. A fresh interpreter (the test run has loaded everything)
    # imports every module of the part and lists what got loaded.
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"for source in {contract['source_modules']!r}:\n"
        "    package = importlib.import_module(source)\n"
        "    for info in pkgutil.walk_packages(package.__path__, source + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert len([m for m in loaded if m.startswith(tuple(contract["source_modules"]))]) > 3
    forbidden = contract["forbidden_modules"]
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)] == []
