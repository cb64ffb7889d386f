"""The lifecycle's checks: archived meetings are read-only; the room runs only in session."""

from __future__ import annotations

import pytest

from ecabinet.core.errors import Conflict
from ecabinet.domain import lifecycle
from ecabinet.domain.roles import MeetingStatus


@pytest.mark.parametrize("status", [s for s in MeetingStatus if s is not MeetingStatus.ARCHIVED])
def test_every_status_but_archived_may_change(status: MeetingStatus) -> None:
    lifecycle.check_editable(status)
    lifecycle.check_editable(status.value)  # as the tables store it
    assert lifecycle.is_editable(status)


def test_an_archived_meeting_is_read_only() -> None:
    for status in (MeetingStatus.ARCHIVED, "archived"):
        with pytest.raises(Conflict) as caught:
            lifecycle.check_editable(status)
        assert caught.value.code == "meeting_archived"
        assert caught.value.details == {"status": "archived"}
        assert "read-only" in caught.value.message
        assert not lifecycle.is_editable(status)


def test_an_unknown_status_is_a_bug_not_a_pass() -> None:
    with pytest.raises(ValueError):
        lifecycle.check_editable("frozen")


@pytest.mark.parametrize("status", list(MeetingStatus))
def test_only_a_meeting_in_session_runs_the_room(status: MeetingStatus) -> None:
    if status is MeetingStatus.IN_SESSION:
        lifecycle.check_in_session(status)
        lifecycle.check_in_session(status.value)
        return
    with pytest.raises(Conflict) as caught:
        lifecycle.check_in_session(status.value)
    assert caught.value.code == "meeting_not_in_session"
