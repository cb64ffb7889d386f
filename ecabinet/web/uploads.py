"""Receiving a multipart upload as it streams in: the file goes to disk, the limit holds.

Starlette's ``request.form()`` spools files without a size limit; here the bytes are counted as
they arrive and the upload stops with ``413 upload_too_large`` the moment the file passes
``ECABINET_MAX_UPLOAD_MB`` (or at once, when the declared Content-Length already does). Only one
file part is accepted; the other fields are small text fields.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ecabinet.core.errors import InvalidInput, TooLarge
from ecabinet.services.documents.uploads import spooling

MAX_FIELDS: Final = 20
MAX_FIELD_BYTES: Final = 64 * 1024
# Multipart framing and the text fields around the file.
ENVELOPE: Final = 1024 * 1024


@dataclass
class Upload:
    """The received form: text fields, and the file spooled to ``path`` (None if absent)."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    filename: str = ""
    size: int = 0

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"Tệp lớn hơn giới hạn {max_bytes // (1024 * 1024)} MiB (the upload is too large).",
        code="upload_too_large",
        details={"max_bytes": max_bytes},
    )


def _bad(message: str) -> InvalidInput:
    return InvalidInput(f"Dữ liệu tải lên không hợp lệ: {message}", code="malformed_upload")


class _Receiver:
    def __init__(self, folder: Path, max_bytes: int, file_field: str) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.upload = Upload()
        self._name = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._field: str | None = None
        self._data = bytearray()
        self._file: BinaryIO | None = None
        self._is_file = False
        self.complete = False  # the closing boundary arrived: nothing was cut off

    def on_end(self) -> None:
        self.complete = True

    def on_part_begin(self) -> None:
        self._headers = {}
        self._field = None
        self._data = bytearray()
        self._is_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise _bad("thiếu tên trường (a part has no name)")
        name = options[b"name"].decode("utf-8", "replace")
        self._field = name
        if b"filename" in options:
            if name != self.file_field or self._file is not None or self.upload.path is not None:
                raise _bad(f"chỉ nhận một tệp ở trường '{self.file_field}' (one file only)")
            self.upload.filename = options[b"filename"].decode("utf-8", "replace")
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.folder)
            self._file = os.fdopen(fd, "wb")
            self.upload.path = Path(tmp)
            self._is_file = True
        elif len(self.upload.fields) >= MAX_FIELDS:
            raise _bad("quá nhiều trường (too many fields)")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            assert self._file is not None
            self.upload.size += end - start
            if self.upload.size > self.max_bytes:
                raise too_large(self.max_bytes)
            self._file.write(data[start:end])
        else:
            self._data += data[start:end]
            if len(self._data) > MAX_FIELD_BYTES:
                raise _bad("một trường quá dài (a field is too long)")

    def on_part_end(self) -> None:
        if self._is_file:
            assert self._file is not None
            self._file.close()
            self._file = None
        elif self._field is not None:
            try:
                self.upload.fields[self._field] = self._data.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad(f"trường '{self._field}' không phải UTF-8") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def abandon(self) -> None:
        """Close and remove the spooled file after a failure (a full disk may fail the close
        too: the file goes all the same)."""
        with contextlib.suppress(OSError):
            self.close()
        self._file = None
        self.upload.discard()

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }


async def receive_upload(
    request: Request, folder: Path, max_bytes: int, *, file_field: str = "file"
) -> Upload:
    """Stream a ``multipart/form-data`` body: the file to a temporary file in ``folder``.

    Raises ``TooLarge`` (``upload_too_large``) as soon as the file passes ``max_bytes``, and
    ``InvalidInput`` (``multipart_required``, ``malformed_upload``, ``file_required``). The
    caller owns the file and removes it (``Upload.discard``).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInput(
            "Cần gửi tệp dạng multipart/form-data (multipart upload required).",
            code="multipart_required",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + ENVELOPE:
        raise too_large(max_bytes)
    receiver = _Receiver(folder, max_bytes, file_field)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        with spooling():  # the disk filling up: a clear 507, not an internal error
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes + ENVELOPE:
                    raise too_large(max_bytes)
                parser.write(chunk)
            parser.finalize()
            if not receiver.complete:
                raise FormParserError("the body ended before the closing boundary")
            receiver.close()
    except FormParserError:
        receiver.abandon()
        raise _bad("sai định dạng multipart (malformed multipart body)") from None
    except BaseException:
        receiver.abandon()
        raise
    if receiver.upload.path is None:
        raise InvalidInput(
            f"Chưa chọn tệp (no file in the '{file_field}' field).", code="file_required"
        )
    return receiver.upload


@contextlib.contextmanager
def spooled(upload: Upload) -> Any:
    """Remove the spooled file however the request ends."""
    try:
        yield upload
    finally:
        upload.discard()
