"""One rendering worker process and its handle in the server.

The server talks to each worker over its own pipe, one job at a time, so it always knows which job
a worker holds: when the worker hangs it is killed at the job's time limit, and when it dies (a
segfault in a native library, ``os._exit``, the OOM killer) the pipe reports end-of-file at once.
Either way that job alone fails and the handle starts a fresh process.

The handle waits on the pipe with the event loop's ``add_reader``, so waiting costs no thread and
never blocks the loop (this needs a selector-based loop: the default loop on Linux and macOS,
and uvloop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

import pymupdf

from ecabinet.pdf.errors import RENDER_CRASHED, RENDER_FAILED, RENDER_TIMEOUT, PdfError
from ecabinet.pdf.jobs import RenderJob

RenderFunction = Callable[[RenderJob], dict[str, str]]


@dataclass(frozen=True)
class JobResult:
    """What came of one job: the files by rendition name, or an error code and message."""

    files: dict[str, str] | None
    elapsed: float
    code: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the job produced its files."""
        return self.files is not None


def worker_main(conn: Connection, render: RenderFunction) -> None:
    """Serve jobs from ``conn`` until it closes or sends ``None`` (the worker process's body)."""
    # Ctrl-C reaches the whole process group; the server decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pymupdf.TOOLS.mupdf_display_errors(False)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        started = time.perf_counter()
        try:
            reply: tuple[Any, ...] = ("ok", render(job))
        except PdfError as exc:
            reply = ("error", exc.code, exc.message)
        except Exception as exc:  # any failure of one page must not end the worker
            reply = ("error", RENDER_FAILED, f"Lỗi kết xuất trang (render failed: {exc!r}).")
        # MuPDF keeps every warning in a process-wide list; a long-lived worker must drop them.
        pymupdf.TOOLS.reset_mupdf_warnings()
        try:
            conn.send((*reply, time.perf_counter() - started))
        except OSError:
            return  # the server went away


class WorkerProcess:
    """The server-side handle of one worker: start, run a job with a time limit, stop."""

    def __init__(self, context: BaseContext, render: RenderFunction, name: str) -> None:
        self._context = context
        self._render = render
        self._name = name
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self.jobs_done = 0

    @property
    def alive(self) -> bool:
        """Whether a started process is still running."""
        return self._process is not None and self._process.is_alive()

    async def start(self, timeout: float) -> None:
        """Start the process and wait until it has imported its libraries and said ready."""
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(  # type: ignore[attr-defined]
            target=worker_main, args=(child, self._render), name=self._name, daemon=True
        )
        self._process, self._conn, self.jobs_done = process, parent, 0
        try:
            await asyncio.to_thread(process.start)
        finally:
            # Only the child may hold the other end, or its death would never read as EOF here.
            child.close()
        try:
            message = await self._receive(timeout)
        except (EOFError, OSError, TimeoutError) as exc:
            await self.kill()
            raise RuntimeError(
                f"render worker {self._name} did not start ({exc!r}); its stderr says why"
            ) from exc
        if message[0] != "ready":
            await self.kill()
            raise RuntimeError(f"render worker {self._name} sent {message!r} instead of ready")

    async def _receive(self, timeout: float | None) -> Any:
        conn = self._conn
        assert conn is not None
        loop = asyncio.get_running_loop()
        readable = loop.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        fd = conn.fileno()
        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(readable, timeout)
        finally:
            loop.remove_reader(fd)
        # Replies are a few hundred bytes, written in one write(), so recv() does not block.
        return conn.recv()

    async def run(self, job: RenderJob, timeout: float) -> JobResult:
        """Run one job. Never raises for the job's own failure; a dead worker stays dead."""
        assert self._conn is not None
        started = time.perf_counter()
        try:
            self._conn.send(job)
            reply = await self._receive(timeout)
        except TimeoutError:
            await self.kill()
            return JobResult(
                None,
                time.perf_counter() - started,
                RENDER_TIMEOUT,
                f"Kết xuất trang {job.page + 1} quá thời gian "
                f"(render exceeded {timeout:g} s; worker restarted).",
            )
        except (EOFError, OSError):
            status = await self._reap()
            return JobResult(
                None,
                time.perf_counter() - started,
                RENDER_CRASHED,
                f"Tiến trình kết xuất dừng đột ngột ở trang {job.page + 1} "
                f"(worker died: {status}; worker restarted).",
            )
        except BaseException:
            # Cancelled mid-job: the worker still holds the job, so it cannot be reused.
            await asyncio.shield(self.kill())
            raise
        self.jobs_done += 1
        if reply[0] == "ok":
            return JobResult(reply[1], reply[-1])
        return JobResult(None, reply[-1], reply[1], reply[2])

    async def _reap(self) -> str:
        process = self._process
        if process is None:
            return "not started"
        await asyncio.to_thread(process.join, 5.0)
        if process.is_alive():
            await self.kill()
        code = process.exitcode
        self._forget()
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"signal {signal.Signals(-code).name}"
        return f"exit code {code}"

    async def kill(self) -> None:
        """Kill the process at once (SIGKILL) and release its pipe."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5.0)
        self._forget()

    async def stop(self, grace: float = 2.0) -> None:
        """Ask the process to finish and wait ``grace`` seconds before killing it."""
        process, conn = self._process, self._conn
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send(None)
        await asyncio.to_thread(process.join, grace)
        await self.kill()

    def _forget(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and not self._process.is_alive():
            self._process.close()
        self._process = self._conn = None
