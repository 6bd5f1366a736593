"""Notifications persistence. Owns the ``notifications`` database.

- ``recipients``: what accounts' events taught us (address, language, display name,
  country, moderated questions) and nothing more; ``preferences``: per user and kind.
- ``proposals`` / ``campaigns`` / ``questions``: the little we keep of other services'
  events to find authors and name things in mails.
- ``notifications``: the in-app inbox, unique on (event_id, user_id): the same event can
  never notify the same person twice, whatever is redelivered or re-run.
- ``deliveries``: e-mails to send (one per immediate notification, digest or official
  address), unique on ``dedupe_key``; the sender claims due ones with
  ``FOR UPDATE SKIP LOCKED`` and records attempts, errors and the next try.
- ``digests``: one per (user, frequency, period); ``summary_runs``: one moderators'
  summary per (user, day); ``fanouts``: the resumable progress of each fan-out.
- ``bounces`` (hard-bounced addresses) and ``suppressions`` (officials' unsubscribes).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import infra_tables

metadata = sa.MetaData()
infra_tables(metadata)

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def utcnow():
    return datetime.now(timezone.utc)


def aware(value):
    """SQLite gives naive datetimes back; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Base(DeclarativeBase):
    metadata = metadata


class Recipient(Base):
    __tablename__ = "recipients"
    user_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    language: Mapped[str | None] = mapped_column(sa.String(5))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    is_moderator: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    moderated_questions: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (sa.Index("ix_recipients_email", "email"),
                      sa.Index("ix_recipients_moderators", "is_moderator"))


class Preference(Base):
    __tablename__ = "preferences"
    user_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    frequency: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


class Proposal(Base):
    """proposal -> author, question, content (from proposals' and voting's events)."""

    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    author_id: Mapped[str | None] = mapped_column(sa.String(64))
    question_id: Mapped[str | None] = mapped_column(sa.String(64))
    content: Mapped[str | None] = mapped_column(sa.String(500))
    language: Mapped[str | None] = mapped_column(sa.String(5))
    country: Mapped[str | None] = mapped_column(sa.String(2))


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    proposal_id: Mapped[str | None] = mapped_column(sa.String(64))
    title: Mapped[str | None] = mapped_column(sa.String(200))


class Question(Base):
    __tablename__ = "questions"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    title: Mapped[str | None] = mapped_column(sa.String(300))
    slug: Mapped[str | None] = mapped_column(sa.String(200))


class Notification(Base):
    """An inbox entry. ``digest`` is the digest frequency it waits for (until ``digest_id``
    says which digest carried it)."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    event_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    link: Mapped[str | None] = mapped_column(sa.String(1000))
    data: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    language: Mapped[str | None] = mapped_column(sa.String(5))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    digest: Mapped[str | None] = mapped_column(sa.String(10))
    digest_id: Mapped[int | None] = mapped_column(BigId)
    __table_args__ = (
        sa.UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        sa.Index("ix_notifications_user", "user_id", "id"),
        sa.Index("ix_notifications_unread", "user_id", postgresql_where=sa.text("read_at IS NULL"),
                 sqlite_where=sa.text("read_at IS NULL")),
        sa.Index("ix_notifications_digest_pending", "digest", "created_at",
                 postgresql_where=sa.text("digest IS NOT NULL AND digest_id IS NULL"),
                 sqlite_where=sa.text("digest IS NOT NULL AND digest_id IS NULL")),
        sa.Index("ix_notifications_digest", "digest_id", postgresql_where=sa.text("digest_id IS NOT NULL"),
                 sqlite_where=sa.text("digest_id IS NOT NULL")),  # new rows (no digest yet) stay out
    )


class Delivery(Base):
    """One e-mail. ``status``: pending (``next_attempt_at`` says when), sent, failed (after
    the last try, or a hard bounce), skipped (the address bounced or unsubscribed
    before it went out)."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(400), nullable=False)
    to_address: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    user_id: Mapped[str | None] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    language: Mapped[str | None] = mapped_column(sa.String(5))
    notification_id: Mapped[int | None] = mapped_column(BigId)
    digest_id: Mapped[int | None] = mapped_column(BigId)
    context: Mapped[dict | None] = mapped_column(sa.JSON)
    target_key: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", name="uq_deliveries_dedupe_key"),
        sa.Index("ix_deliveries_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'"),
                 sqlite_where=sa.text("status = 'pending'")),
        sa.Index("ix_deliveries_status", "status", "id"),
        sa.Index("ix_deliveries_target", "target_key", "next_attempt_at", postgresql_where=sa.text(
            "target_key IS NOT NULL"), sqlite_where=sa.text("target_key IS NOT NULL")),  # officials' mails only
    )


