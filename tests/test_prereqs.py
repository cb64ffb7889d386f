"""`make demo` and `make test` on a machine that lacks a prerequisite stop before installing
anything, with one line naming the package that provides it (scripts/check-prereqs).

A missing program is simulated with a PATH that holds only the tools the case allows, in a
copy of the files make reads; a Debian/Ubuntu Python without python3-venv with a ``python3``
whose ``ensurepip`` is absent (Debian moves it into that package). Nothing is installed or
downloaded: each case stops at the check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What make reads to decide what to build; the check runs before any of it is used.
COPIED = (
    "Makefile",
    "scripts/check-prereqs",
    "pyproject.toml",
    "clients/python/pyproject.toml",
    "clients/web/package.json",
    "clients/web/package-lock.json",
)
BASE_TOOLS = ("sh", "make", "uname", "basename")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in COPIED:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    return repo


def tools(tmp_path: Path, *names: str, **fakes: str) -> Path:
    """A folder for PATH with links to the real ``names`` and shell scripts for ``fakes``."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in (*BASE_TOOLS, *names):
        real = shutil.which(name)
        assert real, name
        (folder / name).symlink_to(real)
    for name, body in fakes.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (folder / name).chmod(0o755)
    return folder


# A ``python3`` for PATH: this interpreter (3.11+, with venv and ensurepip).
REAL_PYTHON = f'exec "{sys.executable}" "$@"'


def run_make(repo: Path, path: Path, goal: str) -> subprocess.CompletedProcess[str]:
    # make itself is found by its absolute path: PATH is what the check sees.
    env = {"PATH": str(path), "HOME": str(repo), "LANG": "C.UTF-8"}
    return subprocess.run(
        [str(path / "make"), goal], cwd=repo, env=env, capture_output=True, text=True, timeout=60
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("ecabinet:")]
    others = [line for line in result.stderr.splitlines() if not line.startswith("ecabinet:")]
    assert len(ours) == 1, result.stderr
    # Only make's own "*** [Makefile:…: prereqs] Error 1" besides it: no pip, npm or traceback.
    assert all("prereqs] Error 1" in line for line in others), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return ours[0]


def nothing_installed(repo: Path) -> bool:
    return not (repo / ".venv").exists() and not (repo / "clients/web/node_modules").exists()


@pytest.mark.parametrize("goal", ["demo", "test"])
def test_without_npm_make_names_the_npm_package(tmp_path: Path, goal: str) -> None:
    repo = checkout(tmp_path)
    path = tools(tmp_path, python3=REAL_PYTHON)
    line = one_line(run_make(repo, path, goal))
    assert line.startswith("ecabinet: missing npm, ")
    assert line.endswith("(apt-get install npm)")
    assert nothing_installed(repo)


def test_without_python3_venv_make_names_the_python3_venv_package(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    shadow = tmp_path / "no-ensurepip" / "ensurepip"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ensurepip'\")\n", encoding="utf-8"
    )
    python = f'PYTHONPATH="{shadow.parent}" exec "{sys.executable}" "$@"'
    path = tools(tmp_path, python3=python, npm="echo 10.0.0", node="echo v20.19.0")
    line = one_line(run_make(repo, path, "demo"))
    assert line == "ecabinet: missing python3-venv, needed to create .venv " \
        "(apt-get install python3-venv)"
    assert nothing_installed(repo)


def test_an_old_python_is_named_with_the_way_to_a_newer_one(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    # Ubuntu 22.04's python3: 3.10 (what the check asks, answered as that Python would).
    old = 'case "$*" in *version_info*) exit 1 ;; *python_version*) echo 3.10.12 ;; esac'
    path = tools(tmp_path, python3=old, npm="echo 10.0.0")
    line = one_line(run_make(repo, path, "demo"))
    assert line.startswith("ecabinet: python3 is Python 3.10.12; ecabinet needs 3.11 or newer")
    assert "make demo PYTHON=python3.11" in line
    assert nothing_installed(repo)


def test_the_tests_need_a_node_that_runs_their_eslint(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    path = tools(tmp_path, python3=REAL_PYTHON, npm="echo 9.2.0",
                 node="echo v18.20.4")
    line = one_line(run_make(repo, path, "test"))
    assert line.startswith("ecabinet: Node.js 18.20.4 is too old for the tests' ESLint")
    assert "20.19 or newer" in line
    assert nothing_installed(repo)


def test_the_check_by_hand_names_make_too(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    path = tools(tmp_path, python3=REAL_PYTHON, npm="echo 10.0.0")
    (path / "make").unlink()
    result = subprocess.run(
        ["/bin/sh", "scripts/check-prereqs", "demo"], cwd=repo, capture_output=True, text=True,
        env={"PATH": str(path)}, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == "ecabinet: missing make (apt-get install make)\n"


def test_a_complete_machine_passes_the_check_silently() -> None:
    result = subprocess.run(
        ["/bin/sh", "scripts/check-prereqs", "demo"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHON": sys.executable}, timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
