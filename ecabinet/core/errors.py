"""The error hierarchy shared by every layer.

Each error carries a stable machine-readable ``code`` (clients branch on it) and a human message
(Vietnamese or English, shown to people). One handler per adapter turns them into a JSON answer, an
HTML page or a Socket.IO error ack.
"""

from __future__ import annotations

from typing import Any


class EcabinetError(Exception):
    """Base class: ``code`` is stable, ``message`` is for people, ``details`` for machines."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(EcabinetError):
    code = "invalid_input"
    status = 400


class Unauthenticated(EcabinetError):
    code = "unauthenticated"
    status = 401


class Forbidden(EcabinetError):
    code = "forbidden"
    status = 403


class NotFound(EcabinetError):
    code = "not_found"
    status = 404


class Conflict(EcabinetError):
    code = "conflict"
    status = 409


class TooLarge(EcabinetError):
    code = "too_large"
    status = 413


class RateLimited(EcabinetError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": round(retry_after, 1)})
        self.retry_after = retry_after


class Unavailable(EcabinetError):
    code = "unavailable"
    status = 503


class StorageFull(EcabinetError):
    """The data folder's disk is full (or the file would pass a size limit of the system)."""

    code = "storage_full"
    status = 507


class ConfigError(Exception):
    """A setting that cannot work. The message names the setting and the reason in one line."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason
