"""The rendition cache as the server reads it: where a page's images and words are on disk.

The layout itself belongs to the render jobs (``ecabinet.pdf.jobs``), which write the files; the
folder is the blob store's ``renditions_dir``. Every digest is checked before it becomes a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from ecabinet.pdf.jobs import rendition_path, text_path
from ecabinet.pdf.render import Rendition
from ecabinet.storage.blobs import BlobStore, check_digest


class RenditionCache:
    """Derived files of stored PDFs: page images at each rendition, and page words."""

    def __init__(self, store: BlobStore) -> None:
        self.root = store.renditions_dir

    def rendition_path(self, sha256: str, page: int, rendition: Rendition) -> Path:
        """Cached image of ``page`` (0-based) of a blob at ``rendition`` (size and format)."""
        return rendition_path(self.root, check_digest(sha256), page, rendition)

    def text_path(self, sha256: str, page: int) -> Path:
        """Cached words with boxes of ``page`` (0-based), JSON."""
        return text_path(self.root, check_digest(sha256), page)

    def pages_rendered(self, sha256: str) -> int:
        """How many pages have every rendition on disk (a page's text file is written last)."""
        folder = self.text_path(sha256, 0).parent
        try:
            return sum(1 for name in os.listdir(folder) if name.endswith("-text.json"))
        except FileNotFoundError:
            return 0
