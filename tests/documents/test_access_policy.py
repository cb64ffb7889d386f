"""One access policy for document content (issue #14, findings 1, 2, 10 and 14).

Four documents are confidential in four ways: by their flag, by the agenda item they were
uploaded to, as the old version of a document made confidential by its item (finding 1), and as
a document attached to a confidential item only after it had been public (and its old version).
Every route that serves a document, every export and every event is checked against each of
them, for each kind of reader; then the exports (pack book, pack zip and ``ecabinet pack
export``, annotated pack), what observers replay and the caching of content.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymupdf
import pytest
from sqlmodel import select

from ecabinet.domain.access import CONFIDENTIAL, Form, Grant, decide
from ecabinet.domain.roles import MeetingRole
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import load_actor
from ecabinet.services.kernel.snapshot import build_snapshot, catch_up
from ecabinet.services.packs import transfer
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.models import Document, Meeting, User
from tests.documents import samples
from tests.documents.conftest import Api

READERS = ("observer", "delegate", "chair", "secretary", "admin")
USERS = {"observer": "quansat", "delegate": "daibieu1", "chair": "chutich",
         "secretary": "thuky", "admin": "quantri"}
SECRET_ITEM = "Nhân sự lãnh đạo"
KINDS = ("flag", "item", "old_version", "later", "later_old")


@dataclass
class World:
    mid: int
    items: dict[str, int]
    api: dict[str, Api]
    secret: dict[str, int] = field(default_factory=dict)  # kind -> document id
    markers: dict[int, str] = field(default_factory=dict)  # current document id -> its word
    public: int = 0
    # Document id -> the log's head just before it became confidential (it was public before).
    public_until: dict[int, int] = field(default_factory=dict)


def _version(api: Api, document_id: int, data: bytes) -> int:
    r = api.client.post(f"/api/documents/{document_id}/versions",
                        files={"file": ("v2.pdf", data, "application/pdf")}, headers=api.headers)
    assert r.status_code == 201, r.text
    new_id: int = r.json()["document"]["id"]
    return new_id


def _attach(w: World, document_id: int, item: str) -> None:
    r = w.api["secretary"].client.post(
        f"/api/meetings/{w.mid}/agenda/{w.items[item]}/documents",
        json={"document_id": document_id}, headers=w.api["secretary"].headers)
    assert r.status_code in (200, 201), r.text


def _head(app: Any, mid: int) -> int:
    def read(session: Any) -> int:
        meeting = session.get(Meeting, mid)
        return int(meeting.last_seq)

    head: int = app.runtime.db.run_sync(read)
    return head


@pytest.fixture
def world(app: Any, as_user: Callable[[str], Api], room: dict[str, Any],
          make_user: Callable[..., dict[str, Any]]) -> Iterator[World]:
    make_user("quantri", "Quản trị hệ thống", is_admin=True)
    api = {caller: as_user(name) for caller, name in USERS.items()}
    mid = room["meeting_id"]
    agenda = api["secretary"].get(f"/api/meetings/{mid}/agenda").json()["items"]
    w = World(mid, {i["title"]: i["id"] for i in agenda}, api)
    sec = api["secretary"]
    w.public = sec.uploaded(mid, samples.pdf(2, marker="Congkhai"), title="Báo cáo chung",
                            item_id=w.items["Khai mạc"])["id"]
    flag = sec.uploaded(mid, samples.pdf(2, marker="Coco"), title="Mật theo cờ",
                        confidential=True)["id"]
    item = sec.uploaded(mid, samples.pdf(2, marker="Mumu"), title="Mật theo mục",
                        item_id=w.items[SECRET_ITEM])["id"]
    # Finding 1: public when uploaded, confidential by the item it was then attached to, and
    # replaced by a new version: the old one keeps no agenda link.
    old = sec.uploaded(mid, samples.pdf(2, marker="Cucu"), title="Tờ trình nhân sự")["id"]
    w.public_until[old] = _head(app, mid)
    _attach(w, old, SECRET_ITEM)
    new = _version(sec, old, samples.pdf(2, marker="Moimoi"))
    # Public for a while (with two versions), then attached to a confidential item.
    later_old = sec.uploaded(mid, samples.pdf(2, marker="Sausau"), title="Phương án")["id"]
    later = _version(sec, later_old, samples.pdf(2, marker="Muonmuon"))
    w.public_until[later] = w.public_until[later_old] = _head(app, mid)
    _attach(w, later, SECRET_ITEM)
    w.secret = {"flag": flag, "item": item, "old_version": old, "later": later,
                "later_old": later_old}
    w.markers = {flag: "Coco", item: "Mumu", new: "Moimoi", later: "Muonmuon"}
    for document_id in (w.public, flag, item, old, new, later_old, later):
        assert sec.rendered(document_id)["status"] == "ready"
    yield w


# --- every route, for each confidential document and each reader ----------------------------

# What each reader gets from each route, for a confidential document (observers: 404 for all).
ROUTES: dict[str, tuple[str, str]] = {
    # route (``{id}`` the document) -> (what members get, the code when refused)
    "/api/documents/{id}": ("200", ""),
    "/api/documents/{id}/pages/1/tablet": ("watermarked", ""),
    "/api/documents/{id}/pages/1/zoom": ("watermarked", ""),
    "/api/documents/{id}/pages/1/thumb": ("watermarked", ""),
    "/api/documents/{id}/pages/1/text": ("403", "confidential_images_only"),
    "/api/documents/{id}/outline": ("403", "confidential_images_only"),
    "/api/documents/{id}/file": ("403", "confidential_no_download"),
    "/api/documents/{id}/annotated.pdf": ("403", "confidential_no_export"),
    "/api/documents/{id}/annotations": ("200", ""),
}


def test_every_route_of_every_confidential_document_follows_the_policy(world: World) -> None:
    problems = []
    for kind, document_id in world.secret.items():
        for route, (member, code) in ROUTES.items():
            url = route.replace("{id}", str(document_id))
            for caller in READERS:
                r = world.api[caller].get(url)
                got = f"{r.status_code} {r.text[:120] if r.status_code != 200 else ''}"
                if caller == "observer":
                    ok = r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
                elif member == "watermarked":
                    ok = (r.status_code == 200 and r.headers["etag"].startswith('"w-')
                          and r.headers["cache-control"] == "private, max-age=60")
                elif member == "200":
                    ok = r.status_code == 200
                else:
                    ok = r.status_code == 403 and r.json()["error"]["code"] == code
                if not ok:
                    problems.append(f"{kind} {url} {caller}: {got}")
        status = world.api["delegate"].get(f"/api/documents/{document_id}").json()
        if not (status["confidential"] and status["downloadable"] is False
                and status["urls"]["file"] is None and status["urls"]["text"] is None
                and status["urls"]["outline"] is None):
            problems.append(f"{kind}: status says {status}")
    assert not problems, "\n".join(problems)
    # The public document, for contrast: every form, for everyone in the meeting.
    for caller in READERS:
        for route in ("/pages/1/text", "/outline", "/file", "/pages/1/tablet"):
            r = world.api[caller].get(f"/api/documents/{world.public}{route}")
            assert r.status_code == 200, (caller, route, r.text[:200])


def test_the_policy_table_covers_every_form() -> None:
    assert set(CONFIDENTIAL) == set(Form)
    for form in Form:
        assert decide(MeetingRole.DELEGATE, is_admin=False, confidential=False,
                      form=form).grant is Grant.FULL
        assert decide(MeetingRole.OBSERVER, is_admin=False, confidential=True,
                      form=form).grant is Grant.HIDDEN
        member = decide(MeetingRole.CHAIR, is_admin=False, confidential=True, form=form)
        assert member.grant is not Grant.FULL or form in (Form.LISTING, Form.EVENT)
        assert decide(None, is_admin=True, confidential=True, form=form) == member


# --- exports ----------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        return "".join(page.get_text() for page in doc)


def confidential_blobs(app: Any, world: World) -> dict[str, bytes]:
    """The stored (sanitised) PDF of every current confidential document, by its word."""
    store = BlobStore(app.runtime.settings.data_dir)

    def read(session: Any) -> dict[str, str]:
        return {marker: session.get(Document, doc_id).blob_sha256
                for doc_id, marker in world.markers.items()}

    shas = app.runtime.db.run_sync(read)
    return {marker: store.path(sha).read_bytes() for marker, sha in shas.items()}


def test_no_export_carries_a_confidential_document(app: Any, world: World, tmp_path: Any
                                                   ) -> None:
    blobs = confidential_blobs(app, world)
    # The pack book (members: a placeholder page; observers: nothing).
    for caller in ("delegate", "observer", "chair"):
        r = world.api[caller].get(f"/api/meetings/{world.mid}/book.pdf")
        assert r.status_code == 200, r.text
        text = pdf_text(r.content)
        assert "Congkhai" in text
        assert not [m for m in blobs if m in text], caller
    # The annotated pack.
    r = world.api["delegate"].get(f"/api/meetings/{world.mid}/annotated.pdf")
    assert r.status_code == 200 and not [m for m in blobs if m in pdf_text(r.content)]
    # Finding 2: the pack zip hands the staff no confidential PDF, and says what it left out.
    for caller in ("chair", "secretary", "admin"):
        r = world.api[caller].get(f"/api/meetings/{world.mid}/pack.zip")
        assert r.status_code == 200, r.text
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            contents = {name: zf.read(name) for name in zf.namelist()}
        assert not [m for m, data in blobs.items() if data in contents.values()], caller
        yaml_text = contents["meeting.yaml"].decode("utf-8")
        assert "Tài liệu mật không có trong gói" in yaml_text
        for title in ("Mật theo cờ", "Mật theo mục", "Tờ trình nhân sự", "Phương án"):
            assert title in yaml_text.split("\nmeeting:")[0]  # named in the note only
        assert len([n for n in contents if n.endswith(".pdf")]) == 1  # the public one
    # ``ecabinet pack export``: the zip and the book written beside it.
    settings = app.runtime.settings
    exported = app.runtime.db.run_sync(transfer.export_pack, world.mid, settings)
    out = transfer.write_zip(exported, tmp_path / "pack.zip")
    with zipfile.ZipFile(out) as zf:
        assert not [m for m, data in blobs.items() if data in map(zf.read, zf.namelist())]
    transfer.write_book(exported, tmp_path / "pack.pdf")
    text = pdf_text((tmp_path / "pack.pdf").read_bytes())
    assert "Congkhai" in text and "TÀI LIỆU MẬT" in text
    assert not [m for m in blobs if m in text]


# --- events and what observers replay ----------------------------------------------------------

DOC_KEYS = {"document_id", "replaced_id", "replaces_id", "replaced_by_id", "document_ids",
            "removed_ids"}


def named_documents(value: Any, inside: bool = False) -> set[int]:
    """Every document id an event payload or snapshot names."""
    found: set[int] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in DOC_KEYS:
                found |= {i for i in (item if isinstance(item, list) else [item])
                          if isinstance(i, int)}
            elif key == "id" and inside:
                found |= {item} if isinstance(item, int) else set()
            else:
                found |= named_documents(item, inside or "document" in key)
    elif isinstance(value, list):
        for item in value:
            found |= named_documents(item, inside)
    return found


def observer_view(app: Any, mid: int, since: int) -> tuple[dict[str, Any], dict[str, Any]]:
    def read(session: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        user = session.exec(select(User).where(User.username == "quansat")).one()
        info = SessionInfo(user.id, user.username, user.full_name, False, "vi", 0)
        meeting, actor = load_actor(session, info, mid)
        return build_snapshot(session, actor, meeting), catch_up(session, actor, meeting, since)

    found: tuple[dict[str, Any], dict[str, Any]] = app.runtime.db.run_sync(read)
    return json.loads(json.dumps(found, default=str))  # type: ignore[no-any-return]


def test_observers_get_no_id_event_or_count_of_confidential_documents(app: Any, world: World
                                                                      ) -> None:
    snapshot, replay = observer_view(app, world.mid, 0)
    events = replay["events"]
    assert [e["seq"] for e in events] == list(range(1, replay["seq"] + 1))  # gap-free
    secret = set(world.secret.values()) | set(world.markers)
    never = secret - set(world.public_until)  # confidential from the start: never named
    for ev in events:
        named = named_documents(ev["payload"])
        assert not named & never, ev
        for document_id, seq in world.public_until.items():
            if ev["seq"] > seq and document_id in named:  # afterwards: only its removal
                assert ev["type"] == "document.reclassified", ev
                assert ev["payload"]["removed_ids"] == [document_id], ev
    reclassified = [e for e in events if e["type"] == "document.reclassified"]
    assert [e["payload"]["removed_ids"] for e in reclassified] == [
        [world.secret["old_version"]], [world.secret["later"]]]
    assert all(e["payload"]["documents"] == [] for e in reclassified)
    # The confidential uploads and replacements are there only as placeholders.
    withheld = [e for e in events if e["type"] == "event.withheld"]
    assert withheld and all(e["payload"] == {} for e in withheld)
    assert not named_documents(snapshot["snapshot"]) & secret
    listing = world.api["observer"].get(f"/api/meetings/{world.mid}/documents").json()
    assert [d["id"] for d in listing["documents"]] == [world.public]
    detail = world.api["observer"].get(f"/api/meetings/{world.mid}").json()
    assert not named_documents(detail) & secret
    # Members get it all, and a new access version for what was reclassified.
    member = world.api["delegate"].get(f"/api/meetings/{world.mid}/documents").json()
    shown = {d["id"]: d for d in member["documents"]}
    assert {world.public, world.secret["flag"], world.secret["later"]} <= set(shown)
    assert shown[world.secret["later"]]["confidential"] is True
    assert shown[world.secret["later"]]["access_version"] == 2


# --- caching (finding 10) --------------------------------------------------------------------


def test_content_is_cached_privately_under_urls_that_change_with_access(world: World) -> None:
    delegate = world.api["delegate"]
    unversioned = delegate.get(f"/api/documents/{world.public}/pages/1/tablet")
    assert unversioned.headers["cache-control"] == "private, no-cache"  # not public for a year
    status = delegate.get(f"/api/documents/{world.public}").json()
    assert status["access_version"] == 1
    page = status["urls"]["page"].replace("{page}", "1").replace("{size}", "tablet")
    assert page == f"/api/documents/{world.public}/pages/1/tablet?v=1"
    for url in (page, status["urls"]["text"].replace("{page}", "1"), status["urls"]["outline"],
                status["urls"]["file"]):
        r = delegate.get(url)
        assert r.status_code == 200, (url, r.text[:200])
        assert r.headers["cache-control"] == "private, max-age=31536000, immutable", url
        assert r.headers["etag"].endswith('-a1"'), url
    assert delegate.get(page, **{"If-None-Match": unversioned.headers["etag"]}).status_code == 304
    bad = delegate.get(f"/api/documents/{world.public}/pages/1/tablet?v=x")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_payload"
    # Reclassified: the old URL no longer answers with content, it sends to the new one.
    _attach(world, world.public, SECRET_ITEM)
    moved = delegate.client.get(page, headers=delegate.headers, follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["cache-control"] == "no-store"
    assert moved.headers["location"] == f"/api/documents/{world.public}/pages/1/tablet?v=2"
    now = delegate.get(moved.headers["location"])
    assert now.status_code == 200 and now.headers["etag"].startswith('"w-')
    assert delegate.get(status["urls"]["text"].replace("{page}", "1")).status_code == 403
    assert world.api["observer"].get(page).status_code == 404
