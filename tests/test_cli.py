from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ECABINET = [sys.executable, "-m", "ecabinet"]


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ECABINET, *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("args", [[], ["serve"], ["demo"], ["db", "upgrade"], ["user", "add"]])
def test_every_command_has_help(args: list[str]) -> None:
    result = run([*args, "--help"], {})
    assert result.returncode == 0
    assert "usage: ecabinet" in result.stdout


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        (
            {"ECABINET_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "ECABINET_DATABASE_URL",
        ),
        ({"ECABINET_DATABASE_URL": "::nonsense::"}, "ECABINET_DATABASE_URL"),
        ({"ECABINET_REDIS_URL": "redis://127.0.0.1:1/0"}, "ECABINET_REDIS_URL"),
    ],
)
def test_bad_settings_stop_start_up_with_one_clear_line(
    tmp_path: Path, env: dict[str, str], setting: str
) -> None:
    result = run(["serve"], {"ECABINET_DATA_DIR": str(tmp_path), **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ecabinet: configuration error: {setting}: ")
    assert "Traceback" not in result.stderr


def test_unwritable_data_folder_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = run(["serve"], {"ECABINET_DATA_DIR": str(tmp_path / "file" / "data")})
    assert result.returncode == 2
    assert result.stderr.startswith("ecabinet: configuration error: ECABINET_DATA_DIR: ")


@pytest.mark.slow
def test_db_upgrade_and_user_add(tmp_path: Path) -> None:
    env = {"ECABINET_DATA_DIR": str(tmp_path)}
    upgraded = run(["db", "upgrade"], env)
    assert upgraded.returncode == 0 and "database at revision" in upgraded.stdout
    added = run(
        ["user", "add", "thuky", "--full-name", "Trần Thị Bích Ngọc", "--password-stdin"],
        env,
        stdin="mat-khau-dai\n",
    )
    assert added.returncode == 0, added.stderr
    assert "Trần Thị Bích Ngọc" in added.stdout
    again = run(["user", "add", "thuky", "--password-stdin"], env, stdin="mat-khau-dai\n")
    assert again.returncode == 1 and "[username_taken]" in again.stderr


@pytest.mark.slow
def test_demo_serves_the_sample_and_a_delegate_can_sign_in(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*ECABINET, "demo", "--port", str(port)],
        env={**os.environ, "ECABINET_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            printed.append(line)
            if "Uvicorn running" in line or not line:
                break
        text = "".join(printed)
        password = re.search(r"password for every account\): (\S+)", text)
        assert password, text
        rows = re.findall(
            r"^(Quản trị|Chủ tọa|Thư ký|Đại biểu|Quan sát viên) \((\w+)\)\s+(\S+)", text, re.M
        )
        assert [r[1] for r in rows].count("delegate") == 10
        assert {r[1] for r in rows} == {"admin", "chair", "secretary", "delegate", "observer"}
        delegate = next(r[2] for r in rows if r[1] == "delegate")
        base = f"http://127.0.0.1:{port}"
        signin = httpx.post(
            f"{base}/api/auth/signin", json={"username": delegate, "password": password.group(1)}
        )
        assert signin.status_code == 200
        token = signin.json()["token"]
        meetings = httpx.get(f"{base}/api/meetings", headers={"authorization": f"Bearer {token}"})
        [meeting] = meetings.json()["meetings"]
        assert meeting["status"] == "published" and meeting["role"] == "delegate"
        assert "Ủy ban nhân dân tỉnh" in meeting["title"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def serve_until_started(env: dict[str, str]) -> str:
    """Start ``ecabinet serve`` on a free port, stop it once it serves; what it printed."""
    proc = subprocess.Popen(
        [*ECABINET, "serve", "--port", str(free_port())],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            printed.append(line)
            if "Uvicorn running" in line or not line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            printed.extend(proc.stdout.readlines())
            proc.stdout.close()
    return "".join(printed)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("program", "problem"),
    [("/nonexistent/soffice", "soffice_missing"), ("broken", "soffice_broken")],
)
def test_start_up_without_a_working_libreoffice_says_so_once(
    tmp_path: Path, program: str, problem: str
) -> None:
    if program == "broken":  # an ECABINET_SOFFICE that exists but does not run
        fake = tmp_path / "soffice"
        fake.write_text("#!/bin/sh\necho 'cannot open shared object' >&2\nexit 127\n")
        fake.chmod(0o755)
        program = str(fake)
    text = serve_until_started(
        {"ECABINET_DATA_DIR": str(tmp_path / "data"), "ECABINET_SOFFICE": program}
    )
    assert "Uvicorn running" in text, text
    said = [line for line in text.splitlines() if "conversion." in line]
    assert len(said) == 1, text
    [line] = said
    assert "warning" in line and "conversion.unavailable" in line
    assert f"problem={problem}" in line and program in line
    assert "apt-get install libreoffice-writer-nogui" in line and "ECABINET_SOFFICE" in line
    if problem == "soffice_broken":
        assert "cannot open shared object" in line
