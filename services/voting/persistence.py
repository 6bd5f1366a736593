"""Voting persistence: votes, the voting copy of proposals and questions, incrementally
maintained counts and scores, and milestones. Owns the ``voting`` database.

Counts are never recomputed with COUNT(*) on a read path: each vote applies a delta to
the proposal row (locked with FOR UPDATE, so concurrent votes on one proposal serialise
and emergence is decided exactly once), and question totals live in sharded counters so
that votes on one question do not all queue behind one row.
"""
import random
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import infra_tables
from services.voting.domain import LEVELS
from services.voting.scoring import ITEMS

metadata = sa.MetaData()
infra_tables(metadata)
COUNTER_SHARDS = 16


def utcnow():
    return datetime.now(timezone.utc)


def aware(value):
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def empty_counts() -> dict:
    return {level: {item: 0 for item in ITEMS} for level in LEVELS}


class Base(DeclarativeBase):
    metadata = metadata


class Question(Base):
    __tablename__ = "questions"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    votes_target: Mapped[int | None] = mapped_column(sa.Integer)


class Proposal(Base):
    """What voting knows of a proposal, plus its counts and scores."""

    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    question_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    author_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    status_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    keywords: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    counts: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=empty_counts)
    votes_all: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    votes_trusted: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    votes_sequence: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    top_score: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    top_score_lb: Mapped[float] = mapped_column(sa.Float, nullable=False, default=-10.0)
    controversy_lb: Mapped[float] = mapped_column(sa.Float, nullable=False, default=-10.0)
    zone: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="limbo")
    emerged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (
        sa.Index("ix_vproposals_popular", "question_id", "status", "top_score_lb"),
        sa.Index("ix_vproposals_controversial", "question_id", "status", "controversy_lb"),
        sa.Index("ix_vproposals_created", "question_id", "status", "created_at"),
    )


class Vote(Base):
    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    question_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    voter: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    user_id: Mapped[str | None] = mapped_column(sa.String(36))
    key: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    qualifications: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    trusted: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    sequence: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "voter", name="uq_votes_proposal_voter"),
        sa.Index("ix_votes_voter_question", "voter", "question_id"),
        sa.Index("ix_votes_proposal_key_user", "proposal_id", "key", "user_id"),
    )


class QuestionCounter(Base):
    __tablename__ = "question_counters"
    question_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    shard: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    votes: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False, default=0)


class Milestone(Base):
    """A milestone reached (unique: published exactly once)."""

    __tablename__ = "milestones"
    scope: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # proposal | question
    subject_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    milestone: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    reached_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


def is_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session, model):
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(model)


def proposal_for_update(session, proposal_id):
    query = sa.select(Proposal).where(Proposal.id == proposal_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def vote_of(session, proposal_id, voter):
    return session.execute(
        sa.select(Vote).where(Vote.proposal_id == proposal_id, Vote.voter == voter)
    ).scalar_one_or_none()


def add_question_votes(session, question_id, delta) -> int:
    """Add to a random shard of the question's counter; returns the new total."""
    shard = random.randrange(COUNTER_SHARDS)
    stmt = _insert(session, QuestionCounter).values(question_id=question_id, shard=shard, votes=delta)
    stmt = stmt.on_conflict_do_update(index_elements=["question_id", "shard"],
                                      set_={"votes": QuestionCounter.votes + delta})
    session.execute(stmt)
    return session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(QuestionCounter.votes), 0)).where(QuestionCounter.question_id == question_id)
    ).scalar_one()


def record_milestone(session, scope, subject_id, milestone) -> bool:
    """True the first time (scope, subject, milestone) is recorded, False ever after."""
    stmt = _insert(session, Milestone).values(scope=scope, subject_id=subject_id, milestone=milestone,
                                              reached_at=utcnow()).on_conflict_do_nothing()
    return session.execute(stmt).rowcount == 1


def upsert_question(session, data):
    values = {k: data[k] for k in ("id", "country", "language", "starts_at", "ends_at", "votes_target")}
    stmt = _insert(session, Question).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"})
    session.execute(stmt)


def voted_proposal_ids(session, voter, question_id) -> set:
    return set(session.execute(
        sa.select(Vote.proposal_id).where(Vote.voter == voter, Vote.question_id == question_id)
    ).scalars())


def sequence_candidates(session, question_id, exclude_voter, limit=2000):
    """Accepted proposals of the question the voter has not voted on (bounded)."""
    voted = sa.select(Vote.proposal_id).where(Vote.voter == exclude_voter, Vote.proposal_id == Proposal.id)
    query = (
        sa.select(Proposal)
        .where(Proposal.question_id == question_id, Proposal.status == "accepted")
        .where(~sa.exists(voted))
        .order_by(Proposal.created_at)
        .limit(limit)
    )
    return session.execute(query).scalars().all()


def ranking(session, question_id, sort, limit, offset):
    column = Proposal.top_score_lb if sort == "popular" else Proposal.controversy_lb
    base = sa.select(Proposal).where(Proposal.question_id == question_id, Proposal.status == "accepted")
    total = session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(column.desc(), Proposal.created_at.desc(), Proposal.id)
                           .limit(limit).offset(offset)).scalars().all()
    return rows, total


def votes_of_voter(session, voter):
    return session.execute(sa.select(Vote).where(Vote.voter == voter)).scalars().all()


def voters_with_key(session, proposal_id, key, after=None, limit=1000):
    """Logged-in voters holding ``key`` on a proposal, in keyset pages of user ids."""
    query = (sa.select(Vote.user_id).where(Vote.proposal_id == proposal_id, Vote.key == key,
                                            Vote.user_id.is_not(None))
             .order_by(Vote.user_id).limit(limit))
    if after:
        query = query.where(Vote.user_id > after)
    return list(session.execute(query).scalars())
