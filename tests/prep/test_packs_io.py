"""Pack import (folder, zip, upload) all or nothing with every problem listed; export round trip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from ecabinet.app import create_app
from ecabinet.core.errors import InvalidInput, TooLarge
from ecabinet.core.settings import Settings
from ecabinet.pdf.papers import Paper, write_paper
from ecabinet.services import accounts
from ecabinet.services.packs import transfer as pack_io
from ecabinet.storage.models import AgendaItem, Document, Meeting, Participant
from tests.conftest import PASSWORD, make_settings
from tests.prep.helpers import Callers, code

PACK = """\
meeting:
  title: Họp giao ban tháng 12
  body: Ban Quản lý Khu kinh tế
  place: Phòng họp tầng 3
  starts_at: 2026-12-05T08:00:00+07:00
  ends_at: 2026-12-05T10:00:00+07:00
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
  - {user: daibieu1, role: delegate, weight: 2}
  - {user: daibieu2, role: delegate, proxy_holder: daibieu1}
  - {user: quansat, role: observer}
documents:
  - {file: tai-lieu/phu-luc.pdf, title: Phụ lục chung}
agenda:
  - title: Báo cáo giao ban
    presenter: Trưởng ban
    minutes: 30
    vote: true
    documents:
      - {file: tai-lieu/bao-cao.pdf, title: Báo cáo tháng}
      - {file: tai-lieu/phu-luc.pdf, title: Phụ lục chung}
    items:
      - title: Ý kiến các phòng
        minutes: 10
  - title: Nhân sự
    confidential: true
    documents:
      - {file: tai-lieu/nhan-su.pdf, title: Danh sách nhân sự, confidential: true}
