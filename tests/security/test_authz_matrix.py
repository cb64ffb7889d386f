"""The authorisation matrix: every HTTP route and every Socket.IO command, for every kind of caller.

The tables below say, route by route and command by command, who is let through. They are written
out by hand, on purpose: they are an independent statement of the policy, not a copy of the roles
the code declares, so a wrong declaration (or a check that was forgotten) fails here. A route of
the application or a command of the protocol without a row fails ``test_every_*_has_a_row``.

"Allowed" means the answer is not an authorisation refusal: it may still be a 400 (the payloads
below are valid, but the state may make the action pointless, e.g. opening a poll that is already
open) or a 409, which shows that the caller was let past the checks. "Refused" means a status 401
or 403, a 404 whose code hides what exists (``VISIBILITY``), a page sending the caller to sign in,
or an error ack whose code is in ``REFUSALS``.

One live server (PostgreSQL and the Redis manager, as in production) serves every request; each
caller keeps one HTTP client and one socket. State that a row needs (an open poll, a presented
page, someone speaking) is set up by that row's ``prepare`` right before it runs; targets that an
allowed caller destroys (a participant to remove, a document to replace) are one per caller.
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import uuid
import zipfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pymupdf
import pytest
import socketio
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import select
from starlette.routing import Mount, Route

from ecabinet.app import create_app
from ecabinet.protocol import REGISTRY
from ecabinet.realtime import dispatch
from ecabinet.services import accounts
from ecabinet.storage.models import AgendaItem, Body, BodyMember, Participant, User
from tests.conftest import PASSWORD, LiveServer, create_room, make_settings
from tests.documents import samples

T = TypeVar("T")
CALLERS = ("anonymous", "outsider", "observer", "delegate", "chair", "secretary", "admin")
USERNAMES = {"outsider": "nguoingoai", "observer": "quansat", "delegate": "daibieu1",
             "chair": "chutich", "secretary": "thuky", "admin": "quantri"}
# Error codes that mean "not you": who the caller is, or what they may do, decided the answer.
REFUSALS = frozenset({
    "unauthenticated", "unknown_session", "session_ended", "forbidden", "forbidden_role",
    "admin_required", "not_body_secretary", "forbidden_transition", "csrf_failed",
    "meeting_not_found", "document_not_found", "body_not_found",
    "confidential_no_download", "confidential_images_only", "confidential_no_export",
    "no_voting_right", "proxy_not_held", "not_presenter", "not_speaker", "not_your_request",
    "not_author", "visibility_not_allowed", "speaker_not_allowed",
})
# A 404 with one of these codes hides that the thing exists: a refusal, not a missing thing.
VISIBILITY = frozenset({"meeting_not_found", "document_not_found", "body_not_found"})


def who(text: str) -> frozenset[str]:
    names = frozenset(text.split())
    assert names <= set(CALLERS), names - set(CALLERS)
    return names


EVERYONE = who(" ".join(CALLERS))
SIGNED_IN = EVERYONE - {"anonymous"}
MEMBERS = who("observer delegate chair secretary")  # every role in the meeting
READERS = MEMBERS | {"admin"}
STAFF = who("chair secretary admin")
EDITORS = who("secretary admin")
CHAIR = who("chair")
NOBODY: frozenset[str] = frozenset()


# --- the world the requests run in ------------------------------------------------------------


@dataclass
class World:
    """The live server, the meeting and its ids, one HTTP client and one socket per caller."""

    app: Any
    server: LiveServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    tokens: dict[str, str] = field(default_factory=dict)
    http: dict[str, httpx.Client] = field(default_factory=dict)
    sockets: dict[str, socketio.AsyncClient] = field(default_factory=dict)
    mid: int = 0
    body_id: int = 0
    items: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    doc: int = 0  # a plain document on the first item
    secret: int = 0  # a confidential document (by its flag)
    # Confidential in each way (issue #14): by flag, by its item, as the old version of a
    # document confidential by its item, attached to a confidential item after being public
    # (the current and the old version).
    secrets: dict[str, int] = field(default_factory=dict)
    spare_item: dict[str, int] = field(default_factory=dict)  # one per caller, to delete
    spare_link: dict[str, int] = field(default_factory=dict)  # documents linked to "Bế mạc"
    spare_version: dict[str, int] = field(default_factory=dict)  # documents to replace
    spare_participant: dict[str, int] = field(default_factory=dict)
    published_poll: int = 0
    draft_poll: int = 0
    open_poll: int | None = None
    closed_poll: int = 0
    request_id: int = 0
    annotations: dict[str, str] = field(default_factory=dict)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, caller: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = dict(payload)
        if "client_id" in REGISTRY.commands[name].schema.model_fields:
            body.setdefault("client_id", uuid.uuid4().hex)
        answer: dict[str, Any] = self.run(self.sockets[caller].call(name, body, timeout=30))
        return answer

    def chair(self, name: str, **payload: Any) -> dict[str, Any]:
        return self.call("chair", name, {"meeting_id": self.mid, **payload})

    def must(self, caller: str, name: str, **payload: Any) -> dict[str, Any]:
        answer = self.call(caller, name, {"meeting_id": self.mid, **payload})
        assert answer["ok"], (caller, name, answer)
        return answer

    def sign_in(self, username: str) -> str:
        r = httpx.post(f"{self.server.url}/api/auth/signin",
                       json={"username": username, "password": PASSWORD}, timeout=30)
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    def connect(self, caller: str) -> None:
        async def open_socket() -> socketio.AsyncClient:
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(self.server.url, transports=["websocket"],
                                 auth={"token": self.tokens[caller]})
            return client

        self.sockets[caller] = self.run(open_socket())

    def renew(self, caller: str) -> None:
        """A new session, HTTP client and socket for ``caller`` (after signing out everywhere)."""
        if caller in self.http:
            self.http.pop(caller).close()
        if caller in self.sockets:
            self.run(self.sockets.pop(caller).disconnect())
        if caller == "anonymous":
            self.http[caller] = httpx.Client(base_url=self.server.url, timeout=60)
            return
        self.tokens[caller] = self.sign_in({**USERNAMES, "voter": "daibieu2"}[caller])
        self.http[caller] = httpx.Client(
            base_url=self.server.url, timeout=60,
            headers={"authorization": f"Bearer {self.tokens[caller]}"})
        self.connect(caller)


def _people(session: Any, meeting_id: int) -> dict[str, int]:
    rows = session.exec(select(Participant, User).where(
        Participant.meeting_id == meeting_id, Participant.user_id == User.id)).all()
    return {u.username: int(p.id) for p, u in rows}


def _populate(session: Any) -> dict[str, Any]:
    info = create_room(session)
    mid = info["meeting_id"]
    accounts.create_user(session, "quantri", PASSWORD, "Quản trị hệ thống", is_admin=True)
    accounts.create_user(session, "khachmoi", PASSWORD, "Khách mời")
    body = session.exec(select(Body)).one()
    roles = {"chutich": "member", "daibieu1": "member", "daibieu2": "member",
             "thuky": "secretary"}
    users = {u.username: u for u in session.exec(select(User)).all()}
    for username, role in roles.items():
        session.add(BodyMember(body_id=body.id, user_id=users[username].id, role=role))
    for caller in CALLERS:  # spares: a participant and a body member each caller may remove
        spare = accounts.create_user(session, f"khach_{caller}", PASSWORD, f"Khách {caller}")
        session.add(Participant(meeting_id=mid, user_id=spare.id, role="observer"))
        session.add(BodyMember(body_id=body.id, user_id=spare.id, role="member"))
    session.flush()
    items = {i.title: int(i.id) for i in session.exec(
        select(AgendaItem).where(AgendaItem.meeting_id == mid)).all()}
    return {"mid": mid, "body_id": body.id, "items": items, "pids": _people(session, mid)}


def _upload(w: World, data: bytes, **fields: Any) -> int:
    r = w.http["secretary"].post(
        f"/api/meetings/{w.mid}/documents",
        files={"file": ("tai-lieu.pdf", data, "application/pdf")},
        data={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()})
    assert r.status_code == 201, r.text
    document_id: int = r.json()["document"]["id"]
    return document_id


def _version(w: World, document_id: int, data: bytes) -> int:
    r = w.http["secretary"].post(f"/api/documents/{document_id}/versions",
                                 files={"file": ("v2.pdf", data, "application/pdf")})
    assert r.status_code == 201, r.text
    new_id: int = r.json()["document"]["id"]
    return new_id


def _attach(w: World, document_id: int, item: str) -> None:
    r = w.http["secretary"].post(f"/api/meetings/{w.mid}/agenda/{w.items[item]}/documents",
                                 json={"document_id": document_id})
    assert r.status_code in (200, 201), r.text


def confidential_documents(w: World) -> None:
    """One document confidential in each way; their word "Bimat" must never leave as text."""
    secret = samples.pdf(1, marker="Bimat")
    w.secrets["flag"] = w.secret
    w.secrets["item"] = _upload(w, secret, item_id=w.items["Nhân sự lãnh đạo"])
    old = _upload(w, secret)
    _attach(w, old, "Nhân sự lãnh đạo")
    _version(w, old, samples.pdf(1, marker="Bimatmoi"))
    w.secrets["old version"] = old
    later_old = _upload(w, secret)
    later = _version(w, later_old, samples.pdf(1, marker="Bimatsau"))
    _attach(w, later, "Nhân sự lãnh đạo")
    w.secrets["attached later"] = later
    w.secrets["attached later, old version"] = later_old
    for document_id in w.secrets.values():
        _rendered(w, document_id)


def _rendered(w: World, document_id: int) -> None:
    for _ in range(600):
        status = w.http["secretary"].get(f"/api/documents/{document_id}").json()["status"]
        if status == "ready":
            return
        assert status != "failed"
        w.run(asyncio.sleep(0.1))
    raise AssertionError(f"document {document_id} did not render")


def build_world(data_dir: Path, database_url: str, redis_url: str, channel: str) -> World:
    settings = make_settings(data_dir, database_url=database_url, redis_url=redis_url,
                             redis_channel=channel, render_workers=1)
    app = create_app(settings)
    ids = app.runtime.db.run_sync(_populate)
    server = LiveServer(app).__enter__()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    w = World(app, server, loop, thread, mid=ids["mid"], body_id=ids["body_id"],
              items=ids["items"], pids=ids["pids"])
    try:
        populate_live(w)
    except BaseException:
        close_world(w)
        raise
    return w


def populate_live(w: World) -> None:
    """Sessions, documents, spares, the meeting in session and a published poll."""
    for caller in (*CALLERS, "voter"):
        w.renew(caller)
    pdf = samples.pdf(2)
    w.doc = _upload(w, pdf, item_id=w.items["Khai mạc"])
    w.secret = _upload(w, samples.pdf(1, marker="Bimat"), confidential=True)
    for caller in CALLERS:
        w.spare_link[caller] = _upload(w, pdf, item_id=w.items["Bế mạc"])
        w.spare_version[caller] = _upload(w, pdf)
        r = w.http["secretary"].post(f"/api/meetings/{w.mid}/agenda",
                                     json={"title": f"Mục phụ {caller}"})
        assert r.status_code == 201, r.text
        w.spare_item[caller] = r.json()["item_id"]
        w.spare_participant[caller] = w.pids[f"khach_{caller}"]
    _rendered(w, w.doc)
    confidential_documents(w)
    # The meeting in session, a quorum, and one poll voted and published.
    w.must("chair", "meeting.start")
    quorum(w)
    w.published_poll = w.must("chair", "poll.create", kind="yes_no_abstain",
                              question="Thông qua chương trình họp?")["poll_id"]
    w.must("chair", "poll.open", poll_id=w.published_poll)
    for voter in ("chair", "delegate", "voter"):
        w.must(voter, "poll.cast", poll_id=w.published_poll, choice=["yes"])
    w.must("chair", "poll.close", poll_id=w.published_poll)
    w.must("chair", "poll.publish", poll_id=w.published_poll)


def close_world(w: World) -> None:
    for sock in w.sockets.values():
        w.run(sock.disconnect())
    for client in w.http.values():
        client.close()
    w.loop.call_soon_threadsafe(w.loop.stop)
    w.thread.join(5)
    w.loop.close()
    w.server.__exit__(None, None, None)
    w.app.runtime.db.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_pg_url: str,
          module_redis: tuple[str, str]) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        # The matrix sends more commands a second than any person does, and signs in often.
        patch.setattr(dispatch, "COMMAND_RATE", 1e9)
        patch.setattr(dispatch, "COMMAND_BURST", 1e9)
        patch.setattr(accounts, "_hasher", PasswordHash((Argon2Hasher(
            time_cost=1, memory_cost=1024, parallelism=1),)))
        w = build_world(tmp_path_factory.mktemp("matrix"), module_pg_url, *module_redis)
        try:
            yield w
        finally:
            close_world(w)


# --- state that some rows need ----------------------------------------------------------------


def quorum(w: World) -> None:
    for voter in ("chair", "delegate", "voter"):
        w.must(voter, "attendance.check_in")


def current_item(w: World) -> None:
    w.must("chair", "agenda.goto", item_id=w.items["Báo cáo tài chính"])


def presenting(w: World) -> None:
    """The chair holds presenting and shows page 1 of the plain document."""
    w.must("chair", "present.reclaim")
    w.must("chair", "present.page", document_id=w.doc, page=0)


def no_open_poll(w: World) -> None:
    if w.open_poll is not None:
        w.chair("poll.close", poll_id=w.open_poll)
        w.open_poll = None


def draft_poll(w: World) -> None:
    w.draft_poll = w.must("chair", "poll.create", kind="yes_no_abstain",
                          question="Thông qua dự thảo?")["poll_id"]


def open_poll(w: World) -> None:
    no_open_poll(w)
    quorum(w)
    draft_poll(w)
    w.must("chair", "poll.open", poll_id=w.draft_poll)
    w.open_poll = w.draft_poll


def closed_poll(w: World) -> None:
    open_poll(w)
    assert w.open_poll is not None
    w.must("chair", "poll.close", poll_id=w.open_poll)
    w.closed_poll, w.open_poll = w.open_poll, None


def queued(w: World, caller: str) -> int:
    """``caller`` waits to speak on the current item (anew)."""
    current_item(w)
    w.chair("speaker.end")  # whoever speaks finishes
    w.call(caller, "speaker.withdraw", {"meeting_id": w.mid})
    request_id: int = w.must(caller, "speaker.request")["request_id"]
    return request_id


def speaking(caller: str) -> Callable[[World], None]:
    def prepare(w: World) -> None:
        w.must("chair", "speaker.grant", request_id=queued(w, caller))

    return prepare


def waiting(w: World) -> None:
    w.request_id = queued(w, "voter")


def own_annotations(w: World) -> None:
    for caller in MEMBERS:
        uid = f"mx-{caller}-{uuid.uuid4().hex[:8]}"
        w.must(caller, "annotation.create", uid=uid, document_id=w.doc, page=0,
               data={"kind": "note", "at": [40, 40], "text": "Ghi chú riêng"})
        w.annotations[caller] = uid


def restart(w: World) -> None:
    w.chair("meeting.start")


def reclaim(w: World) -> None:
    w.chair("present.reclaim")


# --- the HTTP table ---------------------------------------------------------------------------

Build = Callable[[World, str], Any]


@dataclass(frozen=True)
class Http:
    allowed: frozenset[str]
    path: Build | None = None  # the URL; default: the route's path with the world's ids
    json: Build | None = None
    files: Build | None = None
    form: Build | None = None  # an HTML form (sent with its CSRF token)
    fresh_session: bool = False  # the request ends the session it runs in
    after: Callable[[World, str], None] | None = None  # after each caller's request


def pdf_file(_w: World, _caller: str) -> dict[str, Any]:
    return {"file": ("van-ban.pdf", samples.pdf(1, marker="Moi"), "application/pdf")}


def pack_file(_w: World, caller: str) -> dict[str, Any]:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("meeting.yaml", (
            f"meeting:\n  title: Họp nhập từ gói {caller}\n  body: Ban Quản lý Khu kinh tế\n"
            "agenda:\n  - title: Khai mạc\n"))
    return {"file": ("goi-hop.zip", out.getvalue(), "application/zip")}


M = "/api/meetings/{meeting_id:int}"
D = "/api/documents/{document_id:int}"
B = "/api/bodies/{body_id:int}"
P = M + "/participants/{participant_id:int}"
AGENDA = M + "/agenda/{item_id:int}"
PAGES = "/meetings/{meeting_id:int}"

HTTP: dict[tuple[str, str], Http] = {
    # Public: probes, the sign-in page and form, static files, the service worker.
    ("GET", "/healthz"): Http(EVERYONE),
    ("GET", "/readyz"): Http(EVERYONE),
    # Counters only, no names; block it at the reverse proxy if they must stay inside.
    ("GET", "/metrics"): Http(EVERYONE),
    ("GET", "/api/openapi.json"): Http(EVERYONE),
    ("GET", "/signin"): Http(EVERYONE),
    ("POST", "/signin"): Http(EVERYONE, form=lambda w, c: {
        "username": "khachmoi", "password": PASSWORD, "next": "/"}),
    ("POST", "/locale"): Http(EVERYONE, form=lambda w, c: {"locale": "vi", "next": "/"}),
    ("GET", "/sw.js"): Http(EVERYONE),
    ("GET", "/static"): Http(EVERYONE, path=lambda w, c: "/static/css/app.css"),
    ("GET", "/static/vendor/socket.io"): Http(
        EVERYONE, path=lambda w, c: "/static/vendor/socket.io/socket.io.min.js"),
    ("GET", "/static/vendor/noto-sans"): Http(
        EVERYONE, path=lambda w, c: "/static/vendor/noto-sans/index.css"),
    ("POST", "/api/auth/signin"): Http(EVERYONE, json=lambda w, c: {
        "username": "khachmoi", "password": PASSWORD}),
    # Signed-in callers.
    # Without a session, signing out is a no-op that also ends on the sign-in page.
    ("POST", "/signout"): Http(EVERYONE, form=lambda w, c: {}, fresh_session=True),
    ("POST", "/api/auth/signout"): Http(SIGNED_IN, fresh_session=True),
    ("POST", "/api/auth/signout-all"): Http(SIGNED_IN, after=World.renew),
    ("GET", "/api/me"): Http(SIGNED_IN),
    ("GET", "/"): Http(SIGNED_IN),  # anonymous callers are sent to sign in
    ("GET", "/manage"): Http(SIGNED_IN),  # lists only the meetings the caller prepares
    ("GET", "/api/meetings"): Http(SIGNED_IN),  # lists only the caller's own meetings
    ("GET", "/api/bodies"): Http(SIGNED_IN),  # lists only the caller's own bodies
    # Bodies: admins manage them; members (and admins) read one.
    ("POST", "/api/bodies"): Http(who("admin"), json=lambda w, c: {"name": f"Cơ quan {c}"}),
    ("GET", B): Http(who("delegate chair secretary admin")),
    ("PATCH", B): Http(who("admin"), json=lambda w, c: {"description": "Quy chế làm việc"}),
    ("POST", B + "/members"): Http(who("admin"), json=lambda w, c: {"username": "khachmoi"}),
    ("DELETE", B + "/members/{username}"): Http(
        who("admin"), path=lambda w, c: f"/api/bodies/{w.body_id}/members/khach_{c}"),
    # Meetings: a body's secretary (here: the meeting's secretary) and admins create them.
    ("POST", "/api/meetings"): Http(EDITORS, json=lambda w, c: {
        "title": "Phiên họp bổ sung", "body_id": w.body_id}),
    ("GET", M): Http(READERS),
    ("PATCH", M): Http(EDITORS, json=lambda w, c: {"place": "Hội trường tầng 3"}),
    # The chair opens and closes the session, secretaries and admins do the rest.
    ("POST", M + "/status"): Http(STAFF, json=lambda w, c: {"status": "in_session"}),
    ("GET", M + "/changes"): Http(STAFF),
    ("GET", M + "/invite.ics"): Http(READERS),
    ("GET", M + "/pack.zip"): Http(STAFF),
    ("POST", "/api/packs"): Http(EDITORS, files=pack_file),
    # Participants and proxies: read by everyone in the meeting, changed by editors.
    ("GET", M + "/participants"): Http(READERS),
    ("POST", M + "/participants"): Http(EDITORS, json=lambda w, c: {
        "username": "khachmoi", "role": "observer"}),
    ("PATCH", P): Http(EDITORS, path=lambda w, c: f"{_m(w)}/participants/{w.pids['daibieu2']}",
                       json=lambda w, c: {"vote_weight": 1}),
    ("DELETE", P): Http(EDITORS, path=lambda w, c:
                        f"{_m(w)}/participants/{w.spare_participant[c]}"),
    ("PUT", P + "/proxy"): Http(EDITORS, path=lambda w, c:
                                f"{_m(w)}/participants/{w.pids['daibieu2']}/proxy",
                                json=lambda w, c: {"holder_id": w.pids["chutich"]}),
    ("DELETE", P + "/proxy"): Http(EDITORS, path=lambda w, c:
                                   f"{_m(w)}/participants/{w.pids['daibieu2']}/proxy"),
    # The agenda: read by everyone in the meeting, changed by editors.
    ("GET", M + "/agenda"): Http(READERS),
    ("POST", M + "/agenda"): Http(EDITORS, json=lambda w, c: {"title": "Kiến nghị của cử tri"}),
    ("PATCH", AGENDA): Http(EDITORS, json=lambda w, c: {"presenter": "Sở Tài chính"}),
    ("POST", AGENDA + "/move"): Http(EDITORS, json=lambda w, c: {"parent_id": None,
                                                                  "position": 0}),
    ("DELETE", AGENDA): Http(EDITORS, path=lambda w, c:
                             f"{_m(w)}/agenda/{w.spare_item[c]}"),
    ("POST", AGENDA + "/documents"): Http(EDITORS, path=lambda w, c:
                                          f"{_m(w)}/agenda/{w.items['Thu ngân sách']}/documents",
                                          json=lambda w, c: {"document_id": w.spare_link[c]}),
    ("PUT", AGENDA + "/documents"): Http(EDITORS, json=lambda w, c: {"document_ids": [w.doc]}),
    ("DELETE", AGENDA + "/documents/{document_id:int}"): Http(EDITORS, path=lambda w, c: (
        f"{_m(w)}/agenda/{w.items['Bế mạc']}/documents/{w.spare_link[c]}")),
    # Documents: uploaded by editors, read by everyone in the meeting.
    ("POST", M + "/documents"): Http(EDITORS, files=pdf_file),
    ("GET", M + "/documents"): Http(READERS),
    ("GET", M + "/book.pdf"): Http(READERS),
    ("POST", D + "/versions"): Http(EDITORS, files=pdf_file, path=lambda w, c:
                                    f"/api/documents/{w.spare_version[c]}/versions"),
    # Allowed: 409 document_not_confidential (the plain document).
    ("POST", D + "/declassify"): Http(EDITORS, json=lambda w, c: {"reason": "Đã công bố"}),
    ("GET", D): Http(READERS),
    ("GET", D + "/file"): Http(READERS),
    ("GET", D + "/outline"): Http(READERS),
    ("GET", D + "/pages/{page:int}/text"): Http(READERS),
    ("GET", D + "/pages/{page:int}/{size}"): Http(READERS),
    # Annotations: each reader gets what they may read, exports carry their own notes.
    ("GET", D + "/annotations"): Http(READERS),
    ("GET", D + "/annotated.pdf"): Http(READERS),
    ("GET", M + "/annotated.pdf"): Http(READERS),
    # The live meeting and its votes.
    ("GET", M + "/presenting"): Http(READERS),
    ("GET", M + "/polls"): Http(READERS),
    ("GET", M + "/polls/{poll_id:int}/result.json"): Http(READERS),
    ("GET", M + "/polls/{poll_id:int}/result.csv"): Http(READERS),
    # Pages.
    ("GET", PAGES): Http(READERS),
    ("GET", PAGES + "/chair"): Http(STAFF),
    ("GET", "/manage/meetings/{meeting_id:int}"): Http(STAFF),  # read-only for the chair
}

# The same document routes for a confidential document, one form of its content each:
# observers do not learn it exists, and nobody gets its file, its words or its bookmarks, only
# watermarked page images (and thumbnails). Run for a document confidential in each way.
SECRET_DOC = {
    ("GET", D): Http(READERS - {"observer"}),
    ("GET", D + "/file"): Http(NOBODY),
    ("GET", D + "/outline"): Http(NOBODY),
    ("GET", D + "/pages/{page:int}/text"): Http(NOBODY),
    ("GET", D + "/pages/{page:int}/{size}"): Http(READERS - {"observer"}),  # a thumbnail
    ("GET", D + "/pages/{page:int}/tablet"): Http(READERS - {"observer"}),  # a page image
    ("GET", D + "/annotations"): Http(READERS - {"observer"}),
    ("GET", D + "/annotated.pdf"): Http(NOBODY),
    # Editors: 409 document_in_confidential_item (or, declassified, document_not_confidential);
    # the document itself given by ``check_http``.
    ("POST", D + "/declassify"): Http(EDITORS, json=lambda w, c: {"reason": "Đã công bố"}),
}
SECRET_KINDS = ("flag", "item", "old version", "attached later", "attached later, old version")


def _m(w: World) -> str:
    return f"/api/meetings/{w.mid}"


def fill(w: World, template: str, document_id: int) -> str:
    values = {"meeting_id:int": w.mid, "document_id:int": document_id,
              "item_id:int": w.items["Khai mạc"], "participant_id:int": w.pids["daibieu2"],
              "poll_id:int": w.published_poll, "body_id:int": w.body_id, "page:int": 1,
              "size": "thumb"}
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", str(value))
    assert "{" not in out, f"no value for a placeholder in {template}"
    return out


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the web application serves; HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in app.other_asgi_app.routes:
        if isinstance(route, Route):
            found |= {(m, route.path) for m in (route.methods or ()) if m != "HEAD"}
        elif isinstance(route, Mount):
            found.add(("GET", route.path))
        else:
            raise AssertionError(f"unknown kind of route {route!r}")
    return found


def http_refused(method: str, r: httpx.Response) -> bool:
    """Whether the answer refused the caller (and, if so, with a consistent status and code)."""
    assert r.status_code < 500, f"{r.status_code}: {r.text[:300]}"
    code = None
    if r.headers.get("content-type", "").startswith("application/json") and r.status_code >= 400:
        code = r.json()["error"]["code"]
    if r.status_code in (401, 403):
        assert code is None or code in REFUSALS, f"refused with an unlisted code {code}"
        return True
    if r.status_code == 404 and code in VISIBILITY:
        return True
    assert code not in REFUSALS, f"{code} answered with status {r.status_code}"
    location = r.headers.get("location", "")
    return method == "GET" and r.is_redirect and location.startswith("/signin")


def send(w: World, caller: str, method: str, url: str, row: Http) -> httpx.Response:
    kwargs: dict[str, Any] = {}
    if row.json is not None:
        kwargs["json"] = row.json(w, caller)
    if row.files is not None:
        kwargs["files"] = row.files(w, caller)
    if row.form is None and not row.fresh_session:
        return w.http[caller].request(method, url, **kwargs)
    headers = {}
    if caller != "anonymous":
        token = w.sign_in(USERNAMES[caller]) if row.fresh_session else w.tokens[caller]
        headers["authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=w.server.url, timeout=60, headers=headers) as browser:
        if row.form is not None:
            # A browser: the sign-in page sets the CSRF cookie that the form sends back.
            csrf = browser.get("/signin").cookies["ecabinet_csrf"]
            kwargs["data"] = {**row.form(w, caller), "csrf_token": csrf}
        return browser.request(method, url, **kwargs)


def check_http(w: World, key: tuple[str, str], row: Http, document_id: int) -> None:
    method, template = key
    mismatches = []
    for caller in CALLERS:
        url = row.path(w, caller) if row.path else fill(w, template, document_id)
        r = send(w, caller, method, url, row)
        refused = http_refused(method, r)
        if refused == (caller in row.allowed):
            verdict = "refused" if refused else "allowed"
            mismatches.append(f"{caller}: {verdict} ({r.status_code} {r.text[:160]})")
        if row.after is not None:
            row.after(w, caller)
    assert not mismatches, f"{method} {template}:\n" + "\n".join(mismatches)


def test_every_route_has_a_row(world: World) -> None:
    served = app_routes(world.app)
    declared = {(m, p) for m, p in REGISTRY.endpoints}
    missing = sorted((served | declared) - set(HTTP))
    assert not missing, f"routes with no row in the matrix: {missing}"
    stale = sorted(set(HTTP) - served)
    assert not stale, f"rows for routes the application does not serve: {stale}"


def raw_upload_status(w: World, caller: str, path: str) -> int:
    """Send only the headers of a 10 GB multipart upload: the answer comes before any body."""
    with socket.create_connection(("127.0.0.1", w.server.port), timeout=30) as sock:
        sock.sendall((
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {w.tokens[caller]}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            "Content-Length: 10000000000\r\n\r\n").encode())
        head = sock.recv(4096)
    return int(head.split()[1])


def test_uploads_are_authorised_before_they_stream(world: World) -> None:
    """Nobody who may not upload gets to send the bytes: refused on the headers alone (403),
    while those who may are stopped by the size limit (413) on the same headers."""
    paths = [f"/api/meetings/{world.mid}/documents", "/api/packs",
             f"/api/documents/{world.doc}/versions"]
    for path in paths:
        assert raw_upload_status(world, "delegate", path) == 403, path
        assert raw_upload_status(world, "secretary", path) == 413, path


@pytest.mark.parametrize("key", list(HTTP), ids=lambda k: f"{k[0]} {k[1]}")
def test_http_route(world: World, key: tuple[str, str]) -> None:
    check_http(world, key, HTTP[key], world.doc)


# Declassifying runs only on the document a confidential item holds: on the others it would
# declassify a document later rows still expect confidential.
SECRET_CASES = [
    pytest.param(key, kind, id=f"{key[0]} {key[1]} (confidential, {kind})")
    for kind in SECRET_KINDS
    for key in SECRET_DOC
    if kind == "item" or not key[1].endswith("/declassify")
]


@pytest.mark.parametrize(("key", "kind"), SECRET_CASES)
def test_http_route_on_a_confidential_document(world: World, key: tuple[str, str], kind: str
                                               ) -> None:
    check_http(world, key, SECRET_DOC[key], world.secrets[kind])


def pdf_words(data: bytes) -> str:
    with pymupdf.open(stream=data, filetype="pdf") as pdf:
        return "".join(page.get_text() for page in pdf)


def test_no_export_carries_a_confidential_document(world: World) -> None:
    """The collections (pack book, annotated pack, pack zip) leave every confidential document
    out, whoever asks: a placeholder page or a note, never its pages or its file."""
    for caller in READERS:
        for path in ("book.pdf", "annotated.pdf"):
            r = world.http[caller].get(f"/api/meetings/{world.mid}/{path}")
            assert r.status_code == 200, (caller, path, r.text[:200])
            assert "Bimat" not in pdf_words(r.content), (caller, path)
    for caller in STAFF:
        r = world.http[caller].get(f"/api/meetings/{world.mid}/pack.zip")
        assert r.status_code == 200, (caller, r.text[:200])
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            pdfs = [archive.read(n) for n in archive.namelist() if n.endswith(".pdf")]
        assert pdfs and not [p for p in pdfs if "Bimat" in pdf_words(p)], caller


# --- the Socket.IO table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cmd:
    allowed: frozenset[str]
    payload: Build = lambda w, c: {}  # the fields besides meeting_id and client_id
    prepare: Callable[[World], None] | None = None
    after: Callable[[World], None] | None = None


def note(text: str) -> dict[str, Any]:
    return {"kind": "note", "at": [60, 60], "text": text}


SPEAKERS = who("delegate chair")  # secretaries and observers do not take the floor
PRESENTER = CHAIR  # in this meeting the chair holds presenting (nobody was handed it)

COMMANDS: dict[str, Cmd] = {
    "whoami": Cmd(SIGNED_IN),
    "meeting.join": Cmd(READERS),
    # Leaving only takes the connection out of rooms it is in: nothing to refuse.
    "meeting.leave": Cmd(SIGNED_IN),
    "meeting.start": Cmd(CHAIR),
    "agenda.goto": Cmd(CHAIR, lambda w, c: {"item_id": w.items["Khai mạc"]}),
    "agenda.next": Cmd(CHAIR),
    "agenda.previous": Cmd(CHAIR),
    "attendance.check_in": Cmd(MEMBERS),
    "attendance.check_out": Cmd(MEMBERS, after=quorum),
    "attendance.mark": Cmd(who("chair secretary"), lambda w, c: {
        "participant_id": w.pids["daibieu2"], "status": "present"}),
    # Observers keep private notes; sharing is for the meeting's members.
    "annotation.create": Cmd(who("delegate chair secretary"), lambda w, c: {
        "document_id": w.doc, "page": 0, "visibility": "shared", "data": note("Chia sẻ")}),
    "annotation.update": Cmd(MEMBERS, lambda w, c: {
        "uid": w.annotations.get(c, "mx-none"), "base_version": 1, "data": note("Đã sửa")},
        prepare=own_annotations),
    "annotation.delete": Cmd(MEMBERS, lambda w, c: {"uid": w.annotations.get(c, "mx-none")},
                             prepare=own_annotations),
    "poll.create": Cmd(who("chair secretary"), lambda w, c: {
        "kind": "yes_no_abstain", "question": "Biểu quyết thử?"}),
    "poll.update": Cmd(who("chair secretary"), lambda w, c: {
        "poll_id": w.draft_poll, "question": "Biểu quyết (sửa)?"}, prepare=draft_poll),
    "poll.open": Cmd(CHAIR, lambda w, c: {"poll_id": w.draft_poll},
                     prepare=lambda w: (no_open_poll(w), quorum(w), draft_poll(w))[-1],
                     after=lambda w: setattr(w, "open_poll", w.draft_poll)),
    # Only those with a voting right vote: not observers, not (by default) secretaries.
    "poll.cast": Cmd(who("delegate chair"), lambda w, c: {
        "poll_id": w.open_poll, "choice": ["yes"]}, prepare=open_poll),
    "poll.close": Cmd(CHAIR, lambda w, c: {"poll_id": w.open_poll}, prepare=open_poll),
    "poll.publish": Cmd(CHAIR, lambda w, c: {"poll_id": w.closed_poll}, prepare=closed_poll),
    "poll.cancel": Cmd(CHAIR, lambda w, c: {"poll_id": w.draft_poll}, prepare=draft_poll),
    "present.page": Cmd(PRESENTER, lambda w, c: {"document_id": w.doc, "page": 1},
                        prepare=reclaim),
    "present.stop": Cmd(PRESENTER, prepare=presenting),
    "present.handover": Cmd(CHAIR, lambda w, c: {"participant_id": w.pids["daibieu2"]},
                            after=reclaim),
    "present.reclaim": Cmd(CHAIR),
    "ink.draw": Cmd(PRESENTER, lambda w, c: {
        "stroke": f"s-{c}", "n": 0, "document_id": w.doc, "page": 0,
        "points": [[50, 50], [60, 60]]}, prepare=presenting),
    "ink.point": Cmd(PRESENTER, lambda w, c: {"document_id": w.doc, "page": 0, "at": [70, 70]},
                     prepare=presenting),
    "ink.clear": Cmd(PRESENTER, lambda w, c: {"strokes": None}, prepare=presenting),
    "ink.keep": Cmd(PRESENTER, lambda w, c: {
        "stroke": f"k-{c}-{uuid.uuid4().hex[:6]}", "document_id": w.doc, "page": 0,
        "points": [[50, 50], [80, 80]], "colour": "#E53935", "width": 3.0},
        prepare=presenting),
    "speaker.request": Cmd(SPEAKERS, prepare=current_item),
    "speaker.withdraw": Cmd(who("delegate chair secretary"), prepare=current_item),
    "speaker.grant": Cmd(CHAIR, prepare=waiting),
    "speaker.refuse": Cmd(CHAIR, lambda w, c: {"request_id": w.request_id}, prepare=waiting),
    "speaker.reorder": Cmd(CHAIR, lambda w, c: {"request_ids": []}, prepare=current_item),
    # The speaker ends their own turn; the chair ends anyone's.
    "speaker.end": Cmd(who("delegate chair"), prepare=speaking("delegate")),
    "timer.start": Cmd(CHAIR, prepare=current_item),
    "timer.pause": Cmd(CHAIR, prepare=current_item),
    "timer.extend": Cmd(CHAIR, lambda w, c: {"seconds": 60}, prepare=current_item),
    "timer.reset": Cmd(CHAIR, lambda w, c: {"planned_seconds": 300}, prepare=current_item),
    "meeting.end": Cmd(CHAIR, after=restart),
}

# The same commands in other states, where the answer depends on more than the role.
VARIANTS: dict[str, tuple[str, Cmd]] = {
    "speaker.request for someone else": ("speaker.request", Cmd(
        who("chair secretary"), lambda w, c: {"participant_id": w.pids["daibieu2"]},
        prepare=lambda w: (current_item(w), w.call("voter", "speaker.withdraw",
                                                   {"meeting_id": w.mid}))[0],
        after=lambda w: w.call("voter", "speaker.withdraw", {"meeting_id": w.mid}))),
    # Nobody withdraws another's request (the chair refuses it instead).
    "speaker.withdraw of another's request": ("speaker.withdraw", Cmd(
        NOBODY, lambda w, c: {"request_id": w.request_id}, prepare=waiting)),
    "speaker.end while another speaks": ("speaker.end", Cmd(
        CHAIR, prepare=speaking("voter"))),
    "annotation.create, private": ("annotation.create", Cmd(MEMBERS, lambda w, c: {
        "document_id": w.doc, "page": 0, "data": note("Riêng")})),
    "annotation.create on a confidential document": ("annotation.create", Cmd(
        who("delegate chair secretary"), lambda w, c: {
            "document_id": w.secret, "page": 0, "data": note("Mật")})),
}


def command_refused(ack: Any) -> bool:
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if ack["ok"]:
        return False
    code = ack["error"]["code"]
    assert code != "internal", ack
    return code in REFUSALS


def check_command(w: World, name: str, row: Cmd) -> None:
    assert "anonymous" not in row.allowed, "sockets need a signed-in session"
    if row.prepare is not None:
        row.prepare(w)
    mismatches = []
    for caller in CALLERS[1:]:
        ack = w.call(caller, name, {"meeting_id": w.mid, **row.payload(w, caller)})
        refused = command_refused(ack)
        if refused == (caller in row.allowed):
            mismatches.append(f"{caller}: {'refused' if refused else 'allowed'} ({ack})")
    if row.after is not None:
        row.after(w)
    assert not mismatches, f"{name}:\n" + "\n".join(mismatches)


def test_every_command_has_a_row() -> None:
    missing = sorted(set(REGISTRY.commands) - set(COMMANDS))
    assert not missing, f"commands with no row in the matrix: {missing}"
    stale = sorted(set(COMMANDS) - set(REGISTRY.commands))
    assert not stale, f"rows for commands nobody declares: {stale}"


async def close_refused(client: socketio.AsyncClient) -> None:
    """A refused handshake leaves the client's HTTP session open: close it."""
    if client.eio.http is not None and not client.eio.http.closed:
        await client.eio.http.close()


