"""Signing in and out: the rate limits on failed attempts, the audit records, the sessions.

The web adapter calls these from the sign-in form and from the JSON API alike, so a browser and
the Python client meet the same limits and leave the same trail. Failed attempts are limited per
account (a few) and per address (more: a shared office address), and a success clears the
account's count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ecabinet.core.errors import RateLimited, Unauthenticated
from ecabinet.core.logs import get_logger
from ecabinet.core.metrics import Metrics
from ecabinet.core.ratelimit import SlidingWindowLimiter
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


@dataclass(frozen=True)
class Limits:
    """The failed-attempt limiters of this process, and the counter of outcomes."""

    by_account: SlidingWindowLimiter
    by_address: SlidingWindowLimiter
    metrics: Metrics


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
    """Check the rate limits, then the credentials; open a session of ``days`` days.

    Raises ``RateLimited`` (``signin_rate_limited``) while the account or the address has
    failed too often, ``Unauthenticated`` (``bad_credentials``) otherwise; both outcomes are
    audited.
    """
    account_key = attempt.username.strip().lower()
    wait = max(limits.by_account.retry_after(account_key),
               limits.by_address.retry_after(attempt.address))
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
        await db.write(audit.record, audit.SIGNIN_FAILED, subject=account_key[:64],
                       address=attempt.address)
        limits.by_account.hit(account_key)
        limits.by_address.hit(attempt.address)
        limits.metrics.signins.labels("failed").inc()
        log.info("signin.failed", username=account_key, address=attempt.address)
        raise
    limits.by_account.reset(account_key)
    limits.metrics.signins.labels("ok").inc()
    log.info("signin.ok", username=signed_in.user["username"],
             full_name=signed_in.user["full_name"], kind=attempt.kind)
    return signed_in


async def sign_out(db: Database, token: str) -> None:
    """End the session of ``token`` (nothing happens for one already ended)."""
    await db.write(close_session, token)


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