class Digest(Base):
    __tablename__ = "digests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    frequency: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    period_key: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    items: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (sa.UniqueConstraint("user_id", "frequency", "period_key", name="uq_digests_period"),)


class SummaryRun(Base):
    __tablename__ = "summary_runs"
    user_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    period_key: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


class Fanout(Base):
    """Progress of one event's fan-out: which source (``sources[source_index]``) and the
    last user id written (``cursor``); each page moves them in its own transaction."""

    __tablename__ = "fanouts"
    event_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    context: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    sources: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    excluded: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    source_index: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    cursor: Mapped[str | None] = mapped_column(sa.String(64))
    pages: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    written: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    lease_until: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (sa.Index("ix_fanouts_open", "lease_until", postgresql_where=sa.text("done_at IS NULL"),
                               sqlite_where=sa.text("done_at IS NULL")),)


class Bounce(Base):
    __tablename__ = "bounces"
    email: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    bounced_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


class Suppression(Base):
    """An address that unsubscribed from a kind without being a user (officials)."""

    __tablename__ = "suppressions"
    email: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


N, D = Notification.__table__, Delivery.__table__


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def is_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session, table):
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


def lock_key(session, key: str) -> None:
    """Serialise writers on ``key`` until the transaction ends (PostgreSQL advisory lock;
    SQLite serialises writers anyway)."""
    if is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --------------------------------------------------------------------------------------------
# what we learn from other services
# --------------------------------------------------------------------------------------------


def upsert_recipient(session, user_id: str, **values) -> None:
    """Create or update what we know of a user; None values leave a column unchanged
    (events may arrive in any order)."""
    values = {k: v for k, v in values.items() if v is not None}
    stmt = _insert(session, Recipient.__table__).values(user_id=user_id, updated_at=utcnow(), **values)
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=["user_id"], set_=dict(values, updated_at=utcnow()))
    else:
        stmt = stmt.on_conflict_do_nothing()
    session.execute(stmt)


def remember_proposal(session, proposal_id: str, **values) -> None:
    values = {k: v for k, v in values.items() if v is not None}
    stmt = _insert(session, Proposal.__table__).values(id=proposal_id, **values)
    stmt = (stmt.on_conflict_do_update(index_elements=["id"], set_=values) if values
            else stmt.on_conflict_do_nothing())
    session.execute(stmt)


def remember_campaign(session, campaign_id: str, proposal_id: str | None, title: str | None) -> None:
    values = {k: v for k, v in {"proposal_id": proposal_id, "title": title}.items() if v is not None}
    stmt = _insert(session, Campaign.__table__).values(id=campaign_id, **values)
    stmt = (stmt.on_conflict_do_update(index_elements=["id"], set_=values) if values
            else stmt.on_conflict_do_nothing())
    session.execute(stmt)


def remember_question(session, question_id: str, title: str | None, slug: str | None) -> None:
    values = {"title": title, "slug": slug}
    session.execute(_insert(session, Question.__table__).values(id=question_id, **values)
                    .on_conflict_do_update(index_elements=["id"], set_=values))


def question_titles(session, question_ids: Iterable[str]) -> dict[str, str]:
    ids = list(set(question_ids))
    if not ids:
        return {}
    rows = session.execute(sa.select(Question.id, Question.title).where(Question.id.in_(ids)))
    return {qid: title for qid, title in rows if title}


