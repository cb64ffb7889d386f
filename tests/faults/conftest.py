"""What the fault tests share: ``ecabinet serve`` processes they may kill, private Redis and
PostgreSQL servers they may stop, and a meeting prepared in the database a server will use."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from ecabinet.app import open_database
from ecabinet.core.settings import Settings
from tests.conftest import PASSWORD, create_room, free_port
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.waiting import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-tests-secret-key-0123456789"


class Server:
    """One ``python -m ecabinet serve`` process on a free port; SIGKILL-able, restartable."""

    def __init__(self, name: str, log_dir: Path, env: dict[str, str],
                 preexec: Callable[[], None] | None = None) -> None:
        self.name = name
        self.log_dir = log_dir
        self.env = {**os.environ, "ECABINET_HOST": "127.0.0.1", "ECABINET_SECRET_KEY": SECRET,
                    "ECABINET_RENDER_WORKERS": "1", "ECABINET_LOG_JSON": "false", **env}
        self.preexec = preexec
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, timeout: float = 60) -> Server:
        self.starts += 1
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecabinet", "serve", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,  # only sets a resource limit (the disk-full test)
        )
        wait_healthy(self.proc, self.url, self.name, self.output, timeout=timeout)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, connections cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]


def prepare(data_dir: Path, database_url: str | None = None,
            build: Callable[[Any], dict[str, Any]] = create_room) -> dict[str, Any]:
    """Migrate the database a server will use and write the room's meeting into it."""
    settings = Settings(data_dir=data_dir, database_url=database_url,
                        secret_key=SECRET).prepare()
    db = open_database(settings)
    try:
        info: dict[str, Any] = db.run_sync(build)
    finally:
        db.close()
    info["database_url"] = settings.database_url
    return info


def sign_in(url: str, username: str) -> str:
    r = httpx.post(f"{url}/api/auth/signin", json={"username": username, "password": PASSWORD},
                   timeout=30)
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``servers(name, env)``: a started server, stopped at the end of the test."""
    started: list[Server] = []

    def make(name: str, env: dict[str, str], preexec: Callable[[], None] | None = None,
             start: bool = True) -> Server:
        server = Server(name, tmp_path, env, preexec)
        started.append(server)
        return server.start() if start else server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis().start()
    try:
        yield redis
    finally:
        redis.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
