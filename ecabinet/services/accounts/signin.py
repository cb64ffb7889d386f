"""Signing in and out: the limits on failed attempts, the audit records, the sessions.

The web adapter calls these from the sign-in form and from the JSON API alike, so a browser and
the Python client meet the same limits and leave the same trail.

The limits stop guessing without letting a guesser lock the owner out (issue #14, finding 12):

- one account from one address: 5 failures in 5 minutes, then that pair is refused;
- one address, whatever the accounts: 30 failures in 5 minutes, then that address is refused;
- one account from anywhere (many addresses guessing together): from the 10th failure in 15
  minutes on, each failure is answered later and later (up to 3 s); the account is never
  refused, so its owner, from an address of their own, always gets in at once.

A success clears its pair's count, not the account's: the owner signing in does not give a
guesser elsewhere a fresh start. The counts are shared by every server process through Redis
when it is configured (``ecabinet.core.ratelimit``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from sqlmodel import Session

from ecabinet.core.errors import RateLimited, Unauthenticated
from ecabinet.core.logs import get_logger
from ecabinet.core.metrics import Metrics
from ecabinet.core.ratelimit import Counters, Window
from ecabinet.services import audit
from ecabinet.services.accounts import (
    SessionInfo,
    authenticate,
    close_all_sessions,
    close_session,
    open_session,
)
from ecabinet.storage.database import Database
from ecabinet.storage.models import User

log = get_logger(__name__)


PAIR: Final = Window("signin-pair", 5, 300)
ADDRESS: Final = Window("signin-address", 30, 300)
ACCOUNT: Final = Window("signin-account", 1000, 900)
SLOW_AFTER: Final = 10  # failures of one account within ACCOUNT's window before answers slow
SLOWEST: Final = 3.0  # seconds: a failure's answer waits at most this long


@dataclass(frozen=True)
class Limits:
    """The counts of failed attempts (shared through Redis when configured), and the counter
    of outcomes."""

    counters: Counters
    metrics: Metrics


def slowdown(failures: int) -> float:
    """Seconds a failure's answer waits once its account has failed ``failures`` times from
    anywhere: nothing before ``SLOW_AFTER``, then a quarter second doubling up to ``SLOWEST``."""
    if failures < SLOW_AFTER:
        return 0.0
    return float(min(SLOWEST, 0.25 * 2 ** (failures - SLOW_AFTER)))


@dataclass(frozen=True)
class Attempt:
    """Who knocks: the credentials, and what the transport knows about the caller."""

    username: str
    password: str
    kind: str  # "cookie" (a browser's form) or "token" (the API)
    address: str
    user_agent: str = ""


@dataclass(frozen=True)
class SignedIn:
    token: str
    user: dict[str, Any]


def user_view(user: User | SessionInfo) -> dict[str, Any]:
    """A user as answers show them to themselves."""
    if isinstance(user, SessionInfo):
        return {"id": user.user_id, "username": user.username, "full_name": user.full_name,
                "is_admin": user.is_admin, "locale": user.locale}
    return {"id": user.id, "username": user.username, "full_name": user.full_name,
            "is_admin": user.is_admin, "locale": user.locale}


async def sign_in(db: Database, limits: Limits, attempt: Attempt, *, days: int) -> SignedIn:
    """Check the limits, then the credentials; open a session of ``days`` days.

    Raises ``RateLimited`` (``signin_rate_limited``, with the seconds to wait) while this
    account has failed too often from this address, or this address too often at all;
    ``Unauthenticated`` (``bad_credentials``) otherwise, late when the account is being guessed
    from many addresses. Both outcomes are audited; a refusal is not an attempt.
    """
    account = attempt.username.strip().lower()
    counters = limits.counters
    wait = max(await counters.wait(PAIR, account, attempt.address),
               await counters.wait(ADDRESS, attempt.address))
    if wait > 0:
        limits.metrics.signins.labels("limited").inc()
        raise RateLimited(
            f"Quá nhiều lần đăng nhập sai; thử lại sau {int(wait) + 1} giây.",
            retry_after=wait,
            code="signin_rate_limited",
        )

    def check(session: Session) -> SignedIn:
        user = authenticate(session, attempt.username, attempt.password)
        audit.record(session, audit.SIGNIN_OK, actor_id=user.id, subject=user.username,
                     details={"kind": attempt.kind}, address=attempt.address)
        token = open_session(session, user, days=days, kind=attempt.kind,
                             user_agent=attempt.user_agent, address=attempt.address)
        return SignedIn(token, user_view(user))

    try:
        signed_in = await db.write(check)
    except Unauthenticated:
        await db.write(audit.record, audit.SIGNIN_FAILED, subject=account[:64],
                       address=attempt.address)
        await counters.hit(PAIR, account, attempt.address)
        await counters.hit(ADDRESS, attempt.address)
        await counters.hit(ACCOUNT, account)
        limits.metrics.signins.labels("failed").inc()
        log.info("signin.failed", username=account, address=attempt.address)
        await asyncio.sleep(slowdown(await counters.count(ACCOUNT, account)))
        raise
    await counters.clear(PAIR, account, attempt.address)
    limits.metrics.signins.labels("ok").inc()
    log.info("signin.ok", username=signed_in.user["username"],
             full_name=signed_in.user["full_name"], kind=attempt.kind)
    return signed_in


async def sign_out(db: Database, token: str) -> list[int]:
    """End the session of ``token`` (nothing happens for one already ended); return the ended
    session's id, whose live sockets the caller then drops."""
    ended: list[int] = await db.write(close_session, token)
    return ended


async def sign_out_everywhere(db: Database, me: SessionInfo, address: str) -> list[int]:
    """End every session of the caller (a lost tablet), audited; return the ended sessions'
    ids, whose live sockets the caller then drops."""

    def end_all(session: Session) -> list[int]:
        audit.record(session, audit.SIGNOUT_ALL, actor_id=me.user_id, subject=me.username,
                     address=address)
        return close_all_sessions(session, me.user_id)

    ended = await db.write(end_all)
    log.info("signout.everywhere", username=me.username, sessions=len(ended))
    return ended


def set_locale(session: Session, user_id: int, locale: str) -> None:
    """Remember the language a user chose for the pages."""
    user = session.get(User, user_id)
    if user is not None and user.locale != locale:
        user.locale = locale
        session.add(user)