# --------------------------------------------------------------------------------------------
# recipients of a page, notifications, deliveries
# --------------------------------------------------------------------------------------------


_RECIPIENTS_SQL = sa.text("""
SELECT r.user_id, r.email, r.language, r.display_name, b.email IS NOT NULL AS bounced, p.frequency
FROM recipients r
LEFT JOIN bounces b ON b.email = r.email
LEFT JOIN preferences p ON p.user_id = r.user_id AND p.kind = :kind
WHERE r.user_id = ANY(CAST(:user_ids AS varchar[]))
""")


def recipients_page(session, user_ids: list[str], kind: str) -> dict[str, dict]:
    """{user_id: {email, language, display_name, bounced, frequency}} for the known users
    of a page, in one query (explicit preference for ``kind`` or None)."""
    if not user_ids:
        return {}
    if is_postgres(session):  # the ids as one array parameter, not a thousand bound values
        rows = session.execute(_RECIPIENTS_SQL, {"user_ids": list(user_ids), "kind": kind}).tuples()
        return {user_id: {"email": email, "language": language, "display_name": name, "bounced": bounced,
                          "frequency": frequency}
                for user_id, email, language, name, bounced, frequency in rows}
    pref = sa.orm.aliased(Preference)
    query = (
        sa.select(Recipient.user_id, Recipient.email, Recipient.language, Recipient.display_name,
                  Bounce.email.is_not(None).label("bounced"), pref.frequency)
        .outerjoin(Bounce, Bounce.email == Recipient.email)
        .outerjoin(pref, sa.and_(pref.user_id == Recipient.user_id, pref.kind == kind))
        .where(Recipient.user_id.in_(user_ids))
    )
    return {row.user_id: {"email": row.email, "language": row.language, "display_name": row.display_name,
                          "bounced": bool(row.bounced), "frequency": row.frequency}
            for row in session.execute(query)}


def insert_notifications(session, rows: list[dict]) -> list[tuple[int, str]]:
    """Bulk insert; rows already there for (event_id, user_id) are skipped. Returns
    (id, user_id) of the rows inserted now."""
    if not rows:
        return []
    stmt = (_insert(session, N).on_conflict_do_nothing(index_elements=["event_id", "user_id"])
            .returning(N.c.id, N.c.user_id))
    return [(row.id, row.user_id) for row in session.execute(stmt, rows)]


#: One page of a fan-out in one statement (PostgreSQL): the recipients travel as arrays,
#: the texts once per language, the event's data once; inbox rows are inserted skipping
#: those already there for (event_id, user_id), and an immediate e-mail delivery is queued
#: for each row inserted now whose recipient has an address in ``emails``.
_PAGE_SQL = sa.text("""
WITH page AS (
    SELECT * FROM unnest(CAST(:user_ids AS varchar[]), CAST(:text_keys AS varchar[]),
                         CAST(:digests AS varchar[]), CAST(:emails AS varchar[]))
        AS p(user_id, text_key, digest, email)
), texts AS (
    SELECT * FROM unnest(CAST(:keys AS varchar[]), CAST(:languages AS varchar[]),
                         CAST(:titles AS varchar[]), CAST(:bodies AS text[]))
        AS t(text_key, language, title, body)
), ins AS (
    INSERT INTO notifications (user_id, event_id, kind, title, body, link, data, language, created_at,
                               read_at, digest, digest_id)
    SELECT p.user_id, :event_id, :kind, t.title, t.body, :link, CAST(:data AS json), t.language, :now,
           NULL, p.digest, NULL
    FROM page p JOIN texts t ON t.text_key = p.text_key
    ON CONFLICT (event_id, user_id) DO NOTHING
    RETURNING id, user_id, language
), mails AS (
    INSERT INTO deliveries (dedupe_key, to_address, user_id, kind, language, notification_id, status, attempts,
                            next_attempt_at, created_at)
    SELECT 'n:' || ins.id, p.email, ins.user_id, :kind, ins.language, ins.id, 'pending', 0, :now, :now
    FROM ins JOIN page p ON p.user_id = ins.user_id
    WHERE p.email IS NOT NULL
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS written, (SELECT count(*) FROM mails) AS queued
""")


