"""Render jobs and the rendition cache on disk.

A job is one page of one stored PDF: it produces every rendition of the page and its text in one
go, because interpreting the page is shared by all of them. Files are keyed by (sha256, page,
rendition name, format) under the cache folder::

    <cache>/<sha[:2]>/<sha>/p00012-tablet.jpg
    <cache>/<sha[:2]>/<sha>/p00012-text.json

Each file is written under a temporary name and renamed into place, so a reader (the web layer
serving images) sees a complete file or none, even if the worker is killed mid-write.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pymupdf

from ecabinet.pdf.inspect import open_pdf
from ecabinet.pdf.render import MAX_PIXELS, RENDITIONS, PageRenderer, Rendition

TEXT: Final = "text"
# Open documents kept per worker: jobs for one document arrive in runs, and reopening a large PDF
# re-parses its cross-reference table.
_OPEN_DOCUMENTS: Final = 4


@dataclass(frozen=True)
class RenderJob:
    """Everything a worker needs to render one page, picklable and free of server state."""

    sha256: str
    pdf_path: str
    page: int
    cache_dir: str
    renditions: tuple[Rendition, ...] = RENDITIONS
    with_text: bool = True
    max_pixels: int = MAX_PIXELS

    @property
    def key(self) -> tuple[str, int]:
        """The job's identity in a queue: (sha256, page)."""
        return (self.sha256, self.page)


def document_dir(cache_dir: str | Path, sha256: str) -> Path:
    """Return the folder holding every cached file of one document."""
    if len(sha256) < 8 or not all(c in "0123456789abcdef" for c in sha256):
        # The hash becomes a path; refuse anything that could climb out of the cache.
        raise ValueError(f"not a lowercase hex digest: {sha256!r}")
    return Path(cache_dir) / sha256[:2] / sha256


def rendition_path(cache_dir: str | Path, sha256: str, page: int, rendition: Rendition) -> Path:
    """Return where the image of ``page`` (0-based) at ``rendition`` is cached."""
    name = f"p{page:05d}-{rendition.name}.{rendition.extension}"
    return document_dir(cache_dir, sha256) / name


def text_path(cache_dir: str | Path, sha256: str, page: int) -> Path:
    """Return where the words of ``page`` (0-based) are cached as JSON (see ``page_text``)."""
    return document_dir(cache_dir, sha256) / f"p{page:05d}-{TEXT}.json"


def job_outputs(job: RenderJob) -> dict[str, Path]:
    """Return the files a job produces, keyed by rendition name (and ``"text"``)."""
    outputs = {
        rendition.name: rendition_path(job.cache_dir, job.sha256, job.page, rendition)
        for rendition in job.renditions
    }
    if job.with_text:
        outputs[TEXT] = text_path(job.cache_dir, job.sha256, job.page)
    return outputs


def cached_outputs(job: RenderJob) -> dict[str, str] | None:
    """Return the job's files if every one of them is already on disk, else None."""
    outputs = job_outputs(job)
    if all(path.is_file() for path in outputs.values()):
        return {name: str(path) for name, path in outputs.items()}
    return None


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


_documents: OrderedDict[tuple[str, str], pymupdf.Document] = OrderedDict()


def _document(job: RenderJob) -> pymupdf.Document:
    key = (job.sha256, job.pdf_path)
    doc = _documents.get(key)
    if doc is None:
        doc = open_pdf(job.pdf_path)
        _documents[key] = doc
        while len(_documents) > _OPEN_DOCUMENTS:
            _documents.popitem(last=False)[1].close()
    _documents.move_to_end(key)
    return doc


def render_job(job: RenderJob) -> dict[str, str]:
    """Render a job's page to every rendition and its text; return the file paths by name.

    Runs in a worker process. Stored PDFs are sanitised and unencrypted, so no password is taken.
    Raises ``PdfError`` when the document cannot be opened or the page does not exist.
    """
    outputs = job_outputs(job)
    document_dir(job.cache_dir, job.sha256).mkdir(parents=True, exist_ok=True)
    renderer = PageRenderer(_document(job), job.page, job.max_pixels)
    for rendition in job.renditions:
        _write_atomically(outputs[rendition.name], renderer.image(rendition).data)
    if job.with_text:
        text = json.dumps(renderer.text(), ensure_ascii=False, separators=(",", ":"))
        _write_atomically(outputs[TEXT], text.encode("utf-8"))
    return {name: str(path) for name, path in outputs.items()}
