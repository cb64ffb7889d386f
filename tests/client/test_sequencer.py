"""The client's ordering rules, without a server: hold during a join, drop what the snapshot
holds, deliver in order, wait at a gap, and take the resync answer."""

from __future__ import annotations

from typing import Any

from ecabinet_client.events import PRIVATE, SNAPSHOT, Event, Sequencer


def ev(seq: int | None, type_: str = "agenda.current") -> Event:
    return Event(7, seq, type_, {"n": seq})


def env(seq: int) -> dict[str, Any]:
    return {"meeting_id": 7, "seq": seq, "type": "agenda.current", "payload": {"n": seq},
            "at": "2026-05-01T08:00:00+00:00"}


def seqs(events: list[Event]) -> list[tuple[int | None, str]]:
    return [(e.seq, e.type) for e in events]


def test_events_around_the_join_answer_are_held_then_deduplicated() -> None:
    s = Sequencer(7)
    assert s.live(ev(5)) == [] and s.live(ev(6)) == [] and s.live(ev(None, "presence")) == []
    out = s.joined({"mode": "snapshot", "seq": 5, "snapshot": {"x": 1}})
    # 5 is in the snapshot; 6 came after it; the unsequenced one follows in arrival order.
    assert seqs(out) == [(5, SNAPSHOT), (6, "agenda.current"), (None, "presence")]
    assert s.seq == 6 and not s.gap


def test_in_order_duplicates_and_a_gap_that_fills_by_itself() -> None:
    s = Sequencer(7)
    s.joined({"mode": "snapshot", "seq": 0, "snapshot": {}})
    assert seqs(s.live(ev(1))) == [(1, "agenda.current")]
    assert s.live(ev(1)) == []  # a duplicate
    assert s.live(ev(3)) == [] and s.gap  # 2 is missing: wait
    assert s.live(ev(4)) == []
    assert [e.seq for e in s.live(ev(2))] == [2, 3, 4] and not s.gap


def test_a_resync_answer_fills_the_gap_and_keeps_later_live_events() -> None:
    s = Sequencer(7)
    s.joined({"mode": "snapshot", "seq": 1, "snapshot": {}})
    s.live(ev(3))
    s.live(ev(5))
    assert s.gap
    s.begin_join()
    assert s.live(ev(6)) == []  # arrives during the resync
    out = s.joined({"mode": "events", "seq": 4, "events": [env(2), env(3), env(4)],
                    "private": {"poll_live": None, "timer": {"running": False}}})
    assert seqs(out) == [(2, "agenda.current"), (3, "agenda.current"), (4, "agenda.current"),
                         (None, PRIVATE), (5, "agenda.current"), (6, "agenda.current")]
    assert all(e.replayed for e in out[:3]) and not out[4].replayed
    assert s.seq == 6 and not s.gap


def test_a_fresh_snapshot_on_resync_replaces_everything_before_it() -> None:
    s = Sequencer(7)
    s.joined({"mode": "snapshot", "seq": 1, "snapshot": {}})
    s.live(ev(700))
    s.begin_join()
    out = s.joined({"mode": "snapshot", "seq": 800, "snapshot": {"fresh": True}})
    assert seqs(out) == [(800, SNAPSHOT)] and out[0].payload == {"fresh": True}
    assert s.seq == 800 and not s.gap


def test_a_failed_join_keeps_what_was_held() -> None:
    s = Sequencer(7)
    s.live(ev(3))
    s.failed_join()
    s.live(ev(4))
    out = s.joined({"mode": "snapshot", "seq": 2, "snapshot": {}})
    assert [e.seq for e in out] == [2, 3, 4]


def test_latency_is_measured_from_the_commit_time() -> None:
    e = Event.from_envelope(env(1))
    assert e.sent_at is not None and e.latency is not None
    assert abs(e.latency - (e.received - e.sent_at)) < 1e-9
    assert Event(7, None, "x", {}).latency is None


def test_a_stale_snapshot_from_crossed_joins_is_ignored() -> None:
    s = Sequencer(7)
    s.joined({"mode": "snapshot", "seq": 3, "snapshot": {}})
    s.live(ev(4))
    s.begin_join()
    assert s.joined({"mode": "snapshot", "seq": 3, "snapshot": {"old": True}}) == []
    assert s.seq == 4
