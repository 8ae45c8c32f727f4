"""The durable spool (`spool=`): what a closing flush could not deliver, kept for the next instance.

The events go to a SQLite file (the standard library's `sqlite3`). A hand-over between instances, not a
write-ahead log: events are written only when a closing flush runs out of time, and the next instance
with the same write key *takes* them (reads and deletes them in one transaction, so of several processes
sharing the file exactly one gets each event) and sends them as its own, with their original `messageId`
and `timestamp`. An event whose batch was in flight at the deadline may therefore reach Segment twice,
with one messageId (at least once; Segment deduplicates by messageId). A process killed without a
closing flush writes nothing.

`Spool` does the blocking file I/O; its methods run in a worker thread, never on the event loop.
`Spooler` is the loop's side: when to take and keep, and settling what was kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._core.exitsafe import run_blocking
from .._message.context import is_settled
from ..errors import SpooledError

if TYPE_CHECKING:
    from .._message.context import Envelope

__all__ = ["SPOOL_FIXED", "SPOOL_PER_EVENT", "Row", "Spool", "Spooler"]

logger = logging.getLogger("analytics_async")

SPOOL_FIXED: Final = 0.05
"""Seconds a closing flush reserves for writing the spool at all (open, transaction, write-ahead log);
measured about 5 ms. Also the least a write is given when the reserve was used up."""
SPOOL_PER_EVENT: Final = 5e-6
"""Seconds reserved per pending event (measured: about 3 us per ~500-byte event in one transaction)."""
_CHUNK: Final = 5000
"""Rows per transaction of a write (about 15 ms each): an interrupted write keeps the chunks before."""
_BUSY_TIMEOUT: Final = 2.0
"""Seconds to wait for another process's transaction on the same file."""
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " source TEXT NOT NULL,"  # a digest of the write key: events go back to the source they were for
    " kind TEXT NOT NULL,"
    " payload BLOB NOT NULL)"
)

Row = tuple[str, bytes]
"""An event as spooled: its type (`track`, ...) and its JSON."""