def write_page(session, event_id: str, kind: str, link: str | None, data: dict, now: datetime,
               texts: dict[str, tuple[str, str, str]], recipients: list[tuple[str, str, str | None, str | None]]
               ) -> tuple[int, int]:
    """Writes one page of a fan-out in the caller's transaction and returns (inbox rows
    written, e-mail deliveries queued). ``texts``: {text key: (language, title, body)};
    ``recipients``: [(user_id, text key, digest frequency or None, address for an
    immediate e-mail or None)]. A recipient who already has a row for ``event_id`` gets
    nothing new (redelivery, a page written again after a crash): PostgreSQL does it in
    one statement (``ON CONFLICT DO NOTHING``, no per-row check), other databases with
    two bulk inserts."""
    if not recipients:
        return 0, 0
    if is_postgres(session):
        keys = list(texts)
        row = session.execute(_PAGE_SQL, {
            "user_ids": [r[0] for r in recipients], "text_keys": [r[1] for r in recipients],
            "digests": [r[2] for r in recipients], "emails": [r[3] for r in recipients],
            "keys": keys, "languages": [texts[k][0] for k in keys], "titles": [texts[k][1] for k in keys],
            "bodies": [texts[k][2] for k in keys], "event_id": event_id, "kind": kind, "link": link,
            "data": json.dumps(data), "now": now}).one()
        return int(row.written), int(row.queued)
    rows = [{"user_id": user_id, "event_id": event_id, "kind": kind, "title": texts[key][1], "body": texts[key][2],
             "link": link, "data": data, "language": texts[key][0], "created_at": now, "read_at": None,
             "digest": digest, "digest_id": None} for user_id, key, digest, _ in recipients]
    inserted = insert_notifications(session, rows)
    by_user = {r[0]: r for r in recipients}
    deliveries = [{"dedupe_key": f"n:{nid}", "to_address": by_user[uid][3], "user_id": uid, "kind": kind,
                   "language": texts[by_user[uid][1]][0], "notification_id": nid, "digest_id": None, "context": None,
                   "target_key": None, "status": "pending", "attempts": 0, "last_error": None, "subject": None,
                   "next_attempt_at": now, "created_at": now, "sent_at": None}
                  for nid, uid in inserted if by_user[uid][3]]
    return len(inserted), insert_deliveries(session, deliveries)


def insert_deliveries(session, rows: list[dict]) -> int:
    if not rows:
        return 0
    stmt = _insert(session, D).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(D.c.id)
    return len(session.execute(stmt, rows).all())


def unreachable_addresses(session, emails: list[str], kind: str) -> set[str]:
    """Those of ``emails`` that hard-bounced or unsubscribed from ``kind``."""
    if not emails:
        return set()
    bounced = session.execute(sa.select(Bounce.email).where(Bounce.email.in_(emails))).scalars()
    suppressed = session.execute(sa.select(Suppression.email).where(
        Suppression.email.in_(emails), Suppression.kind == kind)).scalars()
    return set(bounced) | set(suppressed)


def booked_times(session, target_key: str, since: datetime) -> list[datetime]:
    rows = session.execute(sa.select(Delivery.next_attempt_at).where(
        Delivery.target_key == target_key, Delivery.next_attempt_at >= since))
    return [aware(t) for t in rows.scalars()]


# --------------------------------------------------------------------------------------------
# fan-out progress
# --------------------------------------------------------------------------------------------


