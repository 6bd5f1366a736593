"""The event envelope every service publishes, and idempotent handling on the consumer side.

An event on the bus is JSON::

    {"event_id": "<uuid>", "event_type": "proposal_accepted", "source": "proposals",
     "version": 1, "occurred_at": "2026-11-24T10:00:00+00:00", "data": {...}}

RabbitMQ delivers at least once, so a handler records ``(event_id, handler)`` in its own
database in the same transaction as its effect (``first_delivery``) and skips repeats.
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

ENVELOPE_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_envelope(source: str, event_type: str, data: dict, version: int = ENVELOPE_VERSION) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": source,
        "version": version,
        "occurred_at": utcnow().isoformat(),
        "data": data,
    }


def processed_events_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "processed_events",
        metadata,
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("handler", sa.String(200), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
    )


def first_delivery(session, table: sa.Table, event_id: str, handler: str) -> bool:
    """Record that ``handler`` handles ``event_id``; False if it already did.

    Call inside the handler's transaction: the mark commits or rolls back with the effect.
    """
    try:
        with session.begin_nested():
            session.execute(table.insert().values(event_id=event_id, handler=handler, processed_at=utcnow()))
    except IntegrityError:
        return False
    return True
