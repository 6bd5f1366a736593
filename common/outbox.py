"""Transactional outbox: events are rows written with the change, then relayed to RabbitMQ.

``OutboxRelay`` runs inside each publishing service (a managed green thread): it takes
unpublished rows in id order, publishes them with publisher confirms to the nameko event
exchange ``<source>.events`` (routing key = event type, so nameko ``@event_handler`` works),
and marks them published. A crash between publish and mark re-sends the event; consumers
are idempotent on ``event_id``. With several instances of a service on PostgreSQL, rows
are claimed with ``FOR UPDATE SKIP LOCKED`` so each is sent by one relay at a time.
A pass looks above the highest id the relay has sent, and from the start of the outbox
once a second (``full_scan_interval``): a row committed after rows with higher ids waits
at most that long.
"""
import json
import logging
import time
from datetime import timedelta

import sqlalchemy as sa

from common.events import utcnow

log = logging.getLogger(__name__)


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Index("ix_outbox_unpublished", "published_at", "id"),
    )


def outbox_row(envelope: dict, headers: dict | None = None) -> dict:
    return {"event_id": envelope["event_id"], "source": envelope["source"], "event_type": envelope["event_type"],
            "payload": json.dumps(envelope), "headers": json.dumps(headers or {}), "created_at": utcnow(),
            "attempts": 0}


def add_to_outbox(session, table: sa.Table, envelope: dict, headers: dict | None = None) -> None:
    write_outbox(session, table, [outbox_row(envelope, headers)])


_COLUMNS = ("event_id", "source", "event_type", "payload", "headers", "created_at")
_inserts: dict = {}


def _insert_over_arrays(table: sa.Table) -> sa.TextClause:
    """PostgreSQL: the rows as one array per column, unnested in order (cached per table).
    SQLAlchemy's multi-row insert costs about twice the client CPU (it processes and
    renders every row's parameters at each call)."""
    stmt = _inserts.get(table.name)
    if stmt is None:
        arrays = ", ".join(f"CAST(:{c} AS {'timestamptz' if c == 'created_at' else 'text'}[])" for c in _COLUMNS)
        stmt = _inserts[table.name] = sa.text(
            f"INSERT INTO {table.name} ({', '.join(_COLUMNS)}, attempts) SELECT {', '.join('r.' + c for c in _COLUMNS)}, 0 "
            f"FROM unnest({arrays}) WITH ORDINALITY AS r({', '.join(_COLUMNS)}, n) ORDER BY r.n")
    return stmt


def write_outbox(session, table: sa.Table, rows: list) -> None:
    """Insert outbox rows (``outbox_row``) in one statement, in order (ids follow it)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_insert_over_arrays(table), {c: [row[c] for row in rows] for c in _COLUMNS})
    else:
        connection.execute(table.insert(), rows)


class OutboxRelay:
    """Moves outbox rows to the bus. ``publish_many([(source, event_type, payload,
    headers, event_id), ...])`` takes a whole batch, in order, and answers ``(confirmed,
    error)``: how many, from the first, the broker confirmed, and why not the rest (None
    when all were) (common/event_publisher.py: one confirm wait per batch instead of one
    per event). ``payload`` is the row's JSON text, the message body as it is (not decoded
    and encoded again); ``headers`` a dict."""

    def __init__(self, engine, table, publish_many, batch_size=100, retention=timedelta(days=7),
                 full_scan_interval=1.0):
        self.engine = engine
        self.table = table
        self.publish_many = publish_many
        self.batch_size = batch_size
        self.retention = retention
        # Rows marked published stay in the "unpublished" index as dead entries until
        # VACUUM: at 1,000 events/s a scan from the start of the index visited tens of
        # thousands of them per pass (1.4 ms at 12,000, growing). A pass therefore looks
        # only above the highest id this relay has published (``_floor``), and from the start
        # once per ``full_scan_interval`` (rows committed late with a lower id, rows another
        # instance claimed and did not send).
        self.full_scan_interval = full_scan_interval
        self._floor = 0
        self._full_at = float("-inf")
        self._claim = self._mark = None

    def _statements(self) -> tuple:
        """The claim (a full scan's and one above the floor) and the mark, built once. On
        PostgreSQL cached text over an array of ids (``FOR UPDATE SKIP LOCKED``): half
        the client CPU of SQLAlchemy compiling them, and an ``IN`` list, at every pass
        (20 rows: 2.1 -> 1.0 ms); elsewhere (SQLite, development) Core statements."""
        if self._claim is None:
            t = self.table
            if self.engine.dialect.name == "postgresql":
                select = (f"SELECT id, event_id, source, event_type, payload, headers FROM {t.name} "
                          "WHERE published_at IS NULL{} ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED")
                self._claim = {True: sa.text(select.format("")), False: sa.text(select.format(" AND id > :floor"))}
                self._mark = sa.text(f"UPDATE {t.name} SET published_at = :now WHERE id = ANY(CAST(:ids AS bigint[]))"
                                     ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))
            else:
                query = sa.select(t.c.id, t.c.event_id, t.c.source, t.c.event_type, t.c.payload, t.c.headers) \
                    .order_by(t.c.id).limit(sa.bindparam("limit"))
                pending = t.c.published_at.is_(None)
                self._claim = {True: query.where(pending),
                               False: query.where(pending, t.c.id > sa.bindparam("floor"))}
                self._mark = sa.update(t).where(t.c.id.in_(sa.bindparam("ids", expanding=True))) \
                    .values(published_at=sa.bindparam("now"))
        return self._claim, self._mark

    def relay_batch(self) -> int:
        """Publish one batch; returns how many rows were published."""
        t = self.table
        claim, mark = self._statements()
        now = time.monotonic()
        full = now - self._full_at >= self.full_scan_interval
        if full:
            self._full_at = now
        with self.engine.begin() as conn:
            rows = conn.execute(claim[full], {"floor": self._floor, "limit": self.batch_size}).all()
            headers: dict = {}  # the rows of one transaction share their headers: decoded once
            for r in rows:
                if r.headers not in headers:
                    headers[r.headers] = json.loads(r.headers or "{}")
            done, failure = self.publish_many(
                [(r.source, r.event_type, r.payload, headers[r.headers], r.event_id) for r in rows]
            ) if rows else (0, None)
            published = [row.id for row in rows[:done]]
            if failure is not None and done < len(rows):  # the rest waits for the next pass, in order
                conn.execute(sa.update(t).where(t.c.id == rows[done].id).values(attempts=t.c.attempts + 1))
            if published:  # one statement for the batch, in the transaction that holds the rows
                conn.execute(mark, {"now": utcnow(), "ids": published})
        if published:  # committed: later passes need not look below
            self._floor = max(self._floor, published[-1])
        if failure is not None:
            raise failure
        return len(published)

    def purge(self) -> int:
        cutoff = utcnow() - self.retention
        with self.engine.begin() as conn:
            result = conn.execute(sa.delete(self.table).where(self.table.c.published_at < cutoff))
        return result.rowcount or 0

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
            ).scalar_one()
