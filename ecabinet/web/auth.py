"""Sign-in and sign-out: the HTML form for browsers and the JSON API for the Python client."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ecabinet.core.errors import EcabinetError
from ecabinet.core.validation import validate
from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import ANYONE, SIGNED_IN
from ecabinet.runtime import Runtime
from ecabinet.services.accounts import signin
from ecabinet.web.common import (
    json_body,
    require_user,
    runtime,
    session_token,
)
from ecabinet.web.security import CSRF_FIELD, check_csrf, csrf_cookie, csrf_token, set_csrf_cookie

CLEAR_SITE_DATA = {"Clear-Site-Data": '"cache", "storage"'}


class SignInRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def sign_in(request: Request, creds: SignInRequest, *, kind: str) -> signin.SignedIn:
    rt = runtime(request)
    limits = signin.Limits(rt.counters, rt.metrics)
    attempt = signin.Attempt(creds.username, creds.password, kind, client_address(request),
                             request.headers.get("user-agent", ""))
    return await signin.sign_in(rt.db, limits, attempt, days=rt.settings.session_days)


def set_session_cookie(rt: Runtime, response: Response, token: str) -> None:
    response.set_cookie(
        rt.settings.session_cookie,
        token,
        max_age=rt.settings.session_days * 86400,
        httponly=True,
        secure=rt.settings.secure_cookies,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(rt: Runtime, response: Response) -> None:
    # Browsers ignore a __Host- cookie's removal too unless it is Secure with Path=/.
    response.delete_cookie(rt.settings.session_cookie, path="/", httponly=True,
                           secure=rt.settings.secure_cookies, samesite="lax")


async def end_sockets(rt: Runtime, session_ids: list[int]) -> None:
    """The ended sessions' live sockets are told and dropped, on every server process."""
    if session_ids and rt.sockets is not None:
        await rt.sockets.end_sessions(session_ids)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@endpoint("GET", "/signin", roles=ANYONE, summary="The sign-in page (HTML).")
async def signin_page(request: Request) -> Response:
    rt = runtime(request)
    token = csrf_token(request)
    response = rt.templates.TemplateResponse(
        request,
        "signin.html",
        {
            "csrf": token,
            "csrf_field": CSRF_FIELD,
            "next": safe_next(request.query_params.get("next")),
            "error": None,
            "username": "",
        },
    )
    set_csrf_cookie(rt.settings, response, token)
    return response


@endpoint(
    "POST",
    "/signin",
    roles=ANYONE,
    summary="Sign in from the HTML form (CSRF token required); sets the session cookie.",
    status=303,
    errors=("csrf_failed", "bad_credentials", "signin_rate_limited"),
)
async def signin_form(request: Request) -> Response:
    rt = runtime(request)
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD))
    next_url = safe_next(str(form.get("next", "/")))
    username = str(form.get("username", ""))
    try:
        creds = validate(
            SignInRequest, {"username": username, "password": form.get("password", "")}
        )
        signed_in = await sign_in(request, creds, kind="cookie")
    except EcabinetError as exc:
        return rt.templates.TemplateResponse(
            request,
            "signin.html",
            {
                "csrf": csrf_cookie(request),
                "csrf_field": CSRF_FIELD,
                "next": next_url,
                "error": exc.message,
                "username": username,
            },
            status_code=exc.status,
        )
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(rt, response, signed_in.token)
    return response


@endpoint(
    "POST",
    "/signout",
    roles=SIGNED_IN,
    summary="Sign out from the HTML form (CSRF token required).",
    errors=("csrf_failed",),
    status=303,
)
async def signout_form(request: Request) -> Response:
    rt = runtime(request)
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD))
    token = session_token(request)
    if token:
        await end_sockets(rt, await signin.sign_out(rt.db, token))
    # The browser empties its HTTP cache and this site's storage (page images and text, the
    # tablet's stored state with private annotations) before the sign-in page shows.
    response = RedirectResponse("/signin", status_code=303, headers=CLEAR_SITE_DATA)
    clear_session_cookie(rt, response)
    return response


@endpoint(
    "POST",
    "/api/auth/signin",
    roles=ANYONE,
    summary=(
        "Sign in; answers `{token, user}`. Failed attempts are rate-limited per account "
        "and address."
    ),
    body=SignInRequest,
    errors=("invalid_payload", "json_required", "bad_credentials", "signin_rate_limited"),
)
async def api_signin(request: Request) -> Response:
    creds = await json_body(request, SignInRequest)
    signed_in = await sign_in(request, creds, kind="token")
    return JSONResponse({"token": signed_in.token, "user": signed_in.user})


@endpoint("POST", "/api/auth/signout", roles=SIGNED_IN, summary="End this session.")
async def api_signout(request: Request) -> Response:
    rt = runtime(request)
    await require_user(request)
    token = session_token(request)
    assert token is not None
    await end_sockets(rt, await signin.sign_out(rt.db, token))
    response = JSONResponse({"ok": True})
    clear_session_cookie(rt, response)
    return response


@endpoint(
    "POST",
    "/api/auth/signout-all",
    roles=SIGNED_IN,
    summary="End every session of the caller and drop their live sockets (a lost tablet).",
)
async def api_signout_all(request: Request) -> Response:
    """Sign the caller out on every device (a lost tablet) and drop their live sockets."""
    rt = runtime(request)
    me = await require_user(request)
    ended = await signin.sign_out_everywhere(rt.db, me, client_address(request))
    await end_sockets(rt, ended)
    response = JSONResponse({"ok": True, "sessions_ended": len(ended)})
    clear_session_cookie(rt, response)
    return response


@endpoint("GET", "/api/me", roles=SIGNED_IN, summary="The signed-in user.")
async def api_me(request: Request) -> Response:
    me = await require_user(request)
    return JSONResponse({"user": signin.user_view(me)})

