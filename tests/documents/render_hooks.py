"""Render functions the tests install in the worker pool (workers import them by name).

``crash_on_marker`` stands for a MuPDF crash that a particular file triggers: a page whose text
says CRASH-RENDERER kills the worker with SIGSEGV, exactly as a segfault in the native library
would. ``slow`` takes a moment per page, so a test can reorder the queue while it drains.
"""

from __future__ import annotations

import os
import signal
import time

import pymupdf

from ecabinet.pdf.isolation import limited_render
from ecabinet.pdf.jobs import RenderJob

CRASH_MARKER = "CRASH-RENDERER"


def crash_on_marker(job: RenderJob) -> dict[str, str]:
    with pymupdf.open(job.pdf_path) as doc:
        text = doc[job.page].get_text()
    if CRASH_MARKER in text:
        os.kill(os.getpid(), signal.SIGSEGV)
    return limited_render(job)


def slow(job: RenderJob) -> dict[str, str]:
    time.sleep(0.15)
    return limited_render(job)
