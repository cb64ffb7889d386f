"""ecabinet.pdf stays pure document processing: no web, socket, database or Redis imports."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import ecabinet.pdf

PACKAGE = Path(ecabinet.pdf.__file__).parent
FORBIDDEN = ("starlette", "socketio", "engineio", "sqlmodel", "sqlalchemy", "redis", "uvicorn")
FORBIDDEN_OWN = ("ecabinet.web", "ecabinet.realtime", "ecabinet.storage", "ecabinet.services")


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_a_forbidden_package() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 10
    for module in modules:
        for name in imported_names(module):
            root = name.split(".")[0]
            assert root not in FORBIDDEN, (module.name, name)
            assert not name.startswith(FORBIDDEN_OWN), (module.name, name)


def test_importing_everything_loads_none_of_them() -> None:
    # A fresh interpreter: the test run itself may have loaded them for other tests.
    names = [
        f"ecabinet.pdf.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parents[1],
    )
    loaded = json.loads(result.stdout)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN_OWN)]
    assert bad == []
