"""The database: one SQLAlchemy engine, transactions, and async entry points for the event loop.

Service code is plain synchronous SQLModel code that receives a ``Session`` inside a transaction.
The event loop calls it through ``Database.write`` / ``Database.read``, which run it on worker
threads: writes on one thread for SQLite (it has a single writer anyway, and this avoids "database
is locked"), on a small pool for PostgreSQL (row locks serialise what must be serialised).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlmodel import Session

from ecabinet.core.errors import InvalidInput, Unavailable
from ecabinet.core.logs import get_logger
from ecabinet.storage.batching import WriteBatcher

log = get_logger(__name__)
# deadlock_detected, serialization_failure: the database rolled the transaction back.
RETRYABLE = frozenset({"40P01", "40001"})
RETRIES = 3
T = TypeVar("T")
P = ParamSpec("P")


def create_db_engine(url: str) -> Engine:
    """An engine with the settings each backend needs (SQLite: WAL, foreign keys, busy timeout)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # hide_parameters: a failed statement's message never carries its values into the logs
        # (a secret ballot's choice, a password hash).
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return sa.create_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )


class Database:
    """Owns the engine and the worker threads that run blocking database work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = ThreadPoolExecutor(1 if self.is_sqlite else 4, thread_name_prefix="db-write")
        self._reader = ThreadPoolExecutor(4, thread_name_prefix="db-read")
        self.batcher = WriteBatcher(self)
        self._writes_in_flight = 0  # ``write`` calls handed to the writer threads, not done

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any exception."""
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(session, ...)`` in one transaction. PostgreSQL aborts one side of a deadlock
        or serialisation conflict; that transaction rolled back whole, so it is run again."""
        for attempt in range(1, RETRIES + 1):
            try:
                with self.sync_errors(), self.transaction() as session:
                    return fn(session, *args, **kwargs)
            except Unavailable as exc:
                cause = exc.__cause__
                if attempt == RETRIES or not isinstance(cause, OperationalError) or (
                    getattr(cause.orig, "sqlstate", None) not in RETRYABLE
                ):
                    raise
                log.info("database.retry", attempt=attempt, reason=str(cause.orig).splitlines()[0])
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def sync_errors(self) -> Iterator[None]:
        """Turn a database that does not answer into ``Unavailable`` (one warning line), and a
        value the database refuses into ``InvalidInput``."""
        try:
            yield
        except OperationalError as exc:
            log.warning("database.unavailable", error=str(exc.orig or exc).splitlines()[0])
            raise _unavailable(exc) from exc
        except DataError as exc:
            raise invalid_data() from exc

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(session, *args)`` in a transaction on the writer thread; return its result."""
        loop = asyncio.get_running_loop()
        call = functools.partial(self.run_sync, fn, *args, **kwargs)
        self._writes_in_flight += 1
        try:
            return await loop.run_in_executor(self._writer, call)
        finally:
            self._writes_in_flight -= 1

    @property
    def writer(self) -> ThreadPoolExecutor:
        """The threads that run writes (one on SQLite: it has a single writer anyway)."""
        return self._writer

    @property
    def writer_idle(self) -> bool:
        """No ``write`` is queued or running on the writer threads (event loop's view)."""
        return self._writes_in_flight == 0

    async def write_batched(self, fn: Callable[..., T], *args: Any, savepoint: bool = True,
                            **kwargs: Any) -> T:
        """Like ``write``, but sharing one transaction with the calls that arrive together.

        ``fn``'s failure undoes only its own changes, and its result comes back after the
        batch's commit. ``savepoint=False``: ``fn`` writes only through ``defer_insert`` (no
        savepoint needed). See ``ecabinet.storage.batching``.
        """
        result: T = await self.batcher.submit(fn, *args, savepoint=savepoint, **kwargs)
        return result

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(self.run_sync, fn, *args, **kwargs)
        return await loop.run_in_executor(self._reader, call)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self.engine.dispose()


def _unavailable(exc: DBAPIError) -> Unavailable:
    return Unavailable(
        "Cơ sở dữ liệu tạm thời không phản hồi; vui lòng thử lại. (The database is not answering.)",
        code="database_unavailable",
    )


def invalid_data() -> InvalidInput:
    """PostgreSQL refuses values SQLite lets through (an id past 32 bits: integer out of
    range); that is the caller's bad input, not a server error."""
    return InvalidInput(
        "Dữ liệu không hợp lệ: một giá trị vượt quá giới hạn (a value is out of range).",
        code="invalid_payload",
    )
