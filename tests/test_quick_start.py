"""The README's quick start, as a newcomer runs it: a fresh clone of this repository's HEAD,
`make demo` (which makes its own, fresh .venv and installs with pip and npm), then a delegate
signs in with what it printed. The printed sign-in details must be the README's, word for word
(only the random password and the port differ).

pip's and npm's download caches are reused (they only save downloads); nothing else of this
checkout is: not its .venv, not its node_modules, not its data folder.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.waiting import wait_healthy

ROOT = Path(__file__).resolve().parent.parent
README_BLOCK = re.compile(r"<!-- demo-output:[^\n]*-->\n```text\n(.*?)```\n", re.S)
# pip installs every dependency, then the sample's 10 documents are generated and rendered.
STARTUP = 900


def newcomer_env(port: int) -> dict[str, str]:
    """This environment without anything that points into the checkout or configures ecabinet
    (a newcomer has neither), serving on a free port."""
    venv = str(ROOT / ".venv")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(venv)]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ECABINET_", "VIRTUAL_ENV", "PYTHON", "PYTEST", "MAKE", "MFLAGS"))}
    return {**env, "PATH": os.pathsep.join(path), "ECABINET_PORT": str(port)}


def stop(proc: subprocess.Popen[bytes]) -> None:
    # make runs the server as its child: end the whole group it leads.
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
@pytest.mark.timeout(STARTUP + 120)
def test_the_readme_quick_start_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "ecabinet"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    readme = (clone / "README.md").read_text(encoding="utf-8")
    quick_start = readme[readme.index("## Quick start"):readme.index("## Configuration")]
    assert "make demo" in quick_start and "sudo apt-get install python3 python3-venv npm make" \
        in quick_start
    [expected] = README_BLOCK.findall(quick_start)

    port = free_port()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            ["make", "demo"], cwd=clone, env=newcomer_env(port), stdin=subprocess.DEVNULL,
            stdout=stdout, stderr=stderr, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def output() -> str:
        return (out.read_text(encoding="utf-8", errors="replace")
                + err.read_text(encoding="utf-8", errors="replace")[-3000:])

    try:
        # A second between looks: it installs for minutes, and the other worker needs the core.
        wait_healthy(proc, base, "make demo", output, timeout=STARTUP, interval=1)
        printed = out.read_text(encoding="utf-8")
        elapsed = time.monotonic() - started
        print(f"make demo served a fresh clone after {elapsed:.0f} s")

        assert (clone / ".venv" / "bin" / "ecabinet").exists()  # its own environment
        password = re.search(r"password for every account\): (\S+)", printed)
        assert password, printed
        shown = re.search(r"password for every account\): (\S+)", expected)
        assert shown
        # Word for word, but for the random password and the port.
        expected = expected.replace(shown.group(1), password.group(1))
        expected = expected.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        assert expected in printed, printed

        delegate = re.search(r"^Đại biểu \(delegate\)\s+(\S+)", printed, re.M)
        assert delegate
        signin = httpx.post(f"{base}/api/auth/signin", timeout=30,
                            json={"username": delegate.group(1), "password": password.group(1)})
        assert signin.status_code == 200, signin.text
        headers = {"authorization": f"Bearer {signin.json()['token']}"}
        [meeting] = httpx.get(f"{base}/api/meetings", headers=headers).json()["meetings"]
        assert meeting["status"] == "published" and meeting["role"] == "delegate"
        page = httpx.get(f"{base}/signin")
        assert page.status_code == 200 and "noto-sans" in page.text
        font = httpx.get(f"{base}/static/vendor/noto-sans/files/"
                         "noto-sans-vietnamese-wght-normal.woff2")
        assert font.status_code == 200 and font.content[:4] == b"wOF2"  # from npm ci
    finally:
        stop(proc)
