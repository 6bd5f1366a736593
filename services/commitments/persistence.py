"""Commitments persistence: public actors, commitments and their timelines. Owns the
``commitments`` database.

A commitment keeps its actor's country (denormalised at creation) so listings by
country need no join; ``source_response_id`` is unique, so one official's response can
never become two commitments, whatever the events say.
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import infra_tables

metadata = sa.MetaData()
infra_tables(metadata)


def utcnow():
    return datetime.now(timezone.utc)


def aware(value):
    """SQLite gives naive datetimes back; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = metadata


class Actor(Base):
    __tablename__ = "actors"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    external_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    party: Mapped[str | None] = mapped_column(sa.String(200))
    mandate: Mapped[str | None] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    constituency: Mapped[str | None] = mapped_column(sa.String(200))
    contact_emails: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    locale: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        sa.Index("ix_actors_country_level_kind", "country", "level", "kind"),
        sa.Index("ix_actors_name", "name"),
    )


class Commitment(Base):
    __tablename__ = "commitments"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    actor_id: Mapped[str] = mapped_column(sa.ForeignKey("actors.id"), nullable=False)
    proposal_id: Mapped[str | None] = mapped_column(sa.String(64))
    campaign_id: Mapped[str | None] = mapped_column(sa.String(64))
    statement: Mapped[str] = mapped_column(sa.Text, nullable=False)
    made_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    source_url: Mapped[str | None] = mapped_column(sa.String(2000))
    source_response_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="not_yet_rated")
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        sa.Index("ix_commitments_actor_made", "actor_id", "made_at"),
        sa.Index("ix_commitments_proposal", "proposal_id"),
        sa.Index("ix_commitments_campaign", "campaign_id"),
        sa.Index("ix_commitments_status_made", "status", "made_at"),
        sa.Index("ix_commitments_country_made", "country", "made_at"),
        sa.Index("ix_commitments_made", "made_at"),
    )


class TimelineEntry(Base):
    """One status of a commitment: the creation, then every change, with its source."""

    __tablename__ = "commitment_timeline"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    commitment_id: Mapped[str] = mapped_column(sa.ForeignKey("commitments.id"), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    previous_status: Mapped[str | None] = mapped_column(sa.String(16))
    evidence_url: Mapped[str | None] = mapped_column(sa.String(2000))
    note: Mapped[str | None] = mapped_column(sa.Text)
    changed_by: Mapped[str | None] = mapped_column(sa.String(64))
    changed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (sa.Index("ix_commitment_timeline_commitment", "commitment_id", "changed_at", "id"),)


def is_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# -- actors -------------------------------------------------------------------------------------
def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_actors(session, country=None, level=None, kind=None, q=None, limit=20, offset=0):
    query = sa.select(Actor)
    if country:
        query = query.where(Actor.country == country)
    if level:
        query = query.where(Actor.level == level)
    if kind:
        query = query.where(Actor.kind == kind)
    if q:
        pattern = _like(q)
        query = query.where(sa.or_(
            Actor.name.ilike(pattern, escape="\\"), Actor.party.ilike(pattern, escape="\\"),
            Actor.constituency.ilike(pattern, escape="\\")))
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Actor.name, Actor.id).limit(limit).offset(offset)).scalars().all()
    return rows, total


def actors_by_ids(session, ids):
    if not ids:
        return []
    return session.execute(sa.select(Actor).where(Actor.id.in_(list(ids))).order_by(Actor.name, Actor.id)) \
        .scalars().all()


def actors_by_external_ids(session, external_ids):
    if not external_ids:
        return {}
    rows = session.execute(sa.select(Actor).where(Actor.external_id.in_(list(external_ids)))).scalars().all()
    return {a.external_id: a for a in rows}


def actor_by_external_id(session, external_id):
    return session.execute(sa.select(Actor).where(Actor.external_id == external_id)).scalar_one_or_none()


def count_actors(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Actor)).scalar_one()


# -- commitments --------------------------------------------------------------------------------
def commitment_for_update(session, commitment_id) -> Commitment | None:
    query = sa.select(Commitment).where(Commitment.id == commitment_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def commitment_by_response(session, response_id) -> Commitment | None:
    return session.execute(
        sa.select(Commitment).where(Commitment.source_response_id == response_id)).scalar_one_or_none()


def list_commitments(session, actor=None, proposal=None, campaign=None, status=None, country=None,
                     limit=20, offset=0):
    """Commitments with their actor, most recent promise first."""
    query = sa.select(Commitment, Actor).join(Actor, Actor.id == Commitment.actor_id)
    if actor:
        query = query.where(Commitment.actor_id == actor)
    if proposal:
        query = query.where(Commitment.proposal_id == proposal)
    if campaign:
        query = query.where(Commitment.campaign_id == campaign)
    if status:
        query = query.where(Commitment.status == status)
    if country:
        query = query.where(Commitment.country == country)
    count = sa.select(sa.func.count()).select_from(query.with_only_columns(Commitment.id).subquery())
    total = session.execute(count).scalar_one()
    rows = session.execute(
        query.order_by(Commitment.made_at.desc(), Commitment.created_at.desc(), Commitment.id)
        .limit(limit).offset(offset)).all()
    return [(r[0], r[1]) for r in rows], total


def commitments_of_actor(session, actor_id, limit):
    return session.execute(
        sa.select(Commitment).where(Commitment.actor_id == actor_id)
        .order_by(Commitment.made_at.desc(), Commitment.created_at.desc(), Commitment.id).limit(limit)
    ).scalars().all()


def status_counts(session, actor_id) -> dict:
    rows = session.execute(
        sa.select(Commitment.status, sa.func.count()).where(Commitment.actor_id == actor_id)
        .group_by(Commitment.status))
    return {status: count for status, count in rows}


def timeline(session, commitment_id):
    return session.execute(
        sa.select(TimelineEntry).where(TimelineEntry.commitment_id == commitment_id)
        .order_by(TimelineEntry.changed_at, TimelineEntry.id)).scalars().all()