def create_fanout(session, event_id, kind, context, sources, excluded, lease_seconds) -> bool:
    stmt = _insert(session, Fanout.__table__).values(
        event_id=event_id, kind=kind, context=context, sources=sources, excluded=sorted(excluded),
        source_index=0, cursor=None, pages=0, written=0, created_at=utcnow(),
        lease_until=utcnow() + timedelta(seconds=lease_seconds)).on_conflict_do_nothing()
    return session.execute(stmt).rowcount == 1


def locked_fanout(session, event_id) -> Fanout | None:
    query = sa.select(Fanout).where(Fanout.event_id == event_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def claim_stalled_fanouts(session, now: datetime, lease_seconds: int, limit: int = 10) -> list[str]:
    """Fan-outs not finished whose lease ran out (their handler crashed or failed): take
    them over for ``lease_seconds``."""
    query = (sa.select(Fanout.event_id).where(Fanout.done_at.is_(None), Fanout.lease_until < now)
             .order_by(Fanout.lease_until).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    ids = list(session.execute(query).scalars())
    if ids:
        session.execute(sa.update(Fanout).where(Fanout.event_id.in_(ids))
                        .values(lease_until=now + timedelta(seconds=lease_seconds)))
    return ids


# --------------------------------------------------------------------------------------------
# inbox and preferences
# --------------------------------------------------------------------------------------------


def inbox(session, user_id: str, unread: bool, limit: int, offset: int):
    query = sa.select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Notification.id.desc()).limit(limit).offset(offset)).scalars().all()
    return rows, total


def unread_count(session, user_id: str) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(N).where(
        N.c.user_id == user_id, N.c.read_at.is_(None))).scalar_one()


def mark_all_read(session, user_id: str, now: datetime) -> int:
    result = session.execute(sa.update(N).where(N.c.user_id == user_id, N.c.read_at.is_(None)).values(read_at=now))
    return result.rowcount or 0


def preferences_of(session, user_id: str) -> dict[str, str]:
    rows = session.execute(sa.select(Preference.kind, Preference.frequency).where(Preference.user_id == user_id))
    return {kind: frequency for kind, frequency in rows}


def set_preferences(session, user_id: str, changes: dict[str, str]) -> None:
    now = utcnow()
    for kind, frequency in changes.items():
        session.execute(_insert(session, Preference.__table__).values(
            user_id=user_id, kind=kind, frequency=frequency, updated_at=now).on_conflict_do_update(
            index_elements=["user_id", "kind"], set_={"frequency": frequency, "updated_at": now}))


def add_suppression(session, email: str, kind: str) -> None:
    session.execute(_insert(session, Suppression.__table__).values(email=email, kind=kind, created_at=utcnow())
                    .on_conflict_do_nothing())


def add_bounce(session, email: str, reason: str) -> None:
    session.execute(_insert(session, Bounce.__table__).values(email=email, reason=reason[:2000],
                                                              bounced_at=utcnow()).on_conflict_do_nothing())


def is_bounced(session, email: str) -> bool:
    return session.get(Bounce, email) is not None


def is_suppressed(session, email: str, kind: str) -> bool:
    return session.get(Suppression, (email, kind)) is not None


# --------------------------------------------------------------------------------------------
# the sender
# --------------------------------------------------------------------------------------------


