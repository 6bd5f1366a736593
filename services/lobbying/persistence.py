"""Lobbying persistence: campaigns, targets, supporters, milestones, responses, and the
lobbying copy of accepted/emerged proposals. Owns the ``lobbying`` database."""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from common.db import infra_tables

metadata = sa.MetaData()
infra_tables(metadata)


def utcnow():
    return datetime.now(timezone.utc)


def aware(value):
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def new_id():
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = metadata


class Proposal(Base):
    """What lobbying knows of a proposal (from proposals' and voting's events)."""

    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    question_id: Mapped[str | None] = mapped_column(sa.String(36))
    author_id: Mapped[str | None] = mapped_column(sa.String(36))
    content: Mapped[str | None] = mapped_column(sa.String(500))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    language: Mapped[str | None] = mapped_column(sa.String(5))
    status: Mapped[str | None] = mapped_column(sa.String(16))
    status_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    emerged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    proposal_id: Mapped[str] = mapped_column(sa.String(36), nullable=False, index=True)
    creator_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    pitch: Mapped[str] = mapped_column(sa.Text, nullable=False)
    goal: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="active")
    supporters: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    targets: Mapped[list["Target"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                   order_by="Target.position")
    milestones: Mapped[list["MilestoneReached"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                                order_by="MilestoneReached.milestone")


class Target(Base):
    __tablename__ = "campaign_targets"
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    actor_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    actor_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    country: Mapped[str | None] = mapped_column(sa.String(2))
    level: Mapped[str | None] = mapped_column(sa.String(16))
    locale: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="en")
    contact_emails: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="not_contacted")
    stance: Mapped[str | None] = mapped_column(sa.String(10))
    statement: Mapped[str | None] = mapped_column(sa.Text)
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    interpellations: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_interpellated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (sa.Index("ix_targets_actor", "actor_id"),)


class Support(Base):
    __tablename__ = "supports"
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


class MilestoneReached(Base):
    __tablename__ = "campaign_milestones"
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    milestone: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    reached_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


class Response(Base):
    __tablename__ = "responses"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    stance: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    statement: Mapped[str] = mapped_column(sa.Text, nullable=False)
    responded_by: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (sa.Index("ix_responses_campaign_actor", "campaign_id", "actor_id"),)


def is_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session, model):
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(model)


def locked(session, model, key):
    query = sa.select(model).where(model.id == key)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def add_support(session, campaign_id, user_id) -> bool:
    """True when this is a new support (the primary key makes it one per citizen)."""
    stmt = _insert(session, Support).values(campaign_id=campaign_id, user_id=user_id,
                                            created_at=utcnow()).on_conflict_do_nothing()
    return session.execute(stmt).rowcount == 1


def remove_support(session, campaign_id, user_id) -> bool:
    result = session.execute(sa.delete(Support).where(Support.campaign_id == campaign_id, Support.user_id == user_id))
    return result.rowcount == 1


def record_milestone(session, campaign_id, milestone, kind) -> bool:
    stmt = _insert(session, MilestoneReached).values(
        campaign_id=campaign_id, milestone=milestone, kind=kind, reached_at=utcnow()).on_conflict_do_nothing()
    return session.execute(stmt).rowcount == 1


def is_supporter(session, campaign_id, user_id) -> bool:
    return session.get(Support, (campaign_id, user_id)) is not None


def list_campaigns(session, proposal=None, actor=None, status=None, limit=20, offset=0):
    query = sa.select(Campaign)
    if proposal:
        query = query.where(Campaign.proposal_id == proposal)
    if status:
        query = query.where(Campaign.status == status)
    if actor:
        query = query.where(Campaign.id.in_(sa.select(Target.campaign_id).where(Target.actor_id == actor)))
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Campaign.created_at.desc(), Campaign.id).limit(limit).offset(offset))
    return rows.scalars().all(), total


def supporter_ids(session, campaign_id, after=None, limit=1000):
    """Supporters in pages (keyset), for notifications' batched fan-out."""
    query = sa.select(Support.user_id).where(Support.campaign_id == campaign_id).order_by(Support.user_id).limit(limit)
    if after:
        query = query.where(Support.user_id > after)
    return list(session.execute(query).scalars())
