"""Private Redis and PostgreSQL servers for the fault tests, which stop and restart them.

The shared servers on 127.0.0.1:5432 and :6379 belong to every other test and are never touched
here. Each private server runs on a free port with its files in a temporary folder, and is stopped
and removed at the end. When one cannot be started, the test is skipped with the reason locally
and fails under CI=true (CI must run these tests).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import CI, free_port
from tests.waiting import ConditionTimeout, wait_until


def unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason}; CI must run the fault tests, not skip them")
    pytest.skip(reason)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateRedis:
    """``redis-server`` as a child process, without persistence, on its own port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="ecabinet-redis-"))
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        if self.binary is None:
            unavailable("redis-server is not installed")
        assert self.binary is not None
        self._log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.folder)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: _answers(self.port), "the private Redis answers", timeout=15)
        except ConditionTimeout as exc:
            self.stop()
            unavailable(f"{exc}: {self.output()}")
        return self

    def stop(self) -> None:
        """Kill it at once (a crash, not a shutdown: nothing is saved, clients are cut off)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        wait_until(lambda: not _answers(self.port), "the private Redis stops answering",
                   timeout=10)

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "redis.log").read_text(errors="replace")[-2000:]
        return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: initdb into a temporary folder owned by the ``postgres``
    OS user (initdb refuses root), trust authentication, its own port and socket folder."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="ecabinet-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder)

    def start(self) -> PrivatePostgres:
        if self.bin is None:
            unavailable("PostgreSQL server binaries are not installed (/usr/lib/postgresql)")
        if os.geteuid() == 0:
            try:
                shutil.chown(self.folder, "postgres", "postgres")
            except (LookupError, PermissionError) as exc:
                unavailable(f"cannot hand a folder to the postgres OS user: {exc}")
        assert self.bin is not None
        made = self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                                 "-U", "postgres", "-E", "UTF8", "--no-sync")
        if made.returncode != 0:
            unavailable(f"initdb failed: {made.stderr.strip()[-500:]}")
        self.boot()
        return self

    def boot(self) -> None:
        assert self.bin is not None
        # fsync off: fast, and still nothing committed is lost when the server process dies
        # (the WAL is written at each commit; only an operating system crash needs the fsync).
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off "
                   "-c max_connections=60 -c shared_buffers=32MB")
        started = self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                                    str(self.log), "-o", options, "-w", "-t", "60", "start")
        if started.returncode != 0:
            unavailable(f"pg_ctl start failed: {started.stderr.strip()[-300:]} "
                        f"{self.output()}")

    def halt(self) -> None:
        """Stop it the hard way (``-m immediate``: connections are cut, like a crash)."""
        assert self.bin is not None
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "-t", "60", "stop")
        wait_until(lambda: not _answers(self.port), "the private PostgreSQL stops answering",
                   timeout=30)

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(self.admin_url.replace("postgresql://",
                                                         "postgresql+psycopg://", 1),
                                  isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def close(self) -> None:
        if self.bin is not None and (self.data / "postmaster.pid").exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                              "-w", "-t", "60", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
