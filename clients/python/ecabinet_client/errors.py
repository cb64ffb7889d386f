"""Typed errors carrying the server's stable error code.

The server answers a refused command with ``{"ok": false, "error": {"code", "message",
"details"}}`` and a failed HTTP call with ``{"error": {...}}`` and a status. Both become an
``EcabinetError`` subclass chosen by the HTTP status, else by the code; ``code`` is what programs
branch on, ``message`` (Vietnamese) is for people.
"""

from __future__ import annotations

from typing import Any


class EcabinetError(Exception):
    """Base class: ``code`` is the server's stable code, ``details`` its machine-readable extra."""

    status: int | None = None

    def __init__(
        self, code: str, message: str, details: Any = None, *, status: int | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(EcabinetError):
    """The payload or the request was refused as invalid (nothing changed)."""

    status = 400


class Unauthenticated(EcabinetError):
    """Not signed in, bad credentials, or the session ended (signed out everywhere)."""

    status = 401


class Forbidden(EcabinetError):
    """Your role in the meeting does not allow this."""

    status = 403


class NotFound(EcabinetError):
    """No such thing, or you may not see it."""

    status = 404


class Conflict(EcabinetError):
    """The meeting's state does not allow this now (not in session, poll closed, ...)."""

    status = 409


class TooLarge(EcabinetError):
    status = 413


class RateLimited(EcabinetError):
    """Too many requests; ``retry_after`` says how many seconds to wait."""

    status = 429

    @property
    def retry_after(self) -> float:
        if isinstance(self.details, dict):
            value = self.details.get("retry_after")
            if isinstance(value, int | float):
                return float(value)
        return 1.0


class Unavailable(EcabinetError):
    """The server or its database is unavailable for now."""

    status = 503


class ServerError(EcabinetError):
    """The server failed (``internal``)."""

    status = 500


class ClientError(EcabinetError):
    """Raised by the client itself, not answered by the server."""


class ConnectionLost(ClientError):
    """The connection dropped (or never came up) before an answer arrived."""


class AckLost(ClientError):
    """No answer came back in time, even after retrying with the same client id.

    The command may or may not have been applied: retry later with ``details["client_id"]`` and it
    is applied at most once.
    """


class UnknownCommand(ClientError):
    """The command (or event type) is not in the protocol this client was built with."""


_BY_STATUS: dict[int, type[EcabinetError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    429: RateLimited,
    500: ServerError,
    503: Unavailable,
}

# Socket.IO acks carry no status: codes the server uses, and naming rules for the others.
_BY_CODE: dict[str, type[EcabinetError]] = {
    "invalid_payload": InvalidInput,
    "invalid_input": InvalidInput,
    "json_required": InvalidInput,
    "malformed_json": InvalidInput,
    "unknown_seq": InvalidInput,
    "invalid_pack": InvalidInput,
    "unauthenticated": Unauthenticated,
    "unknown_session": Unauthenticated,
    "session_ended": Unauthenticated,
    "bad_credentials": Unauthenticated,
    "forbidden": Forbidden,
    "forbidden_role": Forbidden,
    "csrf_failed": Forbidden,
    "not_found": NotFound,
    "conflict": Conflict,
    "client_id_reused": Conflict,
    "invalid_transition": Conflict,
    "meeting_not_in_session": Conflict,
    "agenda_end": Conflict,
    "too_large": TooLarge,
    "payload_too_large": TooLarge,
    "rate_limited": RateLimited,
    "signin_rate_limited": RateLimited,
    "unavailable": Unavailable,
    "database_unavailable": Unavailable,
    "internal": ServerError,
}


def error_class(code: str, status: int | None = None) -> type[EcabinetError]:
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code.endswith("_not_found"):
        return NotFound
    if code.startswith("forbidden") or code.endswith("_forbidden"):
        return Forbidden
    if code.endswith("rate_limited"):
        return RateLimited
    if code.endswith("too_large"):
        return TooLarge
    if code.startswith("already_") or code.endswith(("_closed", "_not_open", "_in_progress")):
        return Conflict
    if code.startswith("invalid_") or code.endswith("_invalid"):
        return InvalidInput
    if status is not None and status >= 500:
        return ServerError
    return EcabinetError


def from_error(error: Any, status: int | None = None) -> EcabinetError:
    """Build the typed error from the server's ``{"code", "message", "details"}``."""
    if not isinstance(error, dict):
        error = {"code": "internal", "message": str(error)}
    code = str(error.get("code") or "error")
    message = str(error.get("message") or code)
    return error_class(code, status)(code, message, error.get("details"), status=status)
