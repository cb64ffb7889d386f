"""Meeting events as the client hands them out, and the rules that keep them in sequence.

The server numbers a meeting's events 1, 2, 3, ... without gaps. ``Sequencer`` is the pure part
of the client's resync logic: it holds back what arrives while a join is in flight, drops what a
snapshot already contains, delivers the rest strictly in order, and says when a gap needs a
re-join with ``since``. It does no I/O, so its rules are tested without a server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Events the client makes itself (never sent by the server); their types start with "client.".
SNAPSHOT = "client.snapshot"  # payload: the full snapshot; seq: the snapshot's sequence number
PRIVATE = "client.private"  # payload: the private snapshot parts re-sent by a resync
CONNECTION = "client.connection"  # payload: {"state": "lost" | "restored" | "failed", ...}


@dataclass(frozen=True, slots=True)
class Event:
    """One meeting event: ``seq`` is None for staff-only, per-user and streaming events."""

    meeting_id: int
    seq: int | None
    type: str
    payload: Any
    at: str | None = None
    received: float = field(default_factory=time.time)
    replayed: bool = False  # came in a resync answer, not live

    @classmethod
    def from_envelope(cls, env: dict[str, Any], *, replayed: bool = False) -> Event:
        return cls(int(env["meeting_id"]), env.get("seq"), str(env["type"]), env.get("payload"),
                   env.get("at"), replayed=replayed)

    @property
    def synthetic(self) -> bool:
        """True for the client's own events (snapshot, private parts, connection state)."""
        return self.type.startswith("client.")

    @property
    def sent_at(self) -> float | None:
        """When the server committed it (seconds since the epoch), from ``at``."""
        if not self.at:
            return None
        return datetime.fromisoformat(self.at).timestamp()

    @property
    def latency(self) -> float | None:
        """Seconds from the server's commit to this client (meaningful with synced clocks)."""
        sent = self.sent_at
        return None if sent is None else self.received - sent


class Sequencer:
    """Ordering state of one joined meeting."""

    def __init__(self, meeting_id: int) -> None:
        self.meeting_id = meeting_id
        self.seq: int | None = None  # the last sequence number delivered (or in the snapshot)
        self.joining = True
        self._held: list[Event] = []  # arrived while a join was in flight
        self._ahead: dict[int, Event] = {}  # arrived after a gap

    @property
    def gap(self) -> bool:
        """Events are waiting for an earlier one that has not come."""
        return bool(self._ahead) and not self.joining

    def begin_join(self) -> None:
        self.joining = True

    def live(self, event: Event) -> list[Event]:
        """An event pushed by the server: what to deliver now, in order."""
        if self.joining:
            self._held.append(event)
            return []
        return self._accept(event)

    def joined(self, answer: dict[str, Any]) -> list[Event]:
        """The answer of ``meeting.join``: a snapshot, or the events missed since ``seq``."""
        out: list[Event] = []
        head = int(answer["seq"])
        if answer.get("mode") == "events":
            for env in answer.get("events", []):
                event = Event.from_envelope(env, replayed=True)
                if event.seq is not None and self.seq is not None and event.seq == self.seq + 1:
                    self.seq = event.seq
                    out.append(event)
            private = answer.get("private")
            if private:
                out.append(Event(self.meeting_id, None, PRIVATE, private))
            if self.seq is None or self.seq < head:
                self.seq = head  # the server says these were all; never wait for them again
        elif self.seq is None or head >= self.seq:
            self.seq = head
            out.append(Event(self.meeting_id, head, SNAPSHOT, answer.get("snapshot", {})))
        # else: an answer older than what was delivered since (two joins crossed): ignore it
        self._ahead = {s: e for s, e in self._ahead.items() if s > self.seq}
        self.joining = False
        held, self._held = self._held, []
        for event in held:
            out += self._accept(event)
        out += self._drain()
        return out

    def failed_join(self) -> None:
        """The join did not answer: keep what was held for the next attempt."""
        self.joining = True

    def _accept(self, event: Event) -> list[Event]:
        if event.seq is None:
            return [event]
        if self.seq is not None and event.seq <= self.seq:
            return []  # already in the snapshot or delivered
        self._ahead.setdefault(event.seq, event)
        return self._drain()

    def _drain(self) -> list[Event]:
        out = []
        while self.seq is not None and self.seq + 1 in self._ahead:
            self.seq += 1
            out.append(self._ahead.pop(self.seq))
        return out
