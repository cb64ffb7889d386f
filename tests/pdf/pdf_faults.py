"""Render functions that misbehave on purpose, run inside pool workers by the pool tests.

Each one fails on page 1 only and renders every other page normally, so a test can check that the
failure stays confined to its job.
"""

from __future__ import annotations

import os
import signal
import time

from ecabinet.pdf.jobs import RenderJob, render_job

BAD_PAGE = 1


def exits(job: RenderJob) -> dict[str, str]:
    """Leave the process without cleanup, as a native library's abort() would."""
    if job.page == BAD_PAGE:
        os._exit(3)
    return render_job(job)


def segfaults(job: RenderJob) -> dict[str, str]:
    """Die by SIGSEGV, as a crash inside MuPDF would."""
    if job.page == BAD_PAGE:
        os.kill(os.getpid(), signal.SIGSEGV)
    return render_job(job)


def hangs(job: RenderJob) -> dict[str, str]:
    """Never return, as an endless loop on a hostile page would."""
    if job.page == BAD_PAGE:
        time.sleep(3600)
    return render_job(job)


def raises(job: RenderJob) -> dict[str, str]:
    """Fail with an ordinary Python exception (the worker must survive it)."""
    if job.page == BAD_PAGE:
        raise ValueError("boom")
    return render_job(job)


def slow(job: RenderJob) -> dict[str, str]:
    """Take a little while per page, so a test can reorder the queue before it drains."""
    time.sleep(0.08)
    return render_job(job)


class _DiesAtStart:
    """A render function whose unpickling ends the worker, as a broken install would."""

    def __call__(self, job: RenderJob) -> dict[str, str]:
        return render_job(job)

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (7,))


dies_at_start = _DiesAtStart()
