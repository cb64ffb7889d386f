"""The clock: every timestamp the server writes or sends is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware (naive datetimes would compare wrongly across backends)."""
    return datetime.now(UTC)
