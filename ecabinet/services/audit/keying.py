"""The audit chain's key and the two ways a record's hash is made.

Records are chained with HMAC-SHA256 under a key derived from the server's secret
(``ECABINET_SECRET_KEY``): someone who can write to the database but does not hold the secret
cannot change a record and redo the hashes after it. Records written before the chain was keyed
carry a plain SHA-256 of the same contents; ``verify`` accepts those only before the first keyed
record.

Which key and which anchor log belong to a database is set once, where the database is opened
(``ecabinet.app.open_database`` calls ``configure``), and found again from the session's engine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from ecabinet.storage.models import AuditRecord

GENESIS = "0" * 64
# The label makes the chain's key its own: the server secret may key other things one day, and
# a MAC made for one of them must never pass for an audit record.
KEY_LABEL = b"ecabinet/audit-chain/1"


def derive_key(secret_key: str) -> bytes:
    """The chain's sub-key: HMAC-SHA256 of a fixed label under the server secret.

    A one-block HKDF-Expand is this same HMAC over a label; the standard library does it in one
    call, which is why no key-derivation package is added for it.
    """
    return hmac.new(secret_key.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Keying:
    """What the audit trail of one database needs: the chain's key and the anchor log's path."""

    key: bytes = field(repr=False)
    anchor_log: Path


_KEYINGS: WeakKeyDictionary[Engine, Keying] = WeakKeyDictionary()


def configure(engine: Engine, *, secret_key: str, anchor_log: Path) -> None:
    """Key the audit trail of the database behind ``engine`` and say where its anchors go."""
    _KEYINGS[engine] = Keying(derive_key(secret_key), Path(anchor_log))


def engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def keying_of(session: Session) -> Keying:
    try:
        return _KEYINGS[engine_of(session)]
    except KeyError:
        # Never write an unkeyed record: it would look like a forgery to every later verify.
        raise RuntimeError(
            "the audit trail of this database has no key: call audit.configure "
            "(ecabinet.app.open_database does)"
        ) from None


def canonical(
    seq: int,
    at: datetime,
    actor_id: int | None,
    address: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes a record's hash covers (unchanged since the first, unkeyed chain)."""
    text = json.dumps(
        [seq, at.isoformat(), actor_id, address, action, subject, details, prev_hash],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return text.encode("utf-8")


def contents(row: AuditRecord) -> bytes:
    return canonical(
        row.seq, row.at, row.actor_id, row.address, row.action, row.subject, row.details,
        row.prev_hash,
    )


def keyed_digest(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def plain_digest(payload: bytes) -> str:
    """The hash of records written before the chain was keyed."""
    return hashlib.sha256(payload).hexdigest()


def is_keyed(keying: Keying, row: AuditRecord) -> bool:
    return hmac.compare_digest(keyed_digest(keying.key, contents(row)), row.hash)
