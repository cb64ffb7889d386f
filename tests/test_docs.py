"""Documentation that tests keep honest: every setting is in the README's table, and the
architecture page names what the import contracts enforce."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ecabinet.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`ECABINET_{name.upper()}`" not in readme]
    assert missing == []


def test_readme_quick_start_names_the_two_make_targets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert f"\n{target}:" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _layers(contract_id: str) -> list[str]:
    contract = next(c for c in _contracts() if c["id"] == contract_id)
    return [str(layer) for layer in contract["layers"]]


def test_the_architecture_page_follows_the_contracts() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    capability_order = _layers("capabilities")
    assert f"Capability order: {' > '.join(capability_order)}\n" in page
    for layer in _layers("layers"):
        for module in layer.split(" | "):
            name = module.removeprefix("ecabinet.")
            assert f"`ecabinet/{name}/`" in page or f"`ecabinet/{name}.py`" in page, name
    for contract in _contracts():
        assert f"| `{contract['id']}` |" in page, contract["id"]
    # Every capability folder has its place in the order (a new one must be given one).
    folders = sorted(p.name for p in (ROOT / "ecabinet" / "services").iterdir()
                     if (p / "__init__.py").is_file())
    assert folders == sorted(c for layer in capability_order for c in layer.split(" | "))
