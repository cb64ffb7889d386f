"""The ``ecabinet-client`` command line against a real server: the installed script in a
subprocess for ``meetings``, ``follow`` and ``vote``, and ``main()`` in-process for the rest."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ecabinet_client.cli import main, resolve_option, zip_folder

from tests.client.conftest import Connect
from tests.conftest import PASSWORD, LiveServer

SCRIPT = shutil.which("ecabinet-client", path=str(Path(sys.executable).parent))


def cli_env(live_server: LiveServer, user: str) -> dict[str, str]:
    return {**os.environ, "ECABINET_URL": live_server.url, "ECABINET_USER": user,
            "ECABINET_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}


async def run_cli(live_server: LiveServer, user: str, *args: str) -> tuple[int, str, str]:
    assert SCRIPT is not None, "ecabinet-client is not installed in the venv"
    proc = await asyncio.create_subprocess_exec(
        SCRIPT, *args, env=cli_env(live_server, user),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.anyio
async def test_meetings_lists_in_vietnamese_and_as_json(live_server: LiveServer,
                                                        room: dict[str, Any]) -> None:
    code, out, err = await run_cli(live_server, "daibieu1", "meetings")
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split()[:2] == ["#", "Trạng"]
    assert "đã công bố" in row and "đại biểu" in row and "Phiên họp thử nghiệm trực tuyến" in row
    code, out, _err = await run_cli(live_server, "thuky", "meetings", "--json")
    assert code == 0 and json.loads(out)[0]["role"] == "secretary"


@pytest.mark.anyio
async def test_follow_prints_live_events_as_they_come(live_server: LiveServer, connect: Connect,
                                                      room: dict[str, Any]) -> None:
    mid = room["meeting_id"]
    chair = await connect("chutich")
    chair_room = await chair.join(mid)
    await chair_room.commands.meeting.start()
    assert SCRIPT is not None
    proc = await asyncio.create_subprocess_exec(
        SCRIPT, "follow", str(mid), "--count", "3", env=cli_env(live_server, "daibieu1"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(20):
        while not any("Chương trình: 6 mục" in line for line in lines):
            lines.append((await proc.stdout.readline()).decode().rstrip())
        for _ in range(3):
            await chair_room.commands.agenda.next()
        rest, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    text = "\n".join(lines) + rest.decode()
    assert "Ảnh chụp trạng thái" in text and "Trạng thái: đang họp" in text
    assert "Bạn tham dự với vai trò: đại biểu" in text
    moves = [line for line in rest.decode().splitlines() if "Chuyển sang mục" in line]
    assert [m.split("#")[1].split()[0] for m in moves] == ["2", "3", "4"]
    assert moves[-1].endswith("Chuyển sang mục 2.1 — Thu ngân sách")


@pytest.mark.slow
@pytest.mark.anyio
async def test_vote_casts_a_ballot_once(live_server: LiveServer, connect: Connect,
                                        room: dict[str, Any]) -> None:
    mid = room["meeting_id"]
    chair = await connect("chutich")
    chair_room = await chair.join(mid)
    await chair_room.commands.meeting.start()
    for user in ("chutich", "daibieu1", "daibieu2"):
        member = chair if user == "chutich" else await connect(user)
        await member.call("attendance.check_in", {"meeting_id": mid})
    created = await chair_room.send("poll.create", question="Thông qua chương trình họp?",
                                    kind="yes_no_abstain")
    poll_id = created["poll_id"]
    await chair_room.send("poll.open", poll_id=poll_id)
    code, out, err = await run_cli(live_server, "daibieu1", "vote", str(poll_id), "tán thành")
    assert code == 0, err
    assert out.strip() == f"Đã bỏ phiếu cho biểu quyết #{poll_id}: Tán thành"
    code, out, err = await run_cli(live_server, "daibieu1", "vote", str(poll_id), "no",
                                   "--meeting", str(mid))
    assert code == 1 and "[already_voted]" in err and out == ""
    code, _out, err = await run_cli(live_server, "daibieu2", "vote", str(poll_id), "có lẽ")
    assert code == 2 and "không có phương án 'có lẽ'" in err
    code, _out, err = await run_cli(live_server, "daibieu2", "vote", "999", "yes")
    assert code == 1 and "[poll_not_found]" in err


def test_option_words() -> None:
    yes_no = [{"id": "yes", "label": "Tán thành"}, {"id": "no", "label": "Không tán thành"},
              {"id": "abstain", "label": "Không biểu quyết"}]
    assert resolve_option("Tán Thành", yes_no) == "yes"
    assert resolve_option("khong-tan-thanh", yes_no) == "no"
    assert resolve_option("abstain", yes_no) == "abstain"
    assert resolve_option("B", [{"id": "A", "label": "Ông A"}, {"id": "B", "label": "Bà B"}]) == "B"
    assert resolve_option("bà b", [{"id": "A", "label": "Ông A"}, {"id": "B", "label": "Bà B"}]) \
        == "B"
    assert resolve_option("đồng ý", []) == "yes"


def ours(out: str) -> str:
    """Standard output without the in-process server's log lines."""
    return "\n".join(line for line in out.splitlines()
                     if not (line[:4].isdigit() and line[4:5] == "-" and "[" in line[:40]))