def test_anonymous_sockets_are_refused(world: World) -> None:
    """No session, no socket: every command is refused to anonymous callers at the handshake."""

    async def try_connect(auth: Any) -> str:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(world.server.url, transports=["websocket"], auth=auth)
        except socketio.exceptions.ConnectionError as exc:
            await close_refused(client)
            return str(exc)
        await client.disconnect()
        return "connected"

    assert world.run(try_connect(None)) != "connected"
    assert world.run(try_connect({"token": "not-a-session"})) != "connected"


def test_sockets_from_another_origin_are_refused(world: World) -> None:
    """A page on another site cannot open a socket with the user's credentials (cross-site
    WebSocket hijacking): the handshake's Origin must be this server's own."""

    async def try_connect(headers: dict[str, str]) -> bool:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(world.server.url, transports=["websocket"], headers=headers,
                                 auth={"token": world.tokens["delegate"]})
        except socketio.exceptions.ConnectionError:
            await close_refused(client)
            return False
        await client.disconnect()
        return True

    host = world.server.url.split("://", 1)[1]
    assert not world.run(try_connect({"Origin": "http://evil.example"}))
    assert not world.run(try_connect({"Origin": f"http://{host}.evil.example"}))
    assert world.run(try_connect({"Origin": world.server.url}))  # the tablet page itself
    # Behind the TLS proxy, which says so in X-Forwarded-Proto.
    assert world.run(try_connect({"Origin": f"https://{host}", "X-Forwarded-Proto": "https"}))
    assert world.run(try_connect({}))  # not a browser: the Python client, the load generator


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command(world: World, name: str) -> None:
    check_command(world, name, COMMANDS[name])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_command_in_another_state(world: World, variant: str) -> None:
    name, row = VARIANTS[variant]
    check_command(world, name, row)
