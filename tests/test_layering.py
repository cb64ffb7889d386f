"""The domain and the PDF pipeline stay free of I/O frameworks (shared/STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ecabinet"
FORBIDDEN = {
    "domain": {
        "starlette",
        "socketio",
        "engineio",
        "sqlmodel",
        "sqlalchemy",
        "redis",
        "asyncio",
        "ecabinet.web",
        "ecabinet.realtime",
        "ecabinet.storage",
        "ecabinet.services",
    },
    "pdf": {
        "starlette",
        "socketio",
        "engineio",
        "sqlmodel",
        "sqlalchemy",
        "redis",
        "ecabinet.web",
        "ecabinet.realtime",
        "ecabinet.storage",
        "ecabinet.services",
    },
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_part_imports_no_framework(part: str) -> None:
    files = sorted((PACKAGE / part).rglob("*.py"))
    assert files, f"ecabinet/{part} has no modules"
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[part])
    ]
    assert offences == []