PACK = """
meeting:
  title: Họp giao ban tuần
  body: Ban Quản lý Khu kinh tế
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
  - {user: daibieu1, role: delegate}
agenda:
  - title: Tình hình tuần qua
  - title: Việc tuần tới
"""


def test_pack_push_imports_a_folder(live_server: LiveServer, room: dict[str, Any],
                                    make_user: Callable[..., dict[str, Any]], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    make_user("quantri", "Quản Trị Viên", is_admin=True)
    folder = tmp_path / "giao-ban"
    folder.mkdir()
    (folder / "meeting.yaml").write_text(PACK, encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"junk")
    auth = ["--url", live_server.url, "--user", "quantri", "--password", PASSWORD]
    assert main(["pack", "push", str(folder), "--publish", *auth]) == 0
    out = capsys.readouterr().out
    assert "Đã nhập gói họp: cuộc họp #" in out and "«Họp giao ban tuần» (đã công bố)" in out
    assert "3 thành phần · 2 mục" in out
    assert main(["meetings", "--json", *auth]) == 0
    titles = [m["title"] for m in json.loads(ours(capsys.readouterr().out))]
    assert "Họp giao ban tuần" in titles
    # A delegate may not import packs; a folder without meeting.yaml is refused locally.
    denied = ["--url", live_server.url, "--user", "daibieu1", "--password", PASSWORD]
    assert main(["pack", "push", str(folder), *denied]) == 1
    assert "[not_body_secretary]" in capsys.readouterr().err
    assert main(["pack", "push", str(tmp_path), *auth]) == 2
    assert "meeting.yaml" in capsys.readouterr().err
    with zipfile.ZipFile(io.BytesIO(zip_folder(folder))) as archive:
        assert archive.namelist() == ["meeting.yaml"]  # hidden files left out


def test_errors_are_reported_with_their_code(live_server: LiveServer, room: dict[str, Any],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--url", live_server.url, "--user", "daibieu1"]
    assert main(["meetings", *base, "--password", "sai"]) == 1
    assert "[bad_credentials]" in capsys.readouterr().err
    ok = [*base, "--password", PASSWORD]
    assert main(["call", "agenda.next", "--meeting", str(room["meeting_id"]), *ok]) == 1
    assert "[forbidden_role]" in capsys.readouterr().err
    assert main(["call", "agenda.goto", "item_id=-1", "--meeting", "1", *ok]) == 1
    err = capsys.readouterr().err
    assert "[invalid_payload]" in err and "item_id" in err
    assert main(["call", "whoami", *ok]) == 0
    assert json.loads(ours(capsys.readouterr().out))["user"]["username"] == "daibieu1"
    assert main(["meetings", "--url", live_server.url]) == 2
