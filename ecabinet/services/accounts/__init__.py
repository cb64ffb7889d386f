"""Accounts, passwords and server-side sign-in sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session, select, update

from ecabinet.core.errors import Conflict, InvalidInput, Unauthenticated
from ecabinet.storage.models import AuthSession, User, utcnow

_hasher = PasswordHash((Argon2Hasher(),))
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = _hasher.hash("ecabinet-timing-equaliser")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
BAD_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."


@dataclass(frozen=True)
class SessionInfo:
    """What a request or socket needs to know about who is calling."""

    user_id: int
    username: str
    full_name: str
    is_admin: bool
    locale: str
    session_id: int


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session,
    username: str,
    password: str,
    full_name: str,
    *,
    email: str | None = None,
    is_admin: bool = False,
    locale: str = "vi",
) -> User:
    """Create an account. Usernames are lower-case ASCII; passwords at least 8 characters."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "Tên đăng nhập chỉ gồm chữ thường không dấu, số, '.', '_' hoặc '-' (2–64 ký tự).",
            code="invalid_username",
        )
    if len(password) < 8:
        raise InvalidInput("Mật khẩu phải có ít nhất 8 ký tự.", code="weak_password")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"Tên đăng nhập '{username}' đã tồn tại.", code="username_taken")
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        email=email,
        password_hash=hash_password(password),
        is_admin=is_admin,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("Mật khẩu phải có ít nhất 8 ký tự.", code="weak_password")
    user.password_hash = hash_password(password)
    session.add(user)


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the user for these credentials or raise ``Unauthenticated`` with a generic message."""
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.is_active:
        _hasher.verify(password, _DUMMY_HASH)
        raise Unauthenticated(BAD_CREDENTIALS, code="bad_credentials")
    valid, new_hash = _hasher.verify_and_update(password, user.password_hash)
    if not valid:
        raise Unauthenticated(BAD_CREDENTIALS, code="bad_credentials")
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
    return user


def open_session(
    session: Session,
    user: User,
    *,
    days: int,
    kind: str = "cookie",
    user_agent: str = "",
    address: str = "",
) -> str:
    """Start a sign-in session and return its token (only its hash is stored)."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            kind=kind,
            user_agent=user_agent[:300],
            address=address[:64],
            expires_at=utcnow() + timedelta(days=days),
        )
    )
    return token


def resolve_session(session: Session, token: str) -> SessionInfo:
    """The signed-in user behind a token, or ``Unauthenticated`` when it is unknown or ended."""
    row = session.exec(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)  # type: ignore[arg-type]
        .where(AuthSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        raise Unauthenticated("Phiên đăng nhập không hợp lệ.", code="unknown_session")
    auth, user = row
    if auth.revoked_at is not None or auth.expires_at <= utcnow() or not user.is_active:
        raise Unauthenticated(
            "Phiên đăng nhập đã kết thúc; vui lòng đăng nhập lại.", code="session_ended"
        )
    assert user.id is not None and auth.id is not None
    return SessionInfo(user.id, user.username, user.full_name, user.is_admin, user.locale, auth.id)


def close_session(session: Session, token: str) -> list[int]:
    """End the session of ``token``; return its id (none: it had ended already, or never was)."""
    rows = session.exec(
        select(AuthSession.id)
        .where(AuthSession.token_hash == _token_hash(token))
        .where(AuthSession.revoked_at.is_(None))  # type: ignore[union-attr]
    ).all()
    ids = [r for r in rows if r is not None]
    if ids:
        session.exec(
            update(AuthSession)
            .where(AuthSession.id.in_(ids))  # type: ignore[union-attr]
            .values(revoked_at=utcnow())
        )
    return ids


def close_all_sessions(session: Session, user_id: int) -> list[int]:
    """Sign a user out everywhere (a lost tablet); return the ended session ids."""
    rows = session.exec(
        select(AuthSession.id)
        .where(AuthSession.user_id == user_id)
        .where(AuthSession.revoked_at.is_(None))  # type: ignore[union-attr]
    ).all()
    ids = [r for r in rows if r is not None]
    if ids:
        session.exec(
            update(AuthSession)
            .where(AuthSession.id.in_(ids))  # type: ignore[union-attr]
            .values(revoked_at=utcnow())
        )
    return ids


def get_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username.strip().lower())).first()
