"""Group commit: many small writes that arrive together share one transaction.

A storm of ballots (a thousand tablets pressing "yes" within a second) would otherwise be a
thousand transactions queued on SQLite's single writer, or a thousand fsyncs on PostgreSQL. The
batcher collects calls that arrive within a few milliseconds, and all those that arrive while a
batch is being written, and runs them in one transaction. Each call is isolated from the others:
a call that fails (a refused ballot, a constraint violation) leaves no trace and gets its own
exception; the others commit together. Every caller is answered only after the commit.

Two ways to isolate a call:

- ``savepoint=True`` (the default): the call runs between a SAVEPOINT and its RELEASE, or a
  ROLLBACK TO when it fails. It may write in any way (Core, ORM).
- ``savepoint=False``: the call promises to write only through ``defer_insert``. Its rows are
  kept aside and dropped if it fails; the rows of all calls that succeeded are inserted at the
  end of the batch, a few multi-row statements in all. No savepoint, no round trip per call:
  on PostgreSQL that is most of a ballot's cost. If such a call meets a database error anyway
  (PostgreSQL then refuses every later statement), the batch is run again with savepoints.

Callers are written like any other ``Database.write`` function (``fn(session, ...)``) and must
not commit. Within a batch they may cache what they read in ``batch_cache(session)``; the cache
is dropped whenever a call fails, so no call sees state that a failed one produced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from ecabinet.core.logs import get_logger

log = get_logger(__name__)
_CACHE = "ecabinet.batch_cache"
_PENDING = "ecabinet.batch_pending"  # (batch, index of the running call)
_ROWS = "ecabinet.batch_rows"  # the running call's deferred rows
SAVEPOINT = "ecabinet_batch_item"


def batch_cache(session: Session) -> dict[Any, Any]:
    """A dict that lives as long as the batch's transaction (empty outside a batch)."""
    cache: dict[Any, Any] = session.info.setdefault(_CACHE, {})
    return cache


def batch_calls(session: Session) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
    """The calls of the batch this session runs, not yet run (``fn``, ``args``), the current one
    first, so that a call can read ahead for the others in one query (empty outside a batch)."""
    batch, index = session.info.get(_PENDING, ([], 0))
    return [(c.fn, c.args) for c in batch[index:]]


def defer_insert(session: Session, table: sa.Table, row: dict[str, Any], *,
                 shuffled: bool = False) -> None:
    """Insert ``row`` into ``table`` at the end of the batch (at once outside a batch).

    ``shuffled``: the batch writes the table's rows in the order of their primary keys, not in
    the order of the calls (secret ballots under random keys: nothing to join with the order
    of the participation rows written beside them).
    """
    rows: list[tuple[sa.Table, dict[str, Any], bool]] | None = session.info.get(_ROWS)
    if rows is None:
        session.connection().execute(sa.insert(table), row)
    else:
        rows.append((table, row, shuffled))


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any] = field(repr=False)
    savepoint: bool = True


class BatchHost(Protocol):
    """What the batcher needs of the database it writes to (``storage.database.Database``,
    which owns the batcher: the batcher does not import it back)."""

    @property
    def is_sqlite(self) -> bool: ...

    @property
    def writer_idle(self) -> bool: ...

    @property
    def writer(self) -> Executor:
        """The executor that runs writes (a single thread on SQLite)."""

    def transaction(self) -> AbstractContextManager[Session]: ...

    def sync_errors(self) -> AbstractContextManager[None]: ...

    def run_sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


class _Rerun(Exception):
    """A call without a savepoint met a database error: run the batch again with savepoints."""


class _SessionBroken(Exception):
    """The ORM session's transaction was rolled back by a failed flush."""