class Spool:
    """A SQLite file of undelivered events, bounded to `max_bytes` of event JSON."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int, write_key: str) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        # Never the key itself: a short digest tells sources apart without storing a secret.
        self._source = hashlib.sha256(b"analytics-async spool\0" + write_key.encode()).hexdigest()[:16]
        self._lock = threading.Lock()
        self._busy: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r}, max_bytes={self.max_bytes})"

    def put(self, rows: Sequence[Row], stop: threading.Event | None = None) -> int:
        """Append `rows` in order, as many as fit under `max_bytes`; return how many were written.

        Written in transactions of `_CHUNK` rows, oldest first; once `stop` is set (and `interrupt()`
        called) it ends, keeping what was committed before. Raises `sqlite3.Error` (and `OSError`) when
        the file cannot be written.
        """
        written = 0
        with self._open() as db:
            room = self.max_bytes - int(db.execute("SELECT total(length(payload)) FROM events").fetchone()[0])
            try:
                while written < len(rows) and not (stop and stop.is_set()):
                    chunk, fitting = rows[written : written + _CHUNK], 0
                    for _, payload in chunk:
                        if len(payload) > room:
                            break
                        room -= len(payload)
                        fitting += 1
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany(
                        "INSERT INTO events (source, kind, payload) VALUES (?, ?, ?)",
                        ((self._source, kind, payload) for kind, payload in chunk[:fitting]),
                    )
                    db.execute("COMMIT")
                    written += fitting
                    if fitting < len(chunk):
                        break  # full
            except sqlite3.OperationalError:
                if stop is None or not stop.is_set():
                    raise
        return written

    def take(self, limit: int, stop: threading.Event | None = None) -> tuple[list[Row], bool]:
        """Remove and return the oldest `limit` events of this source; and whether more are left.

        Once `stop` is set (and `interrupt()` called), nothing is taken: an `sqlite3.OperationalError`
        if a transaction was running (it rolls back), else an empty answer that says more may be left.
        """
        if not self.path.exists():
            return [], False
        with self._open() as db:
            # Most starts find nothing: answer that without waiting for another process's write.
            mine = db.execute("SELECT 1 FROM events WHERE source = ? LIMIT 1", (self._source,)).fetchone()
            if mine is None:
                return [], False
            if stop is not None and stop.is_set():
                return [], True
            db.execute("BEGIN IMMEDIATE")
            found = db.execute(
                "SELECT id, kind, payload FROM events WHERE source = ? ORDER BY id LIMIT ?",
                (self._source, limit + 1),
            ).fetchall()
            taken = found[:limit]
            if taken:
                db.execute("DELETE FROM events WHERE source = ? AND id <= ?", (self._source, taken[-1][0]))
            db.execute("COMMIT")
            return [(kind, bytes(payload)) for _, kind, payload in taken], len(found) > limit

    def interrupt(self) -> None:
        """Abort the statement running now in another thread (its transaction rolls back).

        Set the operation's `stop` event first: a statement not started yet is not interrupted.
        """
        with self._lock:
            if self._busy is not None:
                self._busy.interrupt()

    @contextlib.contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        """One short-lived connection (none survives a fork), reachable by `interrupt()` meanwhile."""
        # Events carry user data: a new file is its owner's alone (SQLite gives its -wal and -shm
        # files the database file's permissions).
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        try:
            with self._lock:
                self._busy = db
            # Write-ahead log, synced at checkpoints: a commit survives the process ending (what the
            # spool is for) without an fsync per close; a power cut may lose the last one.
            db.execute("PRAGMA auto_vacuum=FULL")  # a new file gives pages back once events are taken
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            yield db
        finally:
            with self._lock:
                self._busy = None
            try:
                if db.in_transaction:
                    db.rollback()
            finally:
                db.close()


class Spooler:
    """The event loop's side of a `Spool`: takes events for this instance, keeps what a close left.

    Each file operation runs in the loop's default executor (inline at interpreter exit, when thread
    pools refuse work: see `_core.exitsafe`); none is ever awaited in a way that
    cancellation could cut between the file and memory: taken events reach `admit` from the
    executor future's callback, which runs whatever happens to the task that started it.
    """

    def __init__(self, spool: Spool, admit: Callable[[list[Row]], None]) -> None:
        self.spool = spool
        self._admit = admit
        self._taking: asyncio.Future[tuple[list[Row], bool]] | None = None
        self._stop_taking = threading.Event()
        self.more = True
        """Whether the file may hold events of this source not taken yet."""

    @staticmethod
    def reserve(pending: int) -> float:
        """Seconds a closing flush sets aside to write `pending` events (before it is out of time)."""
        return SPOOL_FIXED + SPOOL_PER_EVENT * pending

    def top_up(self, queued: int, capacity: int) -> None:
        """Take as many events as the queue has room for, once that is at least half its capacity."""
        if self.more and capacity - queued >= capacity // 2:
            self.take(capacity - queued)

    def take(self, limit: int) -> None:
        """Start taking up to `limit` events in a worker thread (unless a take is running)."""
        if self._taking is not None or not self.more:
            return
        self._stop_taking = stop = threading.Event()
        self._taking = taking = run_blocking(self.spool.take, limit, stop)
        taking.add_done_callback(self._took)

    def _took(self, taking: asyncio.Future[tuple[list[Row], bool]]) -> None:
        self._taking = None
        if taking.cancelled():  # only if the loop's executor was shut down first: nothing was taken
            return
        if (exc := taking.exception()) is not None:
            self.more = False  # a file that cannot be read now: leave it for the next instance
            logger.warning("analytics_async: could not read the spool %s: %s", self.spool, _describe(exc))
            return
        rows, self.more = taking.result()
        if rows:
            self._admit(rows)

    async def quiesce(self, seconds: float | None) -> None:
        """Wait (at most `seconds`, then interrupt it) for a running take, so its events are admitted."""
        taking = self._taking
        if taking is None:
            return
        await asyncio.wait([taking], timeout=None if seconds is None else max(seconds, 0.0))
        if not taking.done():
            self._stop_taking.set()
            self.spool.interrupt()  # rolls back: the events stay in the file
            await asyncio.wait([taking])

    async def keep_unsettled(
        self,
        envelopes: list[Envelope],
        why: str,
        seconds: float,
        failed: Callable[[list[Envelope], BaseException], None],
    ) -> str | None:
        """Keep those of `envelopes` not settled yet, within `seconds`; those written fail as spooled.

        `failed(written, SpooledError)` settles them; the caller settles the rest. `why` says why
        the closing flush ran out of time. Returns why some were not kept, or None.
        """
        pending = [e for e in envelopes if e.payload and not is_settled(e.ctx)]
        reason = SpooledError(f"{why}; kept in the spool {self.spool.path} for the next instance")
        return await self.keep(pending, seconds, lambda written: failed(written, reason))

    async def keep(
        self, envelopes: list[Envelope], seconds: float, kept: Callable[[list[Envelope]], None]
    ) -> str | None:
        """Write `envelopes` to the file within `seconds`, then call `kept` with those written.

        `kept` is called once the write has ended, from the write's own callback: a caller cancelled
        meanwhile does not leave events both written and unsettled. Returns why some were not
        written (logged once), or None.
        """
        self.more = False  # what this instance writes is for the next one
        if not envelopes:
            return None
        rows = [(e.kind, e.payload) for e in envelopes]
        stop = threading.Event()
        writing = run_blocking(self.spool.put, rows, stop)
        interrupted = False
        unkept: str | None = None

        def written(writing: asyncio.Future[int]) -> None:
            nonlocal unkept
            exc = None if writing.cancelled() else writing.exception()
            n = 0 if writing.cancelled() or exc is not None else writing.result()
            if n < len(rows):
                if interrupted or writing.cancelled():
                    unkept = "out of time"
                elif exc is not None:
                    unkept = _describe(exc)
                else:
                    unkept = f"it is full (spool_max_bytes={self.spool.max_bytes})"
                logger.warning(
                    "analytics_async: %d of %d events kept in the spool %s; not the rest: %s",
                    n, len(rows), self.spool.path, unkept,
                )  # fmt: skip
            kept(envelopes[:n])

        writing.add_done_callback(written)  # runs before the waits below return
        done, _ = await asyncio.wait([writing], timeout=max(seconds, SPOOL_FIXED))
        if not done:
            interrupted = True
            stop.set()
            self.spool.interrupt()  # the chunk being written rolls back; those committed stay
            await asyncio.wait([writing])
        return unkept

    def after_fork(self) -> None:
        """In a forked child: a take running in the parent's thread is the parent's."""
        self._taking = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
