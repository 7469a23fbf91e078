"""The engine and the session factory: one `with database.begin() as session:` per request or job."""

from __future__ import annotations

import copy
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")

# Long enough to ride out a scheduler burst, short enough that a stuck lock surfaces as an error.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that marks a connection's transaction as read-only (see `Database.read`).
READ_ONLY = "tandem_read_only"
# Tables whose deleted rows tied answers to people while their pulse was open: a pulse's salt
# (`pulses`, in every version of its row) and the keyed hashes of its voters with their answers.
# held_dms: a pulse reminder held for working hours names who had not answered; deleted at close.
# pulse_comments: an open pulse's comments are keyed by their writer's voter hash; closing rewrites them
# without it (db.comments.anonymise), and the deleted keyed rows must not linger below the SQL.
ANONYMITY_TABLES = ("pulses", "pulse_ballots", "pulse_reminders", "held_dms", "pulse_comments")
# How long one erasure waits for readers (SQLite) or for the table locks (PostgreSQL) before it
# gives up until the next try (`Database.erase_residue_if_pending`, run by the minutely pulse job).
ERASE_WAIT_SECONDS = 5.0


def normalize_url(url: str) -> str:
    """Accept the `postgres://` and `postgresql://` spellings operators paste, and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets the web threads read while the scheduler writes; the busy timeout makes a
        # writer wait for the lock instead of failing with "database is locked".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows (an anonymous pulse's ballots and salt, dropped at close) are overwritten
        # with zeros instead of lingering in free pages of the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes cannot wait for the write lock: SQLite
        # answers SQLITE_BUSY at once when another writer got in between, busy timeout or not.
        # Taking the write lock up front (IMMEDIATE) turns that into an orderly wait. Read-only
        # units of work (`Database.read`) begin deferred: under WAL they never wait for a writer.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class FifoLock:
    """A reentrant lock that threads get in the order they asked for it.

    `threading.RLock` is not fair: the thread that releases it can take it again before a waiting
    thread wakes up, so a thread running back-to-back transactions could keep another thread's
    short write waiting for seconds.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            while self._serving != ticket or self._owner is not None:
                self._cond.wait()
            self._owner, self._depth = me, 1

    def held_here(self) -> bool:
        """True when this thread holds the lock."""
        return self._owner == threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._cond.notify_all()


