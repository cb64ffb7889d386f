"""The names of ecabinet's cookies, and reading one from a ``Cookie`` header.

Both transports read the session cookie through ``session_token`` (the pages and the JSON API,
the Socket.IO handshake), so they agree on its name and on how a header is read.

With secure cookies (``ECABINET_SECURE_COOKIES``, a site served over HTTPS) the names carry the
``__Host-`` prefix: a browser then accepts the cookie only with ``Secure``, ``Path=/`` and no
``Domain``, so a page on a sibling subdomain can neither set nor shadow it (a forged session or
CSRF cookie). The unprefixed name is then not read at all: it is exactly what such a page could
set.
"""

from __future__ import annotations

SESSION_COOKIE = "ecabinet_session"
CSRF_COOKIE = "ecabinet_csrf"
HOST_PREFIX = "__Host-"


def cookie_name(base: str, *, secure: bool) -> str:
    return f"{HOST_PREFIX}{base}" if secure else base


def read_cookie(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, parsed as browsers write it
    (``a=1; b=2``; a pair without ``=`` or with quotes is taken as it is); the first wins."""
    for pair in (header or "").split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            return value.strip() or None
    return None


def session_token(header: str | None, *, secure: bool) -> str | None:
    """The sign-in token a browser's ``Cookie`` header carries, if any."""
    return read_cookie(header, cookie_name(SESSION_COOKIE, secure=secure))
