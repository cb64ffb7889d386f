"""HTML pages for browsers: "my meetings", the delegate tablet, the chair console, the
secretary's preparation pages, the language switch and the service worker.

Pages are thin shells: the server renders the frame in the reader's language and hands the
scripts what they need as a JSON block; the live content comes from the meeting's snapshot and
events over Socket.IO, and the preparation pages work on the JSON API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ecabinet.core import i18n
from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import ANYONE, MEETING_READERS, SIGNED_IN, STAFF
from ecabinet.services.accounts import SessionInfo, signin
from ecabinet.services.meetings import list_my_meetings, screens
from ecabinet.web.auth import safe_next
from ecabinet.web.common import optional_user, require_user, runtime
from ecabinet.web.locale import locale_of
from ecabinet.web.security import CSRF_FIELD, check_csrf, csrf_token, set_csrf_cookie

LANG_COOKIE_DAYS = 365


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    me: SessionInfo | None = None,
    status_code: int = 200,
) -> Response:
    """Render a page in the reader's language, with a CSRF token for its forms."""
    rt = runtime(request)
    request.state.locale = locale_of(request, me.locale if me else None)
    token = csrf_token(request)
    response = rt.templates.TemplateResponse(
        request,
        template,
        {"me": me, "csrf": token, "csrf_field": CSRF_FIELD, **context},
        status_code=status_code,
    )
    set_csrf_cookie(rt.settings, response, token)
    # Pages carry per-user content: never let a shared cache keep them.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def to_signin(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)


def _user_json(me: SessionInfo) -> dict[str, Any]:
    return {
        "id": me.user_id,
        "username": me.username,
        "full_name": me.full_name,
        "is_admin": me.is_admin,
    }


@endpoint(
    "GET",
    "/",
    roles=ANYONE,
    summary='"My meetings" page (HTML): in session, upcoming and past; anonymous callers are '
    "sent to /signin.",
)
async def home(request: Request) -> Response:
    rt = runtime(request)
    me = await optional_user(request)
    if me is None:
        return RedirectResponse("/signin", status_code=303)
    mine = await rt.db.read(screens.home, me)
    return render(request, "home.html", {**mine, "page_data": {"user": _user_json(me)}}, me=me)


@endpoint(
    "POST",
    "/locale",
    roles=ANYONE,
    summary="Switch the pages' language (form field `locale`: vi or en; CSRF token required); "
    "remembered in a cookie and, when signed in, in the account's setting.",
    errors=("csrf_failed",),
    status=303,
)
async def switch_locale(request: Request) -> Response:
    rt = runtime(request)
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD))
    locale = i18n.normalise(str(form.get("locale", ""))) or i18n.DEFAULT_LOCALE
    me = await optional_user(request)
    if me is not None and me.locale != locale:
        await rt.db.write(signin.set_locale, me.user_id, locale)
    response = RedirectResponse(safe_next(str(form.get("next", "/"))), status_code=303)
    response.set_cookie(
        i18n.LANG_COOKIE,
        locale,
        max_age=LANG_COOKIE_DAYS * 86400,
        samesite="lax",
        secure=rt.settings.secure_cookies,
        path="/",
    )
    return response


async def _room_page(request: Request, face: screens.Face) -> Response:
    rt = runtime(request)
    me = await optional_user(request)
    if me is None:
        return to_signin(request)
    meeting_id: int = request.path_params["meeting_id"]
    screen = await rt.db.read(screens.open_screen, me, meeting_id, face)
    actor = screen.actor
    data = {
        "meeting_id": meeting_id,
        "face": face,
        "user": _user_json(me),
        "role": screen.role,
        "can_vote": actor.can_vote,
        "participant_id": actor.participant_id,
        "is_admin": actor.is_admin,
    }
    return render(
        request,
        "room.html",
        {"meeting": screen.meeting, "face": face, "role": screen.role, "actor": actor,
         "page_data": data},
        me=me,
    )


@endpoint(
    "GET",
    "/meetings/{meeting_id:int}",
    roles=MEETING_READERS,
    summary="The delegate tablet (HTML): agenda, document viewer following the presenter, "
    "annotations, voting, speaking and check-in. Not signed in: sent to /signin.",
    errors=("meeting_not_found",),
)
async def tablet_page(request: Request) -> Response:
    return await _room_page(request, "tablet")


@endpoint(
    "GET",
    "/meetings/{meeting_id:int}/chair",
    roles=STAFF,
    summary="The chair console (HTML): agenda control and timer, presenting, polls, speaker "
    "queue, attendance and quorum. Secretaries and admins see it too.",
    errors=("meeting_not_found", "forbidden_role"),
)
async def chair_page(request: Request) -> Response:
    return await _room_page(request, "chair")


@endpoint(
    "GET",
    "/manage",
    roles=SIGNED_IN,
    summary="The secretary's list of meetings to prepare, with creating a meeting and "
    "importing a pack (HTML).",
)
async def manage_page(request: Request) -> Response:
    rt = runtime(request)
    me = await optional_user(request)
    if me is None:
        return to_signin(request)
    mine = await rt.db.read(screens.meetings_to_prepare, me)
    return render(
        request,
        "manage.html",
        {"meetings": mine, "page_data": {"user": _user_json(me), "is_admin": me.is_admin}},
        me=me,
    )


@endpoint(
    "GET",
    "/manage/meetings/{meeting_id:int}",
    roles=STAFF,
    summary="Prepare one meeting (HTML): details, participants, agenda (drag or move up/down), "
    "documents with upload and render progress, publish, changes since a version, export. "
    "The chair sees it read-only.",
    errors=("meeting_not_found", "forbidden_role"),
)
async def manage_meeting_page(request: Request) -> Response:
    rt = runtime(request)
    me = await optional_user(request)
    if me is None:
        return to_signin(request)
    meeting_id: int = request.path_params["meeting_id"]
    screen = await rt.db.read(screens.open_screen, me, meeting_id, "prepare")
    data = {
        "meeting_id": meeting_id,
        "user": _user_json(me),
        "role": screen.role,
        "can_edit": screen.can_edit,
    }
    return render(
        request,
        "prepare.html",
        {
            "meeting": screen.meeting,
            "role": screen.role,
            "page_data": data,
            "office_files": rt.conversion_problem is None,
        },
        me=me,
    )


@endpoint(
    "GET",
    "/sw.js",
    roles=ANYONE,
    summary="The service worker (offline reading): served from the site root so that its scope "
    "covers every page.",
)
async def service_worker(request: Request) -> Response:
    path = Path(runtime(request).settings.clients_dir) / "web" / "static" / "js" / "sw.js"
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@endpoint(
    "GET",
    "/api/meetings",
    roles=SIGNED_IN,
    summary="Meetings the caller takes part in (admins: all), soonest first.",
)
async def api_meetings(request: Request) -> Response:
    rt = runtime(request)
    me = await require_user(request)
    meetings = await rt.db.read(list_my_meetings, me.user_id, is_admin=me.is_admin)
    return JSONResponse({"meetings": meetings})

