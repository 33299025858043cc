"""The SQLite file: one writer connection fed by a queue and committed in batches, one reader.

Every write goes through the writer task, so a process never contends with itself; two
processes on one home contend only through SQLite's own lock (WAL, busy timeout, retry).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from itertools import chain, count
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreBusy
from ..inotify import IN_MODIFY, change_signal
from ..json_codec import encode_many
from ..models import Event, EventType, now
from .migrations import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
MAX_BATCH = 2000

ROWS_AT_ONCE = 128  # events one INSERT adds: 640 parameters, under the 999 an older SQLite allows


def _insert_events_sql(rows: int) -> str:
    return ("INSERT INTO events (run_id, seq, type, payload, created_at) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?)"] * rows))


# One statement per ROWS_AT_ONCE events, then one for each power of two the rest holds: a few
# statements, each prepared once, rather than a step of SQLite's per event (each of which hands
# Python's lock to the event loop and waits to take it back while the loop is busy).
_INSERTS = {rows: _insert_events_sql(rows) for rows in (ROWS_AT_ONCE, 64, 32, 16, 8, 4, 2, 1)}


def _insert_events(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows of (run_id, seq, type, payload, created_at), in order."""
    start = 0
    for size, sql in _INSERTS.items():
        while len(rows) - start >= size:
            conn.execute(sql, list(chain.from_iterable(rows[start:start + size])))
            start += size


# Each kind of event as plain text: SQLite binds a subclass of str (an EventType) only once it has
# looked for an adapter for it, which takes as long as the rest of the row.
_KIND_TEXT: dict[str, str] = {kind: kind.value for kind in EventType}

Statement = tuple[str, tuple[Any, ...]]


class _Write:
    """Statements that commit together, or one run's new events, and the future its caller waits on
    for its `answer`: "count" (rows the statement changed), "rows" (those of its RETURNING clause),
    "counts" (rows each statement changed) or, for events, the events stored."""

    __slots__ = ("answer", "events", "future", "statements")

    def __init__(self, statements: list[Statement], events: list[Event] | None, future: asyncio.Future,
                 answer: str = "count"):
        self.statements, self.events, self.future, self.answer = statements, events, future, answer


async def _user_version(cursor: aiosqlite.Cursor) -> int:
    row = await cursor.fetchone()
    return row[0] if row else 0


def _read(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
    """A whole read, its statement done with before the call returns."""
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error)
    return "locked" in text or "busy" in text


