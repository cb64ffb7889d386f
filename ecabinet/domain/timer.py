"""The agenda item's timer: planned time, time used, running or paused.

State is kept as a start instant plus the time accumulated before it, never as a ticking
counter, so every client computes the same remaining time from the server's clock:
``remaining = planned - (elapsed + (now - started_at if running))``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ItemTimer:
    item_id: int | None
    planned_seconds: int | None = None  # None: no planned time, the timer only counts up
    elapsed_seconds: float = 0.0  # time used before ``started_at`` (all of it while paused)
    started_at: datetime | None = None  # set while running

    @property
    def running(self) -> bool:
        return self.started_at is not None

    def elapsed(self, now: datetime) -> float:
        if self.started_at is None:
            return self.elapsed_seconds
        return self.elapsed_seconds + max(0.0, (now - self.started_at).total_seconds())

    def remaining(self, now: datetime) -> float | None:
        """Seconds left (negative when over time), or None without a planned time."""
        if self.planned_seconds is None:
            return None
        return self.planned_seconds - self.elapsed(now)

    def start(self, now: datetime) -> ItemTimer:
        if self.running:
            return self
        return replace(self, started_at=now)

    def pause(self, now: datetime) -> ItemTimer:
        if not self.running:
            return self
        return replace(self, elapsed_seconds=round(self.elapsed(now), 3), started_at=None)

    def extend(self, seconds: int, now: datetime) -> ItemTimer:
        """Add time to the plan; without a plan, allow ``seconds`` more from now."""
        if self.planned_seconds is None:
            return replace(self, planned_seconds=max(0, int(self.elapsed(now))) + seconds)
        return replace(self, planned_seconds=max(0, self.planned_seconds + seconds))

    def reset(self, planned_seconds: int | None) -> ItemTimer:
        return ItemTimer(self.item_id, planned_seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "planned_seconds": self.planned_seconds,
            "elapsed_seconds": self.elapsed_seconds,
            "started_at": self.started_at.isoformat() if self.started_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemTimer:
        started = data.get("started_at")
        return cls(
            item_id=data.get("item_id"),
            planned_seconds=data.get("planned_seconds"),
            elapsed_seconds=float(data.get("elapsed_seconds") or 0.0),
            started_at=datetime.fromisoformat(started) if started else None,
        )
