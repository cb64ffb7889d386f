"""Every event the audit trail promises is recorded, once, by the real paths, and the chain holds.

Role changes (meeting participants, proxies, body members, the roles a new meeting or an
imported pack gives), confidential page views, downloads,
exports (pack zip, pack book, poll results; the CLI's pack export) and the poll lifecycle (open,
close, publish, cancel) each leave one record. A refused or retried request leaves none. At the
end ``audit.verify`` and ``ecabinet audit verify`` both find the chain intact.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from ecabinet.services import accounts, audit
from ecabinet.storage.models import AuditRecord, Participant, User
from tests.conftest import PASSWORD, LiveServer, sign_in
from tests.documents import samples
from tests.realtime.client import Tablet
from tests.waiting import until

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


def records(app: Any, since: int = 0) -> list[AuditRecord]:
    def load(session: Any) -> list[AuditRecord]:
        return list(session.exec(
            select(AuditRecord).where(AuditRecord.seq > since)
            .order_by(AuditRecord.seq)  # type: ignore[arg-type]
        ).all())

    found: list[AuditRecord] = app.runtime.db.run_sync(load)
    return found


def head(app: Any) -> int:
    seq: int = app.runtime.db.run_sync(audit.head)[0]
    return seq


def actions(app: Any, since: int) -> list[tuple[str, str]]:
    return [(r.action, r.subject) for r in records(app, since)]


def ids(app: Any, meeting_id: int) -> dict[str, int]:
    def load(session: Any) -> dict[str, int]:
        rows = session.exec(select(Participant, User).where(
            Participant.meeting_id == meeting_id, Participant.user_id == User.id)).all()
        return {u.username: int(p.id) for p, u in rows}

    found: dict[str, int] = app.runtime.db.run_sync(load)
    return found


class Http:
    def __init__(self, url: str, username: str) -> None:
        token = httpx.post(f"{url}/api/auth/signin",
                           json={"username": username, "password": PASSWORD}).json()["token"]
        self.client = httpx.Client(base_url=url, timeout=60,
                                   headers={"authorization": f"Bearer {token}"})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.mark.slow
async def test_each_audited_event_leaves_one_record_and_the_chain_holds(
    app: Any, room: dict[str, Any], live_server: LiveServer, tmp_path: Path
) -> None:
    mid = room["meeting_id"]
    url = live_server.url
    app.runtime.db.run_sync(accounts.create_user, "quantri", PASSWORD, "Quản trị", is_admin=True)
    thuky, daibieu, quantri = Http(url, "thuky"), Http(url, "daibieu1"), Http(url, "quantri")
    try:
        # --- role changes: participants and proxies (the secretary) -----------------------------
        start = head(app)
        added = thuky.post(f"/api/meetings/{mid}/participants",
                           json={"username": "nguoingoai", "role": "observer"})
        assert added.status_code == 201, added.text
        pid = added.json()["participant_id"]
        assert thuky.patch(f"/api/meetings/{mid}/participants/{pid}",
                           json={"role": "delegate"}).status_code == 200
        # The same values again change nothing, so they record nothing.
        assert thuky.patch(f"/api/meetings/{mid}/participants/{pid}",
                           json={"role": "delegate"}).status_code == 200
        people = ids(app, mid)
        assert thuky.put(f"/api/meetings/{mid}/participants/{pid}/proxy",
                         json={"holder_id": people["daibieu2"]}).status_code == 200
        assert thuky.delete(f"/api/meetings/{mid}/participants/{pid}/proxy").status_code == 200
        assert thuky.delete(f"/api/meetings/{mid}/participants/{pid}").status_code == 200
        # Refused: a delegate may not change roles; nothing is recorded for it.
        refused = daibieu.patch(f"/api/meetings/{mid}/participants/{people['daibieu2']}",
                                json={"role": "chair"})
        assert refused.status_code == 403
        trail = records(app, start)
        assert [(r.action, r.details["change"]) for r in trail] == [
            (audit.ROLE_CHANGED, "added"), (audit.ROLE_CHANGED, "updated"),
            (audit.ROLE_CHANGED, "proxy_set"), (audit.ROLE_CHANGED, "proxy_cleared"),
            (audit.ROLE_CHANGED, "removed"),
        ]
        assert {r.subject for r in trail} == {f"meeting:{mid}"}
        assert trail[1].details["before"]["role"] == "observer"
        assert trail[1].details["after"] == {"role": "delegate", "can_vote": True,
                                             "vote_weight": 1}
        assert all(r.actor_id == trail[0].actor_id is not None for r in trail)

        # --- role changes: body members (an admin) ----------------------------------------------
        start = head(app)
        bid = quantri.post("/api/bodies", json={"name": "Hội đồng thẩm định"}).json()["body"]["id"]
        assert quantri.post(f"/api/bodies/{bid}/members",
                            json={"username": "daibieu1"}).status_code == 200
        assert quantri.post(f"/api/bodies/{bid}/members",
                            json={"username": "daibieu1", "role": "secretary"}).status_code == 200
        assert quantri.delete(f"/api/bodies/{bid}/members/daibieu1").status_code == 200
        trail = records(app, start)
        assert [(r.subject, r.details["before"], r.details["after"]) for r in trail] == [
            (f"body:{bid}", None, "member"), (f"body:{bid}", "member", "secretary"),
            (f"body:{bid}", "secretary", None),
        ]

        # --- documents: download, confidential view, exports ------------------------------------
        plain = thuky.post(f"/api/meetings/{mid}/documents",
                           files={"file": ("bao-cao.pdf", samples.pdf(2), "application/pdf")})
        secret = thuky.post(f"/api/meetings/{mid}/documents",
                            files={"file": ("mat.pdf", samples.pdf(1, marker="Mat"),
                                            "application/pdf")},
                            data={"confidential": "true"})
        assert plain.status_code == secret.status_code == 201, (plain.text, secret.text)
        plain_id, secret_id = plain.json()["document"]["id"], secret.json()["document"]["id"]
        start = head(app)
        file = daibieu.get(f"/api/documents/{plain_id}/file")
        assert file.status_code == 200 and file.content.startswith(b"%PDF")

        def thumb() -> httpx.Response | None:
            answer = daibieu.get(f"/api/documents/{secret_id}/pages/1/thumb")
            return None if answer.status_code == 503 else answer  # 503: not rendered yet

        page = await until(thumb, f"page 1 of document {secret_id} is rendered", timeout=60,
                           interval=0.1)
        assert page.status_code == 200, page.text
        # Refused: confidential documents are never downloaded (no record of a download).
        assert daibieu.get(f"/api/documents/{secret_id}/file").status_code == 403
        pack = thuky.get(f"/api/meetings/{mid}/pack.zip")
        assert pack.status_code == 200 and pack.content.startswith(b"PK")
        assert daibieu.get(f"/api/meetings/{mid}/pack.zip").status_code == 403
        book = daibieu.get(f"/api/meetings/{mid}/book.pdf")
        assert book.status_code == 200, book.text
        trail = records(app, start)
        assert [(r.action, r.subject) for r in trail] == [
            (audit.DOWNLOAD, f"document:{plain_id}"),
            (audit.CONFIDENTIAL_VIEW, f"document:{secret_id}"),
            (audit.EXPORT, f"meeting:{mid}"),
            (audit.EXPORT, f"meeting:{mid}"),
        ]
        assert [r.details.get("what") for r in trail[2:]] == ["pack", "book"]
        assert all(r.address == "127.0.0.1" for r in trail)

        # --- polls: open, close, publish, cancel; result exports --------------------------------
        start = head(app)
        users = ("chutich", "daibieu1", "daibieu2")
        tablets = {u: await Tablet.open(url, u) for u in users}
        try:
            chair = tablets["chutich"]
            assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
            for tablet in tablets.values():
                assert (await tablet.call("attendance.check_in", {"meeting_id": mid}))["ok"]
            made = await chair.call("poll.create", {"meeting_id": mid, "kind": "yes_no_abstain",
                                                    "question": "Thông qua báo cáo?"})
            poll_id = made["poll_id"]
            ref = {"meeting_id": mid, "poll_id": poll_id}
            opened = await chair.call("poll.open", ref, client_id="audit-open-1")
            assert opened["ok"], opened
            # A retried command (same client id) is answered from its receipt: no second record.
            again = await chair.call("poll.open", ref, client_id="audit-open-1")
            assert again["ok"] and again.get("duplicate")
            # Refused: a delegate may not close the poll.
            assert not (await tablets["daibieu1"].call("poll.close", ref))["ok"]
            for voter in ("daibieu1", "daibieu2"):
                cast = await tablets[voter].call("poll.cast", {**ref, "choice": ["yes"]})
                assert cast["ok"], cast
            assert (await chair.call("poll.close", ref))["ok"]
            assert (await chair.call("poll.publish", ref))["ok"]
            other = (await chair.call("poll.create", {"meeting_id": mid, "kind": "yes_no_abstain",
                                                      "question": "Hoãn nội dung?"}))["poll_id"]
            assert (await chair.call("poll.cancel", {"meeting_id": mid, "poll_id": other}))["ok"]
        finally:
            for tablet in tablets.values():
                await tablet.close()
        for fmt in ("json", "csv"):
            result = daibieu.get(f"/api/meetings/{mid}/polls/{poll_id}/result.{fmt}")
            assert result.status_code == 200, result.text
        trail = [r for r in records(app, start) if r.action != audit.SIGNIN_OK]  # the tablets
        assert [(r.action, r.subject) for r in trail] == [
            (audit.POLL_OPENED, f"poll:{poll_id}"), (audit.POLL_CLOSED, f"poll:{poll_id}"),
            (audit.POLL_PUBLISHED, f"poll:{poll_id}"), (audit.POLL_CANCELLED, f"poll:{other}"),
            (audit.EXPORT, f"poll:{poll_id}"), (audit.EXPORT, f"poll:{poll_id}"),
        ]
        closed = trail[1].details
        assert closed["outcome"] == "passed" and closed["ballots"] == 2
        # Nobody's choice is in the trail, only counts.
        assert "yes" not in str([r.details for r in trail])
    finally:
        for http in (thuky, daibieu, quantri):
            http.close()

    assert app.runtime.db.run_sync(audit.verify) == []
    # The operator's tools agree: the CLI's pack export is audited and the chain verifies.
    env = {**os.environ, "ECABINET_DATA_DIR": str(app.runtime.settings.data_dir),
           "ECABINET_DATABASE_URL": app.runtime.settings.database_url,
           "ECABINET_SECRET_KEY": app.runtime.settings.secret_key}
    before = head(app)
    exported = subprocess.run(
        [sys.executable, "-m", "ecabinet", "pack", "export", str(mid), "--no-book",
         "-o", str(tmp_path / "pack.zip")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    assert [(r.action, r.address, r.details["what"]) for r in records(app, before)] == [
        (audit.EXPORT, "cli", "pack")]
    verified = subprocess.run([sys.executable, "-m", "ecabinet", "audit", "verify"], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"intact: {head(app)} records" in verified.stdout


def test_roles_given_with_a_new_meeting_or_a_pack_are_audited(
    client: Any, make_user: Any, app: Any
) -> None:
    make_user("quantri", is_admin=True)
    for name in ("thuky", "daibieu1"):
        make_user(name)
    admin = {"authorization": f"Bearer {sign_in(client, 'quantri')}"}
    body = client.post("/api/bodies", json={"name": "Sở Kế hoạch"}, headers=admin).json()["body"]
    client.post(f"/api/bodies/{body['id']}/members",
                json={"username": "thuky", "role": "secretary"}, headers=admin)
    secretary = {"authorization": f"Bearer {sign_in(client, 'thuky')}"}
    start = head(app)
    made = client.post("/api/meetings", json={"title": "Giao ban", "body_id": body["id"]},
                       headers=secretary)
    assert made.status_code == 201, made.text
    pack = io.BytesIO()
    with zipfile.ZipFile(pack, "w") as archive:
        archive.writestr("meeting.yaml", (
            "meeting:\n  title: Họp từ gói\n  body: Sở Kế hoạch\nparticipants:\n"
            "  - {user: thuky, role: secretary}\n  - {user: daibieu1, role: delegate}\n"
            "agenda:\n  - title: Khai mạc\n"))
    imported = client.post("/api/packs", files={"file": ("goi.zip", pack.getvalue(),
                                                         "application/zip")}, headers=secretary)
    assert imported.status_code == 201, imported.text
    trail = [r for r in records(app, start) if r.action == audit.ROLE_CHANGED]
    meeting_id, pack_meeting = made.json()["meeting"]["id"], imported.json()["meeting_id"]
    assert [(r.subject, r.details["change"]) for r in trail] == [
        (f"meeting:{meeting_id}", "created"), (f"meeting:{pack_meeting}", "imported")]
    assert trail[1].details["roles"] == {"thuky": "secretary", "daibieu1": "delegate"}
    assert app.runtime.db.run_sync(audit.verify) == []
