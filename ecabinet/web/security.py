"""Security headers on every response; cross-site requests refused; the double-submit CSRF
token for HTML forms."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecabinet.core import cookies
from ecabinet.core.errors import Forbidden
from ecabinet.core.logs import get_logger
from ecabinet.core.proxies import is_same_origin
from ecabinet.core.settings import Settings
from ecabinet.web.common import handle_error, runtime

log = get_logger(__name__)
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE = (
    "Yêu cầu bị từ chối vì được gửi từ một trang web khác; "
    "vui lòng mở lại trang eCabinet và thử lại."
)

HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the headers to HTTP responses (not to websockets)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cross_site(scope: Scope, *, secure_cookies: bool) -> str | None:
    """Why a state-changing request looks forged by another site's page, or ``None``.

    Browsers say where a request comes from: ``Sec-Fetch-Site`` (Fetch Metadata) and ``Origin``
    (every POST, PUT, PATCH and DELETE), which no page can forge; a sibling subdomain is
    ``same-site``, not ``same-origin``. A request with neither is not a browser's (the Python
    client): it may use a bearer token, never the session cookie, which a browser would have
    added by itself (OWASP: "Verifying Origin With Standard Headers", Fetch Metadata).
    """
    headers: dict[bytes, str] = {}
    for name, value in scope.get("headers", []):
        joiner = "; " if name == b"cookie" else ", "  # HTTP/2 may split the Cookie header
        text = value.decode("latin-1")
        headers[name] = f"{headers[name]}{joiner}{text}" if name in headers else text
    fetch_site, origin = headers.get(b"sec-fetch-site"), headers.get(b"origin")
    if fetch_site is not None and fetch_site != "same-origin":
        return f"sec-fetch-site {fetch_site}"
    if origin is not None and not is_same_origin(scope, origin):
        return f"origin {origin[:100]}"
    if fetch_site is None and origin is None:
        bearer = headers.get(b"authorization", "").lower().startswith("bearer ")
        if not bearer and cookies.session_token(headers.get(b"cookie"), secure=secure_cookies):
            return "session cookie without origin"
    return None


class CrossSiteGuard:
    """Refuses every request that could change something (not GET, HEAD or OPTIONS) when it
    comes from another site's page: ``403 csrf_failed``, before its body is read, so that a
    forged upload or form changes nothing (issue #14, finding 9)."""

    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            reason = cross_site(scope, secure_cookies=self.secure_cookies)
            if reason is not None:
                request = Request(scope)
                log.warning("csrf.refused", path=request.url.path, reason=reason)
                response = await handle_error(request, Forbidden(CROSS_SITE, code="csrf_failed"))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def set_csrf_cookie(settings: Settings, response: Response, token: str) -> None:
    response.set_cookie(settings.csrf_cookie, token, httponly=True, samesite="strict",
                        secure=settings.secure_cookies, path="/")


def csrf_cookie(request: Request) -> str | None:
    """The token in this browser's CSRF cookie, if any."""
    return cookies.read_cookie(request.headers.get("cookie"), runtime(request).settings.csrf_cookie)


def csrf_token(request: Request) -> str:
    """The token for this browser, reused when its cookie already holds one."""
    token = csrf_cookie(request)
    if token and len(token) >= 32:
        return token
    cached: str | None = getattr(request.state, "new_csrf", None)
    if cached is None:
        cached = secrets.token_urlsafe(32)
        request.state.new_csrf = cached
    return cached


def check_csrf(request: Request, submitted: object) -> None:
    cookie = csrf_cookie(request) or ""
    if not (isinstance(submitted, str) and cookie and hmac.compare_digest(cookie, submitted)):
        raise Forbidden(
            "Biểu mẫu đã hết hạn; vui lòng tải lại trang (form expired).", code="csrf_failed"
        )
