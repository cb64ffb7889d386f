"""Helpers every route uses: the runtime, the caller, validated JSON bodies, error rendering."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ecabinet.core import cookies
from ecabinet.core.errors import (
    EcabinetError,
    InvalidInput,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthenticated,
)
from ecabinet.core.logs import get_logger
from ecabinet.core.validation import validate
from ecabinet.runtime import Runtime
from ecabinet.services import accounts

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 1024 * 1024


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def session_token(request: Request) -> str | None:
    """The bearer token (the Python client) or the session cookie (a browser)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    secure = runtime(request).settings.secure_cookies
    return cookies.session_token(request.headers.get("cookie"), secure=secure)


async def optional_user(request: Request) -> accounts.SessionInfo | None:
    token = session_token(request)
    if token is None:
        return None
    try:
        return await runtime(request).db.read(accounts.resolve_session, token)
    except Unauthenticated:
        return None


async def require_user(request: Request) -> accounts.SessionInfo:
    token = session_token(request)
    if token is None:
        raise Unauthenticated("Chưa đăng nhập (not signed in).", code="unauthenticated")
    return await runtime(request).db.read(accounts.resolve_session, token)


async def json_body(request: Request, model: type[M]) -> M:
    """Parse and validate a JSON body. Requiring the JSON content type also keeps cross-site forms
    (which cannot send it without a CORS preflight) from riding on a browser's session cookie."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidInput("Cần gửi JSON (Content-Type: application/json).", code="json_required")
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge("Nội dung quá lớn.", code="payload_too_large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("JSON không hợp lệ (malformed JSON).", code="malformed_json") from None
    return validate(model, data)


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def handle_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EcabinetError)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if wants_html(request):
        return runtime(request).templates.TemplateResponse(
            request, "error.html", {"error": exc}, status_code=exc.status, headers=headers
        )
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)


class MethodNotAllowed(EcabinetError):
    code = "method_not_allowed"
    status = 405


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, a method the route does not serve) in the
    same shape as every other error."""
    assert isinstance(exc, HTTPException)
    error: EcabinetError
    if exc.status_code == 405:
        error = MethodNotAllowed("Phương thức không được hỗ trợ (method not allowed).")
    elif exc.status_code == 404:
        error = NotFound("Không tìm thấy địa chỉ này (not found).")
    else:
        error = EcabinetError(str(exc.detail), code="http_error")
        error.status = exc.status_code
    response = await handle_error(request, error)
    response.headers.update(exc.headers or {})
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("http.unhandled", path=request.url.path)
    body = {"error": {"code": "internal", "message": "Lỗi máy chủ (internal error)."}}
    if wants_html(request):
        return HTMLResponse("<h1>Lỗi máy chủ</h1>", status_code=500)
    return JSONResponse(body, status_code=500)
