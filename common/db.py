"""Database wiring for services: engines (PostgreSQL or embedded SQLite), a unit of work
that writes outbox events in the same transaction, and the nameko dependency provider.

Under eventlet, psycopg2 is made green (psycogreen) so a query yields to other workers
instead of stalling the whole process.
"""
import logging
import os
import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from common import config as settings
from common.events import make_envelope, processed_events_table, first_delivery
from common.outbox import outbox_row, outbox_table, write_outbox

log = logging.getLogger(__name__)
_green_lock = threading.Lock()
_green_done = False


def make_green_if_needed() -> None:
    """Patch psycopg2 to cooperate with eventlet when eventlet has patched the socket module."""
    global _green_done
    with _green_lock:
        if _green_done:
            return
        try:
            from eventlet import patcher
        except ImportError:  # pragma: no cover - eventlet is always installed with nameko
            return
        if patcher.is_monkey_patched("socket"):
            from psycogreen.eventlet import patch_psycopg

            patch_psycopg()
            _green_done = True


def make_engine(url: str, **kwargs) -> sa.Engine:
    ping_after = kwargs.pop("ping_after_idle", None)
    url = settings.sqlalchemy_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised in dev runs
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    make_green_if_needed()
    kwargs.setdefault("pool_size", int(os.environ.get("DB_POOL_SIZE", "10")))
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_timeout", 5)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):  # SQLAlchemy's own pre-ping, when asked for, checks every checkout
        if ping_after is None:
            ping_after = float(os.environ.get("DB_PING_AFTER_IDLE", "5"))
        ping_when_idle(engine, ping_after)
    return engine


def ping_when_idle(engine: sa.Engine, after: float) -> None:
    """``pool_pre_ping`` for the connections that have been idle in the pool ``after``
    seconds or more. SQLAlchemy's pre-ping costs a round trip (``SELECT 1``) at every
    checkout, one more per transaction; a connection that went back to the pool moments
    ago is taken as it is. When a check fails (the server restarted, failed over or ended
    an idle session), every connection of the pool opened before is replaced, as with
    pre-ping. The price: on a service busy enough that no connection stays idle that long,
    the transactions that start on a dropped connection before the first of them fails
    (a restart seen by a few requests, where pre-ping hid it) fail with it; that first
    failure is reported as a disconnect, and SQLAlchemy then renews the whole pool."""

    def _idle_from_now(_dbapi_connection, record):  # a new connection, or one back in the pool
        record.info["idle_since"] = time.monotonic()

    sa.event.listen(engine, "connect", _idle_from_now)
    sa.event.listen(engine, "checkin", _idle_from_now)

    @sa.event.listens_for(engine, "checkout")
    def _taken(dbapi_connection, record, _proxy):
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:  # the pool connects afresh, the others too
            raise sa.exc.InvalidatePoolError(f"connection dropped while idle: {exc}") from exc


class UnitOfWork:
    """One transaction. ``emit`` writes an event to the outbox inside it.

    Use as ``with db() as uow: uow.session...; uow.emit("thing_happened", {...})``.
    Commits on success, rolls back on any exception; the relay is woken after a commit
    that carried events. The events emitted are inserted together just before the commit
    (one statement however many there are, in emission order), or with the next ``flush``.
    An event emitted inside a savepoint that is then rolled back is still written: emit
    after the savepoint.
    """

    def __init__(self, session_factory, source, outbox, processed, on_events=None, headers=None):
        self._session_factory = session_factory
        self.source = source
        self._outbox = outbox
        self._processed = processed
        self._on_events = on_events
        self._headers = headers or {}
        self.session = None
        self.events = []
        self._rows = []

    def __enter__(self):
        self.session = self._session_factory()
        self.events = []
        self._rows = []
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                try:
                    self.flush()
                    self.session.commit()
                except BaseException:
                    self.session.rollback()
                    raise
            else:
                self.session.rollback()
        finally:
            self.session.close()
        if exc_type is None and self.events and self._on_events:
            self._on_events()
        return False

    def emit(self, event_type: str, data: dict) -> dict:
        envelope = make_envelope(self.source, event_type, data)
        self._rows.append(outbox_row(envelope, self._headers))
        self.events.append(envelope)
        return envelope

    def flush(self) -> None:
        """Write the events emitted so far to the outbox (the commit does it anyway)."""
        rows, self._rows = self._rows, []
        write_outbox(self.session, self._outbox, rows)

    def first_delivery(self, event_id: str, handler: str) -> bool:
        return first_delivery(self.session, self._processed, event_id, handler)


class ServiceStore:
    """Engine + session factory + infra tables of one service (usable without nameko)."""

    def __init__(self, service: str, metadata: sa.MetaData, url: str | None = None):
        self.service = service
        self.metadata = metadata
        self.url = url or settings.database_url(service)
        self.engine = make_engine(self.url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.outbox = metadata.tables["outbox"]
        self.processed = metadata.tables["processed_events"]

    def unit_of_work(self, on_events=None, headers=None) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.service, self.outbox, self.processed, on_events, headers)

    def dispose(self):
        self.engine.dispose()


def infra_tables(metadata: sa.MetaData) -> None:
    """Add the outbox and processed-events tables to a service's metadata."""
    outbox_table(metadata)
    processed_events_table(metadata)