def _next_seq(conn: sqlite3.Connection, run_id: str, next_seq: dict[str, int]) -> int:
    """The run's next sequence number, read inside the write transaction: another process
    writing to the same run waits for the lock and then reads what this one wrote."""
    seq = next_seq.get(run_id)
    if seq is None:  # one lookup per run per batch, on the (run_id, seq) unique index
        (last,) = conn.execute("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()
        seq = (last or 0) + 1
    return seq


def _commit_batch(conn: sqlite3.Connection, batch: list[_Write]) -> list[Any]:
    """Write a batch in one transaction and return each write's result (rows changed, rows
    returned, or events stored, their seq and ids set)."""
    conn.execute("BEGIN IMMEDIATE")
    results: list[Any] = []
    next_seq: dict[str, int] = {}
    try:
        for write in batch:
            if write.events is None:
                cursors = [conn.execute(sql, params) for sql, params in write.statements]
                results.append(cursors[-1].fetchall() if write.answer == "rows"
                               else [c.rowcount for c in cursors] if write.answer == "counts"
                               else cursors[-1].rowcount)
                continue
            events = write.events
            run_id = events[0].run_id  # a write is one run's
            seq = _next_seq(conn, run_id, next_seq)
            kind_text = _KIND_TEXT.get
            _insert_events(conn, [
                (run_id, number, kind_text(e.type, e.type), payload, e.created_at)
                for number, e, payload in zip(count(seq), events, encode_many([e.payload for e in events]))
            ])
            next_seq[run_id] = seq + len(events)
            (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
            results.append(events)
            # One writer holds the lock for the whole transaction, so the ids are consecutive.
            for number, event in enumerate(events, last - len(events) + 1):
                event.id, event.seq = number, seq
                seq += 1
        conn.execute("COMMIT")
    except BaseException:
        for write in batch:
            for event in write.events or ():
                event.id, event.seq = None, 0
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return results


class Database:
    def __init__(self, path: Path, on_commit: Callable[[list[Event]], None] | None = None):
        self.path = path
        self.on_commit = on_commit
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Write | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            await self._migrate()
            self._reader = await self._connect()
        except sqlite3.OperationalError as error:
            await self.close()
            if _is_busy(error):
                raise StoreBusy(f"the database {self.path} is busy: another corral process holds it") from None
            raise
        self._task = asyncio.create_task(self._write_loop(), name="corral-store-writer")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        return conn

    async def _migrate(self) -> None:
        conn = self._writer
        assert conn is not None
        async with conn.execute("PRAGMA user_version") as cursor:
            version = await _user_version(cursor)
        if version >= len(MIGRATIONS):
            return
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            async with conn.execute("PRAGMA user_version") as cursor:
                version = await _user_version(cursor)
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number]:
                    await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    # -- writes --------------------------------------------------------------------------

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Queue one statement, wait for its commit, and return how many rows it changed."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Write([(sql, tuple(params))], None, future))
        return await future

    async def execute_returning(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Queue one statement with a RETURNING clause and wait for its rows (read in the same write)."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Write([(sql, tuple(params))], None, future, answer="rows"))
        return await future

    async def execute_together(self, statements: Iterable[tuple[str, Iterable[Any]]]) -> list[int]:
        """Queue statements that commit in one transaction, all or none; how many rows each changed."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Write([(sql, tuple(params)) for sql, params in statements], None, future, "counts"))
        return await future

    def append(self, run_id: str, items: Iterable[tuple[str, dict[str, Any]]],
               at: str | None = None) -> asyncio.Future:
        """The one way to add events: queue a run's (type, payload) items without waiting. The
        writer numbers them after the run's last in its transaction and publishes them through
        `on_commit`; the future resolves to the events, seq and id set, once they are committed."""
        stamp = at or now()
        events = [Event(run_id, 0, kind, payload, stamp) for kind, payload in items]
        future = asyncio.get_running_loop().create_future()
        if not events:
            future.set_result(events)
            return future
        self._queue.put_nowait(_Write([], events, future))
        return future

    async def flush(self) -> None:
        """Return once everything queued so far is committed."""
        await self.execute("SELECT 1")

    async def _write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    stop = True
                    break
                batch.append(more)
            await self._commit_with_retry(batch)
            if stop:
                return

    async def _commit_with_retry(self, batch: list[_Write]) -> None:
        delay = 0.05
        while True:
            try:
                results = await self._commit(batch)
                break
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    return await self._commit_apart(batch, error)
                # SQLite already waited the busy timeout. A caller waiting on a plain write is told;
                # events are never dropped: they wait for the lock as long as it takes.
                self._fail([w for w in batch if w.events is None], StoreBusy(
                    f"the database {self.path} is busy: another corral process holds it"))
                batch = [w for w in batch if w.events is not None]
                if not batch:
                    return None
                log.warning("database busy, retrying %d event batches", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except Exception as error:
                return await self._commit_apart(batch, error)
        committed: list[Event] = []
        for write, result in zip(batch, results, strict=True):
            if write.events is not None:
                committed.extend(write.events)
            if not write.future.done():
                write.future.set_result(result)
        if committed and self.on_commit is not None:
            self.on_commit(committed)
        return None

    async def _commit_apart(self, batch: list[_Write], error: Exception) -> None:
        """One bad statement must fail only its own caller: commit the others one by one."""
        if len(batch) == 1:
            return self._fail(batch, error)
        for write in batch:
            await self._commit_with_retry([write])
        return None

    def _fail(self, batch: list[_Write], error: Exception) -> None:
        for write in batch:
            if not write.future.done():
                write.future.set_exception(error)

    async def _commit(self, batch: list[_Write]) -> list[Any]:
        conn = self._writer
        assert conn is not None
        # The whole transaction is one call in the connection's thread: SQLite's write lock is
        # never held while this process's event loop is busy with something else.
        return await conn._execute(_commit_batch, conn._conn, batch)

    # -- reads ---------------------------------------------------------------------------

    async def fetch(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        conn = self._reader
        assert conn is not None
        try:
            # One call in the connection's thread, like a write: a statement left half read while
            # the loop serves another read would hold its snapshot, and that read would miss what
            # was committed since.
            return await conn._execute(_read, conn._conn, sql, tuple(params))
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                raise StoreBusy(f"the database {self.path} is busy: another corral process holds it") from None
            raise

    def commit_signal(self) -> int | None:
        """A descriptor that becomes readable when anything is committed to the database, by any
        process: Linux's inotify on the write-ahead log; None where there is none (then poll)."""
        return change_signal(f"{self.path}-wal", IN_MODIFY)

    def poll_commits(self, changed: Callable[[], object], every: float) -> threading.Event:
        """Where there is no commit signal: a thread of its own calls `changed` soon after anything
        is committed, asking SQLite's `PRAGMA data_version` of a connection of its own every
        `every` seconds, from now until the event returned is set."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        seen = conn.execute("PRAGMA data_version").fetchone()[0]
        stop = threading.Event()

        def poll(version: int) -> None:
            try:
                while not stop.wait(every):
                    now = conn.execute("PRAGMA data_version").fetchone()[0]
                    if now != version:
                        version = now
                        changed()
            finally:
                conn.close()

        threading.Thread(target=poll, args=(seen,), name="corral-store-watch", daemon=True).start()
        return stop

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None
