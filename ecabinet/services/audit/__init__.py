"""The audit trail: append-only records, each chained to the previous one by a keyed hash.

``record`` appends in the caller's transaction; each record's hash is an HMAC-SHA256, under a
key derived from the server secret, of its contents and the previous record's hash
(``keying``). The head is anchored outside the database (``anchors``): every ``ANCHOR_EVERY``
records, and whenever it is given out by ``current_anchor`` (the minutes, ``ecabinet audit
head``). ``verify`` recomputes the chain and checks every anchor, so a record changed, removed
or inserted, a chain redone without the key, or records cut from the end up to an anchor are
reported; ``verify(expect=...)`` checks one more head kept elsewhere.
"""

from __future__ import annotations

from ecabinet.services.audit.anchors import ANCHOR_EVERY, Anchor
from ecabinet.services.audit.keying import GENESIS, configure
from ecabinet.services.audit.lookup import record_at
from ecabinet.services.audit.trail import current_anchor, head, record
from ecabinet.services.audit.verify import Problem, Report, check, verify

__all__ = [
    "ANCHOR_EVERY",
    "CONFIDENTIAL_VIEW",
    "DECLASSIFIED",
    "DOWNLOAD",
    "EXPORT",
    "GENESIS",
    "POLL_CANCELLED",
    "POLL_CLOSED",
    "POLL_OPENED",
    "POLL_PUBLISHED",
    "ROLE_CHANGED",
    "SIGNIN_FAILED",
    "SIGNIN_OK",
    "SIGNOUT_ALL",
    "Anchor",
    "Problem",
    "Report",
    "check",
    "configure",
    "current_anchor",
    "head",
    "record",
    "record_at",
    "verify",
]

# Actions recorded (stable names; docs/security.md lists them).
SIGNIN_OK = "signin.ok"
SIGNIN_FAILED = "signin.failed"
SIGNOUT_ALL = "signout.everywhere"
ROLE_CHANGED = "participant.role_changed"
CONFIDENTIAL_VIEW = "document.confidential_view"
DECLASSIFIED = "document.declassified"
DOWNLOAD = "document.download"
EXPORT = "export"
POLL_OPENED = "poll.opened"
POLL_CLOSED = "poll.closed"
POLL_PUBLISHED = "poll.published"
POLL_CANCELLED = "poll.cancelled"