"""


def write_pack(
    folder: Path,
    text: str = PACK,
    files: tuple[str, ...] = ("bao-cao.pdf", "phu-luc.pdf", "nhan-su.pdf"),
) -> Path:
    (folder / "tai-lieu").mkdir(parents=True, exist_ok=True)
    (folder / "meeting.yaml").write_text(text, encoding="utf-8")
    for index, name in enumerate(files):
        write_paper(
            Paper(name, name, 1 + index % 2, "Giao ban", "Trưởng ban", False),
            folder / "tai-lieu" / name,
        )
    return folder


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, "goi-hop/" + str(path.relative_to(folder)))
    return buffer.getvalue()


def count(app: Any, model: Any) -> int:
    return len(app.runtime.db.run_sync(lambda s: s.exec(select(model)).all()))


def snapshot(app: Any, meeting_id: int) -> dict[str, Any]:
    """The meeting as data that must survive an export and a new import."""

    def read(session: Any) -> dict[str, Any]:
        meeting = session.get(Meeting, meeting_id)
        from ecabinet.services.meetings.agenda import agenda_items
        from ecabinet.services.meetings.participants import participant_list

        items = agenda_items(session, meeting_id, redact=False)
        people = participant_list(session, meeting_id)
        names = {p.id: p.username for p in people}
        docs = session.exec(select(Document).where(Document.meeting_id == meeting_id)).all()
        return {
            "meeting": (
                meeting.title,
                meeting.place,
                meeting.description,
                meeting.starts_at,
                meeting.ends_at,
                meeting.body_id,
            ),
            "participants": sorted(
                (p.username, p.role, p.can_vote, p.vote_weight, names.get(p.proxy_holder_id))
                for p in people
            ),
            "agenda": [
                (
                    i.number,
                    i.title,
                    i.presenter,
                    i.planned_minutes,
                    i.confidential,
                    i.vote_planned,
                    [(d.title, d.confidential) for d in i.documents],
                )
                for i in items
            ],
            "documents": sorted((d.title, d.blob_sha256, d.confidential) for d in docs),
        }

    result: dict[str, Any] = app.runtime.db.run_sync(read)
    return result


def test_every_problem_is_listed_and_nothing_is_imported(
    app: Any, settings: Settings, room: dict[str, Any], tmp_path: Path
) -> None:
    broken = PACK.replace("{user: quansat, role: observer}", "{user: khongco, role: observer}")
    broken = broken.replace("  - title: Nhân sự\n", "  - title: Báo cáo giao ban\n")
    folder = write_pack(tmp_path / "pack", broken, files=("bao-cao.pdf",))
    (folder / "tai-lieu" / "rac.pdf").write_bytes(b"not a pdf")
    meetings = count(app, Meeting)
    with pytest.raises(InvalidInput) as err:
        pack_io.import_path(app.runtime.db, settings.prepare(), folder)
    problems = err.value.details
    assert err.value.code == "invalid_pack"
    found = {(p["field"], p["line"]) for p in problems}
    assert ("participants.4.user", 12) in found  # unknown user
    assert ("agenda.1.title", 26) in found  # duplicate item
    assert ("documents.0.file", 14) in found  # missing file
    assert ("agenda.0.documents.1.file", 22) in found
    assert ("agenda.1.documents.0.file", 29) in found
    assert all(p["file"] == "meeting.yaml" for p in problems)
    messages = " ".join(p["message"] for p in problems)
    assert "unknown user" in messages and "duplicate item" in messages
    assert "missing file" in messages
    assert count(app, Meeting) == meetings

    # A file that is not a PDF is one more listed problem, after the pack itself is sound.
    bad = write_pack(tmp_path / "bad")
    (bad / "tai-lieu" / "nhan-su.pdf").write_bytes(b"%PDF-1.7 rubbish")
    with pytest.raises(InvalidInput) as err2:
        pack_io.import_path(app.runtime.db, settings.prepare(), bad)
    [problem] = err2.value.details
    assert problem["document"] == "tai-lieu/nhan-su.pdf" and problem["line"] == 29
    assert count(app, Meeting) == meetings and count(app, Document) == 0


def test_import_export_import_gives_the_same_meeting(
    app: Any, settings: Settings, room: dict[str, Any], tmp_path: Path
) -> None:
    ready = settings.prepare()
    folder = write_pack(tmp_path / "pack")
    first = pack_io.import_path(app.runtime.db, ready, folder, publish=True)
    assert (first.participants, first.items, first.documents, first.pages) == (5, 3, 3, 4)
    assert first.status == "published" and first.pack_version == 1
    before = snapshot(app, first.meeting_id)
    assert before["agenda"][0][-1] == [("Báo cáo tháng", False), ("Phụ lục chung", False)]
    assert ("daibieu2", "delegate", True, 1, "daibieu1") in before["participants"]
    exported = app.runtime.db.run_sync(pack_io.export_pack, first.meeting_id, ready)
    out = pack_io.write_zip(exported, tmp_path / "out" / "pack.zip")
    with zipfile.ZipFile(out) as zf:
        names = sorted(zf.namelist())
    # Two files (the shared one once): the confidential paper never leaves as a file (issue
    # #14); the note at the top of meeting.yaml names it.
    assert names[-1] == "meeting.yaml" and len(names) == 3
    assert exported.left_out == ["mục 2: Danh sách nhân sự"]
    assert "#   - mục 2: Danh sách nhân sự" in exported.yaml_text
    second = pack_io.import_path(app.runtime.db, ready, out)
    assert second.meeting_id != first.meeting_id and second.status == "draft"
    after = snapshot(app, second.meeting_id)
    # The same meeting, but for the confidential paper (its item keeps its place and secrecy).
    assert after["agenda"][-1] == (*before["agenda"][-1][:-1], [])
    assert before["agenda"][-1][-1] == [("Danh sách nhân sự", True)]
    assert after["documents"] == [d for d in before["documents"] if not d[2]]
    assert {**after, "agenda": after["agenda"][:-1], "documents": []} == {
        **before, "agenda": before["agenda"][:-1], "documents": []}
    # And once more: the export of the re-import is the same pack (with nothing left out).
    again = app.runtime.db.run_sync(pack_io.export_pack, second.meeting_id, ready)
    assert again.yaml_text.splitlines()[1:] == [
        line for line in exported.yaml_text.splitlines()[1:] if not line.startswith("#")]
    book = pack_io.write_book(exported, tmp_path / "out" / "pack.pdf")
    # Cover, agenda, then the papers in agenda order: a placeholder page for the secret one.
    assert book == 1 + 1 + 3 + 1


def test_zip_that_escapes_or_explodes_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("meeting.yaml", "meeting: {title: X}\n")
        zf.writestr("../../etc/owned", "x")
    with pytest.raises(InvalidInput) as err:
        pack_io.extract_zip(evil, tmp_path / "out", max_bytes=10_000)
    assert "unsafe path" in err.value.details[0]["message"]
    assert not (tmp_path / "etc").exists()
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meeting.yaml", "meeting: {title: X}\n")
        zf.writestr("big.bin", b"\0" * 200_000)
    with pytest.raises(TooLarge):
        pack_io.extract_zip(bomb, tmp_path / "out2", max_bytes=100_000)
    plain = tmp_path / "plain.zip"
    plain.write_bytes(b"PK not really")
    with pytest.raises(InvalidInput):
        pack_io.extract_zip(plain, tmp_path / "out3", max_bytes=100_000)


def test_upload_endpoint_imports_for_admins_and_body_secretaries(
    client: TestClient, app: Any, make_user: Any, room: dict[str, Any], tmp_path: Path
) -> None:
    make_user("quantri", "Quản Trị", is_admin=True)
    as_ = Callers(client)
    data = zip_folder(write_pack(tmp_path / "pack"))

    def send(username: str, body: bytes = data, query: str = "") -> Any:
        return client.post(
            f"/api/packs{query}",
            headers=as_(username),
            files={"file": ("goi.zip", body, "application/zip")},
        )

    meetings = count(app, Meeting)
    refused = send("thuky")  # not yet a secretary of the body
    assert refused.status_code == 403 and code(refused) == "not_body_secretary"
    assert send("daibieu1").status_code == 403
    assert client.post("/api/packs", files={"file": ("goi.zip", data)}).status_code == 401
    assert (
        code(client.post("/api/packs", headers=as_("quantri"), json={"x": 1}))
        == "multipart_required"
    )
    assert (
        code(
            client.post("/api/packs", headers=as_("quantri"), files={"note": (None, "chưa có tệp")})
        )
        == "file_required"
    )
    assert (
        code(client.post("/api/packs", headers=as_("quantri"), files={"other": ("a.zip", data)}))
        == "malformed_upload"
    )
    assert code(send("quantri", b"PK\x03\x04 broken")) == "invalid_pack"
    assert count(app, Meeting) == meetings
    made = send("quantri", query="?publish=true")
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "published" and made.json()["documents"] == 3
    body_id = app.runtime.db.run_sync(lambda s: s.get(Meeting, made.json()["meeting_id"]).body_id)
    as_.post(
        "quantri", f"/api/bodies/{body_id}/members", {"username": "thuky", "role": "secretary"}
    )
    mine = send("thuky")
    assert mine.status_code == 201, mine.text
    detail = as_.get("thuky", f"/api/meetings/{mine.json()['meeting_id']}").json()
    assert detail["you"]["can_edit"] and len(detail["agenda"]["items"]) == 3
    # Export: staff only (the delegate does not even see the draft), and the file imports again.
    assert (
        as_.get("daibieu1", f"/api/meetings/{mine.json()['meeting_id']}/pack.zip").status_code
        == 404
    )
    url = f"/api/meetings/{made.json()['meeting_id']}/pack.zip"
    assert as_.get("daibieu1", url).status_code == 403
    assert as_.get("quansat", url).status_code == 403
    exported = as_.get("chutich", url)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    assert "attachment" in exported.headers["content-disposition"]
    assert send("quantri", exported.content).status_code == 201


def test_upload_size_limit_holds_while_streaming(tmp_path: Path) -> None:

    small = make_settings(tmp_path / "d", max_upload_mb=1)
    application = create_app(small)
    try:
        with TestClient(application) as client:
            application.runtime.db.run_sync(
                accounts.create_user, "quantri", PASSWORD, "Quản Trị", is_admin=True
            )
            as_ = Callers(client)
            answer = client.post(
                "/api/packs",
                headers=as_("quantri"),
                files={"file": ("goi.zip", b"\0" * (2 * 1024 * 1024 + 10))},
            )
            assert answer.status_code == 413 and code(answer) == "upload_too_large"
            assert count(application, Meeting) == 0
    finally:
        application.runtime.db.close()


def test_participants_and_items_rows_after_import(
    app: Any, settings: Settings, room: dict[str, Any], tmp_path: Path
) -> None:
    result = pack_io.import_path(
        app.runtime.db, settings.prepare(), write_pack(tmp_path / "p"), dry_run=True
    )
    assert result.dry_run and result.documents == 3
    assert (
        app.runtime.db.run_sync(
            lambda s: s.exec(select(Meeting).where(Meeting.id == result.meeting_id)).first()
        )
        is None
    )
    assert count(app, AgendaItem) == 6 and count(app, Participant) == 5  # the room's only