def claim_due_deliveries(session, now: datetime, limit: int, lease_seconds: int) -> list[int]:
    """Due deliveries for this sender: locked with SKIP LOCKED (another instance takes
    others) and leased (``next_attempt_at`` moved by the lease: if this sender dies
    before recording the outcome, they are due again after it)."""
    query = (sa.select(D.c.id).where(D.c.status == "pending", D.c.next_attempt_at <= now)
             .order_by(D.c.next_attempt_at, D.c.id).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    ids = list(session.execute(query).scalars())
    if ids:
        session.execute(sa.update(D).where(D.c.id.in_(ids)).values(
            next_attempt_at=now + timedelta(seconds=lease_seconds)))
    return ids


def release_deliveries(session, ids: list[int], now: datetime) -> None:
    if ids:
        session.execute(sa.update(D).where(D.c.id.in_(ids), D.c.status == "pending").values(next_attempt_at=now))


def digest_items(session, digest_id: int) -> list[Notification]:
    return list(session.execute(sa.select(Notification).where(Notification.digest_id == digest_id)
                                .order_by(Notification.created_at, Notification.id)).scalars())


# --------------------------------------------------------------------------------------------
# digests and summaries
# --------------------------------------------------------------------------------------------


def users_with_pending_digest(session, frequency: str, cutoff: datetime, countries: list[str] | None,
                              other_countries: list[str] | None, period_key: str, after: str | None,
                              limit: int) -> list[str]:
    """Users (keyset pages) with notifications waiting for the ``frequency`` digest that
    arrived before ``cutoff`` and no digest yet for ``period_key``; restricted to users
    of ``countries``, or (``other_countries`` given) to users of none of them or unknown."""
    query = (
        sa.select(N.c.user_id).distinct()
        .select_from(N.outerjoin(Recipient.__table__, Recipient.user_id == N.c.user_id))
        .where(N.c.digest == frequency, N.c.digest_id.is_(None), N.c.created_at < cutoff)
        .where(~sa.exists().where(Digest.user_id == N.c.user_id, Digest.frequency == frequency,
                                  Digest.period_key == period_key))
        .order_by(N.c.user_id).limit(limit)
    )
    if countries is not None:
        query = query.where(Recipient.country.in_(countries))
    if other_countries is not None:
        query = query.where(sa.or_(Recipient.country.is_(None), Recipient.country.not_in(other_countries)))
    if after:
        query = query.where(N.c.user_id > after)
    return list(session.execute(query).scalars())


def create_digest(session, user_id: str, frequency: str, period_key: str) -> int | None:
    stmt = (_insert(session, Digest.__table__).values(user_id=user_id, frequency=frequency, period_key=period_key,
                                                      items=0, created_at=utcnow())
            .on_conflict_do_nothing().returning(Digest.__table__.c.id))
    row = session.execute(stmt).first()
    return row.id if row else None


def pending_for_digest(session, user_id: str, frequency: str, cutoff: datetime) -> list[int]:
    query = (sa.select(N.c.id).where(N.c.user_id == user_id, N.c.digest == frequency, N.c.digest_id.is_(None),
                                     N.c.created_at < cutoff).order_by(N.c.id))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).scalars())


def attach_to_digest(session, digest_id: int, ids: list[int]) -> None:
    for chunk in _chunks(ids, 1000):
        session.execute(sa.update(N).where(N.c.id.in_(chunk)).values(digest_id=digest_id))
    session.execute(sa.update(Digest).where(Digest.id == digest_id).values(items=len(ids)))


def moderators(session) -> list[Recipient]:
    return list(session.execute(sa.select(Recipient).where(Recipient.is_moderator.is_(True))
                                .order_by(Recipient.user_id)).scalars())


def claim_summary(session, user_id: str, period_key: str) -> bool:
    stmt = _insert(session, SummaryRun.__table__).values(user_id=user_id, period_key=period_key,
                                                         created_at=utcnow()).on_conflict_do_nothing()
    return session.execute(stmt).rowcount == 1


def summaries_done(session, user_ids: list[str], period_keys: list[str]) -> set[tuple[str, str]]:
    if not user_ids:
        return set()
    rows = session.execute(sa.select(SummaryRun.user_id, SummaryRun.period_key).where(
        SummaryRun.user_id.in_(user_ids), SummaryRun.period_key.in_(set(period_keys))))
    return {(u, p) for u, p in rows}


# --------------------------------------------------------------------------------------------
# operators' report
# --------------------------------------------------------------------------------------------


def delivery_report(session, status: str | None, limit: int, offset: int):
    query = sa.select(Delivery)
    if status:
        query = query.where(Delivery.status == status)
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Delivery.id.desc()).limit(limit).offset(offset)).scalars().all()
    counts = dict(session.execute(sa.select(D.c.status, sa.func.count()).group_by(D.c.status)).all())
    return rows, total, counts
