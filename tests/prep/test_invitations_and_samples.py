"""Calendar invitations, the sample packs, the demo with documents and the `pack` commands."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from starlette.testclient import TestClient

from ecabinet import samples
from ecabinet.core.settings import PROJECT_ROOT, Settings
from ecabinet.samples import demo
from ecabinet.services import packs
from tests.prep.helpers import Callers, code

SAMPLES = PROJECT_ROOT / "meetings_data" / "samples"


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_invitation_per_participant(client: TestClient, room: dict[str, Any]) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    assert code(as_.get("daibieu1", f"{m}/invite.ics")) == "meeting_not_scheduled"
    as_.patch(
        "thuky",
        m,
        {
            "starts_at": "2026-12-03T08:00:00+07:00",
            "ends_at": "2026-12-03T11:30:00+07:00",
            "place": "Phòng họp số 1; tầng 2, trụ sở",
            "description": "Họp thường kỳ " * 12,
        },
    )
    answer = as_.get("daibieu1", f"{m}/invite.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar; charset=utf-8")
    assert "attachment" in answer.headers["content-disposition"]
    raw = answer.content.decode("utf-8")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")
    assert all(len(line.encode("utf-8")) <= 75 for line in raw.split("\r\n"))
    lines = unfold(raw)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    fields: dict[str, str] = {}
    for line in lines:  # the first of each name: the event's, not the reminder's
        fields.setdefault(line.split(":", 1)[0].split(";", 1)[0], line)
    assert fields["UID"] == f"UID:meeting-{room['meeting_id']}@testserver"
    assert fields["DTSTART"] == "DTSTART:20261203T010000Z"
    assert fields["DTEND"] == "DTEND:20261203T043000Z"
    assert fields["SEQUENCE"] == "SEQUENCE:1"
    assert fields["DTSTAMP"].endswith("Z")
    assert fields["LOCATION"] == "LOCATION;LANGUAGE=vi:Phòng họp số 1\\; tầng 2\\, trụ sở"
    assert "ORGANIZER;CN=Trần Thị Bích Ngọc:urn:ecabinet:user:thuky" in lines
    attendees = [line for line in lines if line.startswith("ATTENDEE")]
    assert attendees == [
        "ATTENDEE;CN=Lê Hoàng Minh;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
        "CUTYPE=INDIVIDUAL;RSVP=FALSE:urn:ecabinet:user:daibieu1"
    ]
    description = fields["DESCRIPTION"]
    assert "3. Nhân sự lãnh đạo" in description and "Vai trò của quý vị: đại biểu." in description
    observer = unfold(as_.get("quansat", f"{m}/invite.ics").content.decode())
    text = "\n".join(observer)
    assert "Nhân sự lãnh đạo" not in text and "ROLE=NON-PARTICIPANT" in text
    everyone = unfold(as_.get("thuky", f"{m}/invite.ics?all=true").content.decode())
    assert sum(1 for line in everyone if line.startswith("ATTENDEE")) == 5
    assert "ROLE=CHAIR" in "\n".join(everyone)
    people = as_.get("thuky", f"{m}/participants").json()["participants"]
    other = next(p["id"] for p in people if p["username"] == "daibieu2")
    assert "Phạm Thị Thu Hà" in as_.get("thuky", f"{m}/invite.ics?participant={other}").text
    assert (
        code(as_.get("daibieu1", f"{m}/invite.ics?participant={other}")) == "participant_not_found"
    )
    assert code(as_.get("daibieu1", f"{m}/invite.ics?all=1")) == "participant_not_found"
    assert code(as_.get("thuky", f"{m}/invite.ics?participant=abc")) == "invalid_payload"
    assert code(as_.get("thuky", f"{m}/invite.ics?participant=999999")) == "participant_not_found"
    assert as_.get("nguoingoai", f"{m}/invite.ics").status_code == 404


def test_sample_packs_are_vietnamese_with_the_promised_sizes() -> None:
    small = packs.read_pack(SAMPLES / "small")
    assert len(small.agenda) == 5 and len(small.participants) == 13  # with an observer
    large = packs.read_loaded(SAMPLES / "large")
    assert packs.consistency_problems(large) == []
    items = [i for top in large.spec.agenda for i in (top, *top.items)]
    assert len(items) == 30
    papers = samples.papers(SAMPLES / "large")
    assert sum(p.pages for p in papers) == 600 and len(papers) == 36
    # Every document the pack names is made by the generator.
    named = {doc.file for _loc, doc, _item in packs.document_specs(large.spec)}
    assert named == {p.file for p in papers}
    assert {doc.file for _l, doc, _i in packs.document_specs(small)} == {
        p.file for p in samples.papers(SAMPLES / "small")
    }


def test_generated_papers_have_vietnamese_text_pages_and_bookmarks(tmp_path: Path) -> None:
    paper = samples.papers(SAMPLES / "large")[1]
    out = tmp_path / "paper.pdf"
    samples.write_paper(paper, out)
    with pymupdf.open(out) as doc:
        assert doc.page_count == paper.pages
        text = doc[0].get_text()
        assert (
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Độc lập - Tự do - Hạnh phúc" in text
        )
        assert doc.get_toc()[0][1] == "I. CĂN CỨ PHÁP LÝ"
        assert f"Trang {paper.pages}/{paper.pages}" in doc[-1].get_text()
        fonts = doc[0].get_fonts()
        assert fonts and all(f[1] != "n/a" and "+" in f[3] for f in fonts), fonts  # embedded
    first = out.read_bytes()
    samples.write_paper(paper, out)
    assert out.read_bytes() == first  # the same recipe makes the same file


def test_demo_loads_the_small_sample_with_documents(
    app: Any, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    for name in ("meeting.yaml", "documents.yaml"):
        (folder / name).write_bytes((SAMPLES / "small" / name).read_bytes())
    ready = settings.prepare()
    where, prepared = demo.prepare_sample(ready, folder)
    assert where == folder and len(prepared) == 10
    loaded = app.runtime.db.run_sync(demo.load_sample, where, "mat-khau-demo", prepared)
    again = app.runtime.db.run_sync(demo.load_sample, where, "mat-khau-demo", prepared)
    assert loaded.meeting_id == again.meeting_id and len(loaded.accounts) == 14  # and admin
    with TestClient(app) as client:
        token = client.post(
            "/api/auth/signin", json={"username": "gd.taichinh", "password": "mat-khau-demo"}
        )
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        detail = client.get(f"/api/meetings/{loaded.meeting_id}", headers=headers).json()
    assert detail["meeting"]["status"] == "published" and detail["meeting"]["pack_version"] == 1
    items = detail["agenda"]["items"]
    assert [i["number"] for i in items] == ["1", "2", "2.1", "2.2", "3", "4", "5"]
    assert [d["title"] for d in items[1]["documents"]] == [
        "Báo cáo tình hình kinh tế – xã hội năm 2026",
        "Dự thảo Nghị quyết về kế hoạch phát triển năm 2027",
    ]
    assert len(detail["documents"]) == 10  # a delegate sees the confidential one too


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "ecabinet", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_pack_commands_import_and_export(tmp_path: Path) -> None:
    env = {"ECABINET_DATA_DIR": str(tmp_path / "data")}
    shown = run_cli("pack", "import", "--help", env=env)
    assert shown.returncode == 0 and "usage: ecabinet pack import" in shown.stdout
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "meeting.yaml").write_text(
        "meeting: {title: Họp thử dòng lệnh, starts_at: 2026-12-03T08:00:00+07:00}\n"
        "participants:\n  - {user: chutich, full_name: Nguyễn Văn An, role: chair}\n"
        "agenda:\n  - title: Mục một\n    documents: [{file: a.pdf, title: Tờ trình}]\n"
        "  - {title: Mục một}\n",
        encoding="utf-8",
    )
    samples.write_paper(
        samples.Paper("a.pdf", "Tờ trình", 2, "Mục một", "Thư ký", False), folder / "a.pdf"
    )
    refused = run_cli("pack", "import", str(folder), env=env)
    assert refused.returncode == 1
    assert "[invalid_pack]" in refused.stderr and "duplicate item" in refused.stderr
    assert "  meeting.yaml:3: participants.0.user: " in refused.stderr
    assert "unknown user" in refused.stderr and "meeting.yaml:7: agenda.1.title" in refused.stderr
    text = (folder / "meeting.yaml").read_text(encoding="utf-8")
    (folder / "meeting.yaml").write_text(text.replace("  - {title: Mục một}\n", ""), "utf-8")
    made = run_cli(
        "pack",
        "import",
        str(folder),
        "--create-users",
        "--password-stdin",
        "--publish",
        env=env,
        stdin="mat-khau-dai\n",
    )
    assert made.returncode == 0, made.stderr
    assert "đã nhập: cuộc họp #1" in made.stdout and "1 tài liệu, 2 trang" in made.stdout
    assert "chutich" in made.stdout
    out = tmp_path / "out" / "hop.zip"
    exported = run_cli("pack", "export", "1", "-o", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as zf:
        assert "meeting.yaml" in zf.namelist() and len(zf.namelist()) == 2
        assert "Họp thử dòng lệnh" in zf.read("meeting.yaml").decode("utf-8")
    with pymupdf.open(out.with_suffix(".pdf")) as book:
        assert book.page_count == 4  # cover, agenda, two pages
    missing = run_cli("pack", "export", "99", env=env)
    assert missing.returncode == 1 and "[meeting_not_found]" in missing.stderr
