"""The content-addressed blob store: files named by the SHA-256 of their bytes.

Layout under the data folder::

    blobs/ab/cdef...             a stored file (the sanitised PDF), named by its hash
    blobs/sources/ab/cdef....json  what an uploaded file (by its own hash) became
    renditions/ab/abcdef.../     page images and text, keyed by (hash, page, size, format)
    books/                       meeting pack books, keyed by the digest of their contents
    tmp/                         uploads and conversions in progress

Names given by people never reach the file system: every path is built from a hex digest that is
checked first. Every file appears by rename from a temporary file in the same folder after an
fsync, so a reader sees a complete file or none, even after a crash.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

from ecabinet.core.errors import StorageFull

_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")
CHUNK: Final = 1024 * 1024
# A write that failed for lack of room: disk full, quota, or past a file size limit.
FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def storage_full() -> StorageFull:
    return StorageFull(
        "Máy chủ hết dung lượng lưu trữ; tệp chưa được lưu. Hãy báo quản trị viên "
        "(the server's storage is full; nothing was stored).",
        code="storage_full",
    )


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn "no room left" into ``StorageFull`` (a clear answer instead of an internal error)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise storage_full() from exc
        raise


def check_digest(sha256: str) -> str:
    """Return ``sha256`` if it is a lowercase hex SHA-256 digest; raise ``ValueError`` otherwise."""
    if not isinstance(sha256, str) or not _DIGEST.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def hash_file(path: Path) -> tuple[str, int]:
    """Return the SHA-256 hex digest and the size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk too.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder, fsync, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(target.parent)


class BlobStore:
    """Files stored once by content, and the folders derived from them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "blobs"
        self.sources_dir = self.root / "sources"
        self.renditions_dir = self.data_dir / "renditions"
        self.books_dir = self.data_dir / "books"
        self.tmp_dir = self.data_dir / "tmp"

    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def put_file(self, source: Path, *, move: bool = False) -> tuple[str, int]:
        """Store a file's bytes; return (sha256, size). Storing the same bytes again is a no-op.

        With ``move`` the file itself is renamed into place when it sits on the same file
        system (an upload spooled into ``tmp/``); otherwise it is copied.
        """
        sha256, size = hash_file(source)
        target = self.path(sha256)
        if target.is_file():
            if move:
                source.unlink(missing_ok=True)
            return sha256, size
        target.parent.mkdir(parents=True, exist_ok=True)
        if move and source.stat().st_dev == target.parent.stat().st_dev:
            with source.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(source, target)
        else:
            fd, tmp = tempfile.mkstemp(prefix=".incoming.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            if move:
                source.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return sha256, size

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if not target.is_file():
            write_atomically(target, data)
        return sha256

    # --- what an upload became -------------------------------------------------------------

    def _source_path(self, source_sha256: str) -> Path:
        check_digest(source_sha256)
        return self.sources_dir / source_sha256[:2] / f"{source_sha256[2:]}.json"

    def source_record(self, source_sha256: str) -> dict[str, Any] | None:
        """What an earlier upload with these bytes was stored as, if its blob is still here."""
        try:
            record: dict[str, Any] = json.loads(self._source_path(source_sha256).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        sha = record.get("sha256")
        if not isinstance(sha, str) or not _DIGEST.match(sha) or not self.exists(sha):
            return None
        return record

    def record_source(self, source_sha256: str, record: dict[str, Any]) -> None:
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        write_atomically(self._source_path(source_sha256), data)

    def book_path(self, name: str) -> Path:
        if not re.fullmatch(r"[a-z0-9-]{1,100}\.pdf", name):
            raise ValueError(f"bad book file name {name!r}")
        return self.books_dir / name

    def clean_tmp(self, older_than: float = 24 * 3600) -> int:
        """Remove what uploads and conversions cut short by a crash left in ``tmp/``."""
        removed = 0
        cutoff = time.time() - older_than
        try:
            entries = list(self.tmp_dir.iterdir())
        except FileNotFoundError:
            return 0
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.lstat().st_mtime < cutoff:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink()
                    removed += 1
        return removed

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A private temporary folder under ``tmp/``, removed with everything in it at the end."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="work-", dir=self.tmp_dir))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