@dataclass(eq=False)
class _Ticket:
    """One thread's share of a group commit (`Database.together`)."""

    work: Callable[[Session], Any]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken (or arrived first) to run the group, not because its work is done
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class _Group:
    """The units of work waiting to be committed together, and whether a thread is running a group."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: list[_Ticket] = []
        self.running = False


class _Residue:
    """Tables whose deleted rows still wait to be erased below the SQL (see `Database.erase_residue`)."""

    def __init__(self, pending: set[str]) -> None:
        self.lock = threading.Lock()
        self.pending = pending


class Database:
    """Owns the engine and the session factory for one process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        # Set only on the twin that `writes_in_turn()` returns.
        self._write_turns: FifoLock | None = None
        # Shared with that twin. Pending from the start: a process killed after a close committed
        # but before its residue was erased leaves it behind, so the first pass after a start erases.
        self._residue = _Residue(pending=set(ANONYMITY_TABLES))
        # Shared with that twin too: one group commit per database (`together`).
        self._group = _Group()
        self.erase_wait = ERASE_WAIT_SECONDS

    def writes_in_turn(self) -> Database:
        """This database (the same engine and connections) whose write units of work take turns.

        On SQLite every write transaction takes the file's one write lock (BEGIN IMMEDIATE). A thread
        that finds it taken sleeps in SQLite's busy handler, in steps growing to 100 ms, while the
        thread that just committed may take it again at once. With the scheduler's threads (preparing
        check-ins, the poster's threads recording what was posted) that starved the posters for
        seconds in a burst of due check-ins (bench/README.md). Writes (`begin()`, `connect()`) made
        through the returned database queue first come, first served instead; reads (`read()`) never
        queue. Writes made through another `Database` do not take part. The lock is reentrant, so a
        unit of work opened inside another one fails the way it would without it (SQLite's busy
        timeout) instead of hanging its thread forever.

        On PostgreSQL, where writers do not share one lock, it returns this database itself, as it
        does when called on a database whose writes take turns already.
        """
        if self.backend != "sqlite" or self._write_turns is not None:
            return self
        twin = copy.copy(self)
        twin._write_turns = FifoLock()
        return twin

    def _write_turn(self) -> AbstractContextManager[None]:
        return self._write_turns if self._write_turns is not None else nullcontext()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back if it raises."""
        with self._write_turn(), self.sessions.begin() as session:
            yield session

    def together(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a unit of work shared with the other threads asking at the same moment, and
        return what it returned once that unit of work is committed (a group commit).

        For small, hot writes many threads make at once: the poster's threads take a check-in's lease
        right before its post and record its ts right after, two write transactions a check-in. On
        SQLite every one of them queues for the file's one write lock, so 10,000 check-ins due in one
        minute were 20,000 transactions in a row, and the preparer's batches waited behind them
        (bench/README.md, "burst10k"). Here the first thread to arrive runs every unit of work that is
        waiting in one transaction, while the next ones gather for the transaction after it; on
        PostgreSQL the same saves a commit (a WAL flush) per write.

        `work` must do database work only, through the session it gets: it may run on another thread,
        and it is run again, alone, when a unit of work it shared raised (an error in one never undoes
        another). It returns only after its transaction committed, so a caller may act on the write (a
        lease taken) at once. Inside a unit of work of its own (which holds the write turn), it runs alone.
        """
        if self._write_turns is not None and self._write_turns.held_here():
            with self.begin() as session:
                return work(session)
        group = self._group
        ticket = _Ticket(work)
        with group.lock:
            group.waiting.append(ticket)
            if not group.running:
                group.running = ticket.lead = True
        if not ticket.lead:
            ticket.wake.wait()
        if not ticket.done:  # this thread runs the group waiting now, its own work included
            with group.lock:
                batch, group.waiting = group.waiting, []
            try:
                self._commit_together(batch)
            finally:
                with group.lock:
                    if group.waiting:
                        successor = group.waiting[0]
                        successor.lead = True
                        successor.wake.set()
                    else:
                        group.running = False
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _commit_together(self, batch: list[_Ticket]) -> None:
        settled: list[_Ticket] = []  # tickets whose outcome is known (a result committed, or an error)
        try:
            try:
                with self.begin() as session:
                    results = [ticket.work(session) for ticket in batch]
            except OperationalError as exc:
                # The database as a whole failed (locked past the busy timeout, gone, cancelled): each
                # alone would meet the same, and running them one by one would make the last wait
                # for every timeout in turn.
                for ticket in batch:
                    ticket.error = exc
                    settled.append(ticket)
            except Exception:
                if len(batch) == 1:
                    raise
                # One of them failed and took the others' writes with it: each again, alone.
                log.warning("a group commit of %d units of work failed; each runs alone", len(batch))
                for ticket in batch:
                    try:
                        with self.begin() as session:
                            ticket.result = ticket.work(session)
                    except Exception as exc:
                        ticket.error = exc
                    settled.append(ticket)
            else:
                for ticket, result in zip(batch, results, strict=True):
                    ticket.result = result
                    settled.append(ticket)
        except BaseException as exc:
            for ticket in batch:
                if ticket not in settled:
                    ticket.error = exc
            raise
        finally:
            for ticket in batch:
                ticket.done = True
                ticket.wake.set()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """One unit of work in Core statements only, without an ORM session: for the hottest paths."""
        with self._write_turn(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads: on SQLite it never queues behind writers for the lock.

        It always ends in a rollback, so nothing done through it is ever committed.
        """
        with self.read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def erase_residue(self, *tables: str) -> bool:
        """Erase what deleted rows of `tables` (by default the anonymity tables) leave below the SQL.

        Call it after the unit of work that deleted them committed, with no unit of work open in
        this thread. SQLite overwrites deleted rows in the database file itself (`secure_delete`), but
        the WAL keeps every page as it was written, salt and voter hashes included, until a checkpoint
        copies the pages back and truncates it: `wal_checkpoint(TRUNCATE)`, which must wait until no
        reader still reads an older snapshot. PostgreSQL leaves deleted and updated rows as dead
        tuples, and even a plain VACUUM only unlinks them: their bytes stay in the page's free space.
        `VACUUM FULL` rewrites the tables (and their indexes) into new files holding live rows only.

        True when done. When readers or locks do not let it finish within `erase_wait` seconds, it
        stays pending, and `erase_residue_if_pending` (the minutely pulse job) tries again.
        """
        chosen = set(tables or ANONYMITY_TABLES)
        with self._residue.lock:
            self._residue.pending |= chosen
            try:
                done = (
                    self._checkpoint()
                    if self.backend == "sqlite"
                    else self._vacuum_full(self._residue.pending)
                )
            except Exception:
                log.exception(
                    "the residue of deleted pulse rows could not be erased; it is tried again later"
                )
                done = False
            if done:
                self._residue.pending.clear()
            else:
                log.warning(
                    "the residue of deleted pulse rows is not erased yet; it is tried again in a minute"
                )
            return done

    def erase_residue_if_pending(self) -> bool:
        """Finish an erasure that could not complete (or that a restart interrupted); True if none is left."""
        with self._residue.lock:
            pending = tuple(self._residue.pending)
        return self.erase_residue(*pending) if pending else True

    def _checkpoint(self) -> bool:
        raw = self.engine.raw_connection()  # autocommit: a checkpoint cannot run inside a transaction
        try:
            cursor = raw.cursor()
            # Wait for readers of older snapshots for a while, not for SQLite's usual 30 seconds.
            cursor.execute(f"PRAGMA busy_timeout={int(self.erase_wait * 1000)}")
            try:
                deadline = time.monotonic() + self.erase_wait
                while True:
                    busy, _frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    if not busy:
                        return True
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.05)
            finally:
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cursor.close()
        finally:
            raw.close()

    def _vacuum_full(self, tables: set[str]) -> bool:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # VACUUM FULL takes each table's exclusive lock: never queue every click behind it for long.
            # (Reset before the connection goes back to the pool, where other work must not inherit it.)
            conn.exec_driver_sql(f"SET lock_timeout = '{int(self.erase_wait * 1000)}ms'")
            try:
                quote = conn.dialect.identifier_preparer.quote
                started = conn.exec_driver_sql("SELECT clock_timestamp()").scalar_one()
                for table in sorted(tables):
                    try:
                        conn.exec_driver_sql(f"VACUUM (FULL) {quote(table)}")
                    except OperationalError as exc:
                        # Most likely the lock timeout: a long reader of the table. Tried again later.
                        log.warning("VACUUM FULL %s did not run: %s", table, type(exc.orig).__name__)
                        return False
                # VACUUM FULL keeps (copies) dead rows that a transaction older than it may still see.
                # One that began before this erasure may have begun before the close: do it again later.
                # Every database of the server counts, and a transaction holding an xid counts as well
                # as one holding a snapshot: an open writing transaction in another database of a
                # shared server held the dead salt and hashes on disk here while only this database's
                # snapshots were looked at (the erasure was reported done; the forensic test found
                # them).
                older = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                        " AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AND xact_start < :started"
                    ),
                    {"started": started},
                ).scalar_one()
            finally:
                conn.exec_driver_sql("RESET lock_timeout")
        return older == 0

    def ping(self) -> bool:
        """True when the database answers a trivial query (used by /healthz)."""
        try:
            with self.engine.execution_options(**{READ_ONLY: True}).connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False

    def dispose(self) -> None:
        self.engine.dispose()
