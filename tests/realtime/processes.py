"""Real server processes for the scale-out tests: ``python -m ecabinet serve`` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from tests.conftest import free_port
from tests.waiting import wait_healthy

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """One ``ecabinet serve`` process; its output goes to a log file shown when it fails."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self._env = {**os.environ, **env, "ECABINET_HOST": "127.0.0.1"}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecabinet", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        assert self.proc is not None
        wait_healthy(self.proc, self.url, self.name, self.output, timeout=timeout)

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
