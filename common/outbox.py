"""Transactional outbox: events are rows written with the change, then relayed to RabbitMQ.

``OutboxRelay`` runs inside each publishing service (a managed green thread): it takes
unpublished rows in id order, publishes each with publisher confirms to the nameko event
exchange ``<source>.events`` (routing key = event type, so nameko ``@event_handler`` works),
and marks them published. A crash between publish and mark re-sends the event; consumers
are idempotent on ``event_id``. With several instances of a service on PostgreSQL, rows
are claimed with ``FOR UPDATE SKIP LOCKED`` so each is sent by one relay at a time.
"""
import json
import logging
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


def write_outbox(session, table: sa.Table, rows: list) -> None:
    """Insert outbox rows (``outbox_row``) in one statement, in order (ids follow it)."""
    if rows:
        session.connection().execute(table.insert(), rows)


class OutboxRelay:
    """Moves outbox rows to the bus. ``publish(source, event_type, payload, headers)`` must
    raise unless the broker confirmed the message."""

    def __init__(self, engine, table, publish, batch_size=100, retention=timedelta(days=7)):
        self.engine = engine
        self.table = table
        self.publish = publish
        self.batch_size = batch_size
        self.retention = retention

    def relay_batch(self) -> int:
        """Publish one batch; returns how many rows were published."""
        t = self.table
        query = (
            sa.select(t.c.id, t.c.source, t.c.event_type, t.c.payload, t.c.headers)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.id)
            .limit(self.batch_size)
        )
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        published, failure = [], None
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            for row in rows:
                try:
                    self.publish(row.source, row.event_type, json.loads(row.payload), json.loads(row.headers or "{}"))
                except Exception as exc:  # keep order: stop at the first failure, retry later
                    conn.execute(sa.update(t).where(t.c.id == row.id).values(attempts=t.c.attempts + 1))
                    failure = exc
                    break
                published.append(row.id)
            if published:  # one statement for the batch, in the transaction that holds the rows
                conn.execute(sa.update(t).where(t.c.id.in_(published)).values(published_at=utcnow()))
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