class WriteBatcher:
    """Runs batched calls, one batch at a time."""

    def __init__(self, db: BatchHost, *, window: float = 0.002, max_size: int = 200,
                 inline_size: int = 200) -> None:
        self.db = db
        self.window = window
        self.max_size = max_size
        self.inline_size = inline_size  # SQLite batches run on the event loop: keep them short
        self._queue: list[_Call] = []
        self._running = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # how many transactions ran (for tests and metrics)
        self.calls = 0

    @property
    def _size(self) -> int:
        return self.inline_size if self.db.is_sqlite else self.max_size

    async def submit(self, fn: Callable[..., Any], *args: Any, savepoint: bool = True,
                     **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Call(fn, args, kwargs, future, savepoint))
        if not self._running:
            if len(self._queue) >= self._size:
                self._start(loop)
            elif self._timer is None:
                self._timer = loop.call_later(self.window, self._start, loop)
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running or not self._queue:
            return
        batch, self._queue = self._queue[: self._size], self._queue[self._size :]
        self._running = True
        task = loop.create_task(self._run(loop, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Call]) -> None:
        try:
            if self.db.is_sqlite and self.db.writer_idle:
                # SQLite with nobody else writing: run the batch right here. A thread would buy
                # no parallelism (the batch is Python holding the GIL) and cost a GIL hand-over
                # with the event loop every few milliseconds; batches are kept small so that
                # the loop's pauses stay short (~100 µs a call). Another process writing to the
                # same SQLite file would make the loop wait for it: run one process on SQLite.
                outcomes = self._transaction(batch)
            else:
                outcomes = await loop.run_in_executor(self.db.writer, self._transaction, batch)
        except Exception as exc:  # the commit failed: nothing of the batch is stored
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(exc)
        else:
            for call, (ok, value) in zip(batch, outcomes, strict=True):
                if call.future.done():  # the caller went away; its write stands
                    continue
                if ok:
                    call.future.set_result(value)
                else:
                    call.future.set_exception(value)
        finally:
            self._running = False
            if self._queue:
                # These arrived while the batch was written: they have waited long enough.
                self._start(loop)

    def _transaction(self, batch: list[_Call]) -> list[tuple[bool, Any]]:
        self.batches += 1
        self.calls += len(batch)
        try:
            with self.db.sync_errors(), self.db.transaction() as session:
                return self._calls(session, batch, careful=False)
        except _Rerun:
            with self.db.sync_errors(), self.db.transaction() as session:
                return self._calls(session, batch, careful=True)
        except _SessionBroken:
            # An ORM flush failed and took the whole transaction with it: nothing of the batch
            # was stored. Run each call in its own transaction instead (slow, but exact).
            return [self._alone(call) for call in batch]

    def _calls(self, session: Session, batch: list[_Call], *,
               careful: bool) -> list[tuple[bool, Any]]:
        """Run the calls, each isolated (``careful``: every one in a savepoint, its rows written
        at once), then write the deferred rows of those that succeeded."""
        conn = session.connection()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if self.db.is_sqlite and not raw.in_transaction:
            # Python's sqlite3 begins a transaction only before an INSERT, UPDATE or DELETE;
            # a SAVEPOINT outside a transaction would start (and its RELEASE commit) one alone.
            conn.exec_driver_sql("BEGIN")
        # Savepoint statements go straight to the driver: SQLAlchemy keeps no state about them
        # here, and its per-statement cost is most of a savepoint's.
        cursor = raw.cursor()
        outcomes: list[tuple[bool, Any]] = []
        deferred: list[tuple[sa.Table, dict[str, Any], bool]] = []
        try:
            for index, call in enumerate(batch):
                guarded = call.savepoint or careful
                session.info[_PENDING] = (batch, index)
                rows: list[tuple[sa.Table, dict[str, Any], bool]] = []
                if guarded:
                    session.info.pop(_ROWS, None)  # written at once, inside the savepoint
                    cursor.execute(f"SAVEPOINT {SAVEPOINT}")
                else:
                    session.info[_ROWS] = rows
                try:
                    value = call.fn(session, *call.args, **call.kwargs)
                    if session.new or session.dirty or session.deleted:
                        session.flush()
                except Exception as exc:
                    if not session.is_active:
                        raise _SessionBroken from exc
                    if isinstance(exc, DBAPIError):
                        if exc.connection_invalidated:
                            raise
                        if not guarded:
                            raise _Rerun from exc
                    if guarded:
                        cursor.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
                        cursor.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
                    # Objects the session holds may describe rows that were just rolled back.
                    session.expunge_all()
                    # The cache goes too; what the calls before wrote must then be in the
                    # database for the calls after to read it back.
                    session.info.pop(_CACHE, None)
                    self._flush(conn, deferred)
                    outcomes.append((False, exc))
                else:
                    if guarded:
                        cursor.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
                    deferred += rows
                    outcomes.append((True, value))
            self._flush(conn, deferred)
        finally:
            session.info.pop(_PENDING, None)
            session.info.pop(_ROWS, None)
            cursor.close()
        return outcomes

    def _flush(self, conn: sa.Connection, deferred: list[tuple[sa.Table, dict[str, Any], bool]]
               ) -> None:
        """Write the deferred rows; a conflict among them (a ballot cast at the same moment
        through another server process) sends the batch round again, carefully."""
        try:
            _write_deferred(conn, deferred)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            raise _Rerun from exc
        deferred.clear()

    def _alone(self, call: _Call) -> tuple[bool, Any]:
        try:
            return True, self.db.run_sync(call.fn, *call.args, **call.kwargs)
        except Exception as exc:
            return False, exc


def _write_deferred(conn: sa.Connection, rows: list[tuple[sa.Table, dict[str, Any], bool]]
                    ) -> None:
    """One multi-row insert per table, tables in the order they were first written to."""
    by_table: dict[sa.Table, list[dict[str, Any]]] = {}
    shuffled: set[sa.Table] = set()
    for table, row, shuffle in rows:
        by_table.setdefault(table, []).append(row)
        if shuffle:
            shuffled.add(table)
    for table, values in by_table.items():
        if table in shuffled:
            keys = [c.name for c in table.primary_key.columns]
            values.sort(key=lambda row: tuple(str(row[k]) for k in keys))
        conn.execute(sa.insert(table), values)
