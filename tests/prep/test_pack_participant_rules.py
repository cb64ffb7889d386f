"""A pack import applies the participants API's own rules: the same cases are refused by both.

Each case is a list of participants in the pack's form. On the API side they are added, then
their proxies set, by the meeting's secretary over HTTP; on the import side they are written into
``meeting.yaml`` and imported from a folder. Both must refuse (or both accept) every case, and a
refused import leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from ecabinet.cli.pack import report
from ecabinet.core.errors import InvalidInput
from ecabinet.core.settings import Settings
from ecabinet.services import packs
from ecabinet.services.packs import transfer as pack_io
from ecabinet.storage.models import Meeting, Participant
from tests.prep.helpers import Callers

BASE = """\
meeting:
  title: Họp kiểm tra quy tắc
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
"""
Entry = dict[str, Any]
D1, D2, OBS, OUT = "daibieu1", "daibieu2", "quansat", "nguoingoai"

CASES: dict[str, tuple[list[Entry], bool]] = {
    # name: (participants added after the chair and the secretary, refused?)
    "observer with a vote": ([{"user": OBS, "role": "observer", "vote": True}], True),
    "observer without a vote": ([{"user": OBS, "role": "observer", "vote": False}], False),
    "secretary given a vote": ([{"user": D1, "role": "secretary", "vote": True}], False),
    "unknown role": ([{"user": D1, "role": "president"}], True),
    "weight zero": ([{"user": D1, "role": "delegate", "weight": 0}], True),
    "weight too large": ([{"user": D1, "role": "delegate", "weight": 1_000_001}], True),
    "weighted delegate": ([{"user": D1, "role": "delegate", "weight": 3}], False),
    # Neither side refuses a weight on someone without a vote: it is never counted (quorum and
    # tallies count voters only), and an exported pack carries it as it is.
    "weight without a vote": ([{"user": OBS, "role": "observer", "weight": 3}], False),
    "unknown user": ([{"user": "khongco", "role": "delegate"}], True),
    "same person twice": (
        [{"user": D1, "role": "delegate"}, {"user": D1, "role": "observer"}],
        True,
    ),
    "proxy between delegates": (
        [{"user": D1, "role": "delegate"}, {"user": D2, "role": "delegate", "proxy_holder": D1}],
        False,
    ),
    "proxy to an observer": (
        [{"user": OBS, "role": "observer"}, {"user": D1, "role": "delegate", "proxy_holder": OBS}],
        True,
    ),
    "proxy to someone without a vote": (
        [
            {"user": D2, "role": "delegate", "vote": False},
            {"user": D1, "role": "delegate", "proxy_holder": D2},
        ],
        True,
    ),
    "proxy from someone without a vote": (
        [
            {"user": D2, "role": "delegate"},
            {"user": D1, "role": "delegate", "vote": False, "proxy_holder": D2},
        ],
        True,
    ),
    "proxy to oneself": ([{"user": D1, "role": "delegate", "proxy_holder": D1}], True),
    "proxy to a non-participant": (
        [{"user": D1, "role": "delegate", "proxy_holder": OUT}],
        True,
    ),
    "proxy chain": (
        [
            {"user": D1, "role": "delegate", "proxy_holder": D2},
            {"user": D2, "role": "delegate", "proxy_holder": OUT},
            {"user": OUT, "role": "delegate"},
        ],
        True,
    ),
}


def _yaml(entries: list[Entry]) -> str:
    lines = [BASE]
    for entry in entries:
        fields = ", ".join(f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
                           for key, value in entry.items())
        lines.append(f"  - {{{fields}}}\n")
    return "".join(lines)


def _meetings(app: Any) -> int:
    return len(app.runtime.db.run_sync(lambda s: s.exec(select(Meeting)).all()))


def _import(app: Any, settings: Settings, folder: Path, text: str) -> InvalidInput | None:
    folder.mkdir()
    (folder / packs.PACK_FILE).write_text(text, encoding="utf-8")
    before = _meetings(app)
    try:
        pack_io.import_path(app.runtime.db, settings.prepare(), folder)
    except InvalidInput as exc:
        assert _meetings(app) == before  # nothing imported
        return exc
    assert _meetings(app) == before + 1
    return None


def _through_the_api(app: Any, client: TestClient, entries: list[Entry]) -> list[dict[str, Any]]:
    """Add the entries and set their proxies as the secretary; return every refusal."""

    def base(session: Any) -> int:
        meeting = packs.import_pack(session, packs.parse_pack(BASE))
        assert meeting.id is not None
        return meeting.id

    meeting_id = app.runtime.db.run_sync(base)
    as_ = Callers(client)
    url = f"/api/meetings/{meeting_id}/participants"
    refusals = []
    for entry in entries:
        body: dict[str, Any] = {"username": entry["user"], "role": entry["role"]}
        if "vote" in entry:
            body["can_vote"] = entry["vote"]
        if "weight" in entry:
            body["vote_weight"] = entry["weight"]
        answer = as_.post("thuky", url, body)
        if answer.status_code != 201:
            refusals.append(answer.json()["error"])

    def ids(session: Any) -> dict[str, int]:
        from ecabinet.services.meetings.participants import participant_list

        return {p.username: p.id for p in participant_list(session, meeting_id)}

    who = app.runtime.db.run_sync(ids)
    for entry in entries:
        if "proxy_holder" in entry and entry["user"] in who:
            holder = who.get(entry["proxy_holder"], 999_999)
            answer = as_.put("thuky", f"{url}/{who[entry['user']]}/proxy", {"holder_id": holder})
            if answer.status_code != 200:
                refusals.append(answer.json()["error"])
    return refusals


@pytest.mark.parametrize("case", list(CASES))
def test_the_api_and_the_import_refuse_the_same_cases(
    case: str, app: Any, client: TestClient, settings: Settings, room: dict[str, Any],
    tmp_path: Path,
) -> None:
    entries, refused = CASES[case]
    api = _through_the_api(app, client, entries)
    assert bool(api) is refused, api
    imported = _import(app, settings, tmp_path / "pack", _yaml(entries))
    assert (imported is not None) is refused
    if imported is None:
        return
    assert imported.code == "invalid_pack"
    messages = " | ".join(p["message"] for p in imported.details)
    for error in api:
        if error["code"] not in ("invalid_payload", "unknown_user", "participant_exists"):
            # A rule of the participants service: the import says it in the same words.
            assert error["message"] in messages


def test_an_observer_given_a_vote_is_refused_with_its_line(
    app: Any, settings: Settings, room: dict[str, Any], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _yaml([{"user": D1, "role": "delegate"},
                  {"user": OBS, "role": "observer", "vote": True}])
    participants = len(app.runtime.db.run_sync(lambda s: s.exec(select(Participant)).all()))
    error = _import(app, settings, tmp_path / "pack", text)
    assert error is not None
    [problem] = error.details
    assert (problem["line"], problem["field"]) == (7, "participants.3.vote")
    assert report(error) == 1
    assert ("  meeting.yaml:7: participants.3.vote: Quan sát viên không có quyền biểu quyết "
            "(observers cannot vote).") in capsys.readouterr().err.splitlines()
    assert len(app.runtime.db.run_sync(lambda s: s.exec(select(Participant)).all())) == (
        participants
    )
