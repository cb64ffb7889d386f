"""The one error type of the PDF pipeline, with stable codes.

Clients and the web layer branch on ``code``; ``message`` is shown to people. Messages are in
Vietnamese with an English hint in parentheses, because the people reading them are secretaries in
a Vietnamese government office while the logs are read by developers.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Final

from ecabinet.core.errors import EcabinetError

NOT_A_PDF: Final = "not_a_pdf"
EMPTY: Final = "empty"
TRUNCATED: Final = "truncated"
DAMAGED: Final = "damaged"
PASSWORD_REQUIRED: Final = "password_required"
WRONG_PASSWORD: Final = "wrong_password"
TOO_MANY_PAGES: Final = "too_many_pages"
PAGE_TOO_LARGE: Final = "page_too_large"
PAGE_OUT_OF_RANGE: Final = "page_out_of_range"
FONT_MISSING: Final = "font_missing"
RENDER_FAILED: Final = "render_failed"
RENDER_TIMEOUT: Final = "render_timeout"
RENDER_CRASHED: Final = "render_crashed"
RENDER_CANCELLED: Final = "render_cancelled"
STORAGE_FULL: Final = "storage_full"

_STATUS: Final[dict[str, int]] = {
    PASSWORD_REQUIRED: 422,
    WRONG_PASSWORD: 422,
    TOO_MANY_PAGES: 413,
    PAGE_TOO_LARGE: 413,
    PAGE_OUT_OF_RANGE: 404,
    FONT_MISSING: 500,
    RENDER_FAILED: 500,
    RENDER_TIMEOUT: 504,
    RENDER_CRASHED: 500,
    RENDER_CANCELLED: 409,
    STORAGE_FULL: 507,
}
# Writes that failed for lack of room: a full disk, a quota, a file size limit.
_FULL: Final = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_FULL_TEXTS: Final = tuple(os.strerror(n) for n in _FULL)


def out_of_room(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for lack of room; MuPDF reports it as a system
    error whose message carries the C library's text."""
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    text = str(exc)
    return any(reason in text for reason in _FULL_TEXTS)


class PdfError(EcabinetError):
    """A document that cannot be accepted or processed; ``code`` is one of the constants above."""

    code = "pdf_error"
    status = 422

    def __init__(self, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(message, code=code, details=details)
        self.status = _STATUS.get(code, 422)

    def __reduce__(self) -> tuple[Any, ...]:
        # Worker processes send these back through pickle; the default reduction would call
        # __init__ with the message only and lose the code.
        return (_rebuild, (self.code, self.message, self.details))


def _rebuild(code: str, message: str, details: Any) -> PdfError:
    return PdfError(code, message, details=details)
