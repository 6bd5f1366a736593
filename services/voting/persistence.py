"""Voting persistence: votes, the voting copy of proposals and questions, incrementally
maintained counts and scores, and milestones. Owns the ``voting`` database.

Counts are never recomputed with COUNT(*) on a read path: each vote applies a delta to
the proposal row (locked with FOR UPDATE, so concurrent votes on one proposal serialise
and emergence is decided exactly once), and question totals live in sharded counters so
that votes on one question do not all queue behind one row.
"""
import json
import random
from datetime import datetime, timezone
from typing import NamedTuple

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
    top_score_ub: Mapped[float] = mapped_column(sa.Float, nullable=False, default=10.0, server_default="10.0")
    controversy_lb: Mapped[float] = mapped_column(sa.Float, nullable=False, default=-10.0)
    controversy_ub: Mapped[float] = mapped_column(sa.Float, nullable=False, default=10.0,
                                                  server_default="10.0")
    zone: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="limbo")
    emerged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (
        sa.Index("ix_vproposals_created", "question_id", "status", "created_at"),
    )


# Rankings: the page is read in index order (score bound, then newest, then id), and
# carries the columns a ranked item needs, so a page is a bounded index scan.
sa.Index("ix_vproposals_popular_page", Proposal.question_id, Proposal.status, Proposal.top_score_lb.desc(),
         Proposal.created_at.desc(), Proposal.id, postgresql_include=["controversy_lb", "zone", "votes_trusted"])
sa.Index("ix_vproposals_controversial_page", Proposal.question_id, Proposal.status, Proposal.controversy_lb.desc(),
         Proposal.created_at.desc(), Proposal.id, postgresql_include=["top_score_lb", "zone", "votes_trusted"])
# Sequence candidate pools: the oldest "new" proposals (partial: only proposals with
# fewer than 10 sequence votes, Make.org's default), and the tested proposals with the
# highest upper confidence bound of topScore / controversy (the ones Thompson sampling
# can rank first).
NEW_INDEX_MAX_SEQUENCE_VOTES = 10
sa.Index("ix_vproposals_new", Proposal.question_id, Proposal.created_at, Proposal.id,
         postgresql_where=sa.text(f"status = 'accepted' AND votes_sequence < {NEW_INDEX_MAX_SEQUENCE_VOTES}"))
sa.Index("ix_vproposals_top_ub", Proposal.question_id, Proposal.status, Proposal.top_score_ub.desc())
sa.Index("ix_vproposals_controversy_ub", Proposal.question_id, Proposal.status, Proposal.controversy_ub.desc())


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


class QuestionStats(Base):
    """Accepted proposals per question, kept by the proposal event handlers (the rankings'
    total without a COUNT(*))."""

    __tablename__ = "question_stats"
    question_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    accepted: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)


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
    """The proposal, locked until the transaction ends; None when voting does not know it
    yet. Then the id itself is locked (a transaction-scoped advisory lock) and the row read
    again: two events about a new proposal handled at once (submitted and accepted) would
    otherwise both insert it, and one fail on the primary key. The second read sees the
    first transaction's row because sessions run in READ COMMITTED (each statement takes a
    new snapshot); under REPEATABLE READ it would not."""
    query = sa.select(Proposal).where(Proposal.id == proposal_id)
    if not is_postgres(session):
        return session.execute(query).scalar_one_or_none()
    query = query.with_for_update()
    proposal = session.execute(query).scalar_one_or_none()
    if proposal is None:
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:id, 0))"), {"id": proposal_id})
        proposal = session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    return proposal


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


def question_totals(session, ends_after) -> list:
    """(question_id, votes_target, total trusted votes) of the questions with a votes
    target that end after ``ends_after`` and have votes: one aggregate over the counters.
    The rest of the transaction (a periodic sweep's) gets a statement timeout: a database
    that hangs must not hold the sweep, and the service's stop, for good."""
    if is_postgres(session):
        session.execute(sa.text("SET LOCAL statement_timeout = '30s'"))
    total = sa.func.sum(QuestionCounter.votes)
    return session.execute(
        sa.select(Question.id, Question.votes_target, total)
        .join(QuestionCounter, QuestionCounter.question_id == Question.id)
        .where(Question.votes_target.is_not(None), Question.ends_at > ends_after)
        .group_by(Question.id, Question.votes_target)
        .order_by(Question.id)  # the order batches record milestones in: no deadlock between them
    ).all()


def record_milestone(session, scope, subject_id, milestone) -> bool:
    """True the first time (scope, subject, milestone) is recorded, False ever after."""
    return (subject_id, milestone) in record_milestones(session, scope, [(subject_id, milestone)])


def record_milestones(session, scope, pairs) -> set:
    """The (subject_id, milestone) pairs recorded now, in one statement (the others were
    recorded before): for a batch of votes that crosses many proposals' milestones at once,
    one round trip instead of one each."""
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return set()
    now = utcnow()
    stmt = _insert(session, Milestone).values(
        [{"scope": scope, "subject_id": subject, "milestone": milestone, "reached_at": now}
         for subject, milestone in pairs]).on_conflict_do_nothing()
    rows = session.execute(stmt.returning(Milestone.subject_id, Milestone.milestone)).all()
    return {(r.subject_id, r.milestone) for r in rows}


def upsert_question(session, data):
    values = {k: data[k] for k in ("id", "country", "language", "starts_at", "ends_at", "votes_target")}
    stmt = _insert(session, Question).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"})
    session.execute(stmt)


def voted_proposal_ids(session, voter, question_id) -> set:
    return set(session.execute(
        sa.select(Vote.__table__.c.proposal_id).where(Vote.voter == voter, Vote.question_id == question_id)
    ).scalars())


def votes_on(session, voter, proposal_ids) -> list:
    """The voter's votes on some proposals, one query."""
    v = Vote.__table__
    if not proposal_ids:
        return []
    return session.execute(sa.select(v.c.proposal_id, v.c.key, v.c.qualifications, v.c.trusted)
                           .where(v.c.voter == voter, v.c.proposal_id.in_(list(proposal_ids)))).all()


_CANDIDATE_COLUMNS = ("id", "author_id", "created_at", "votes_trusted", "votes_sequence", "counts", "keywords")


def _candidate_query(question_id):
    p = Proposal.__table__
    return (sa.select(*(p.c[name] for name in _CANDIDATE_COLUMNS))
            .where(p.c.question_id == question_id, p.c.status == "accepted"))


def sequence_candidates(session, question_id, exclude_voter, limit=2000):
    """Accepted proposals of the question the voter has not voted on (bounded, oldest
    first): the fallback when the voter has voted on most of the candidate pools."""
    p = Proposal.__table__
    voted = sa.select(Vote.proposal_id).where(Vote.voter == exclude_voter, Vote.proposal_id == p.c.id)
    query = _candidate_query(question_id).where(~sa.exists(voted)).order_by(p.c.created_at, p.c.id).limit(limit)
    return session.execute(query).all()


def sequence_pools(session, question_id, new_max_sequence_votes, tested_max_votes, sizes) -> dict:
    """The bounded candidate pools of one question (each an index scan with a LIMIT):
    ``new`` (fewer than ``new_max_sequence_votes`` sequence votes, oldest first), ``top`` and
    ``controversy`` (tested proposals, highest upper confidence bound of topScore /
    controversy first), ``fill`` (newest first). ``sizes`` gives each pool's LIMIT."""
    p = Proposal.__table__
    new_max = int(new_max_sequence_votes)
    # a literal, so that the planner can use the partial index (votes_sequence < 10)
    new_filter = p.c.votes_sequence < sa.literal_column(str(new_max))
    tested = sa.and_(p.c.votes_sequence >= new_max, p.c.votes_trusted < int(tested_max_votes))
    queries = {
        "new": _candidate_query(question_id).where(new_filter).order_by(p.c.created_at, p.c.id),
        "top": _candidate_query(question_id).where(tested).order_by(p.c.top_score_ub.desc()),
        "controversy": _candidate_query(question_id).where(tested).order_by(p.c.controversy_ub.desc()),
        "fill": _candidate_query(question_id).order_by(p.c.created_at.desc()),
    }
    return {name: session.execute(q.limit(sizes[name])).all() if sizes[name] > 0 else []
            for name, q in queries.items()}


def ranking(session, question_id, sort, limit, offset):
    """One page of accepted proposals by score lower bound (then newest, then id): an
    ordered index scan. The total is the question's kept count of accepted proposals."""
    p = Proposal.__table__
    column = p.c.top_score_lb if sort == "popular" else p.c.controversy_lb
    kept = sa.select(QuestionStats.accepted).where(QuestionStats.question_id == question_id)
    rows = session.execute(  # the total rides along with the page: one round trip
        sa.select(p.c.id, p.c.top_score_lb, p.c.controversy_lb, p.c.zone, p.c.votes_trusted, p.c.emerged_at,
                  kept.scalar_subquery().label("total"))
        .where(p.c.question_id == question_id, p.c.status == "accepted")
        .order_by(column.desc(), p.c.created_at.desc(), p.c.id).limit(limit).offset(offset)).all()
    total = rows[0].total if rows else session.execute(kept).scalar_one_or_none()  # past the last page
    return rows, total or 0


def add_accepted(session, question_id, delta) -> None:
    """Keep the question's count of accepted proposals (``delta`` +1 / -1)."""
    if not delta:
        return
    stmt = _insert(session, QuestionStats).values(question_id=question_id, accepted=delta)
    session.execute(stmt.on_conflict_do_update(index_elements=["question_id"],
                                               set_={"accepted": QuestionStats.accepted + delta}))


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


# -- the vote hot path ------------------------------------------------------------------------------
# A vote is: lock the proposal and read it with its question and the voter's vote (one round
# trip), then write the vote, the proposal's counts and scores and the question's counter
# (one round trip), then the outbox row. On PostgreSQL each group is sent as one
# multi-statement query: the statements still run in order, each with its own snapshot, so
# the read that follows the FOR UPDATE sees every vote committed before the lock was granted.

# what a vote reads of its proposal (p) and the proposal's question (q_*), single or batched
LOCKED_COLUMNS = ("id", "question_id", "author_id", "status", "counts", "votes_trusted", "emerged_at", "q_id",
                  "q_country", "q_language", "q_starts_at", "q_ends_at", "q_votes_target")
_LOCKED_SELECT = ", ".join(f"q.{name[2:]} AS {name}" if name.startswith("q_") else f"p.{name}"
                           for name in LOCKED_COLUMNS)
_LOCKED_TYPES = dict(counts=sa.JSON, emerged_at=sa.DateTime(timezone=True), q_starts_at=sa.DateTime(timezone=True),
                     q_ends_at=sa.DateTime(timezone=True))
_LOCK_SQL = "SELECT 1 FROM proposals WHERE id = :lock_id FOR UPDATE"
_READ_SQL = (
    f"SELECT {_LOCKED_SELECT}, v.key AS v_key, "
    "v.qualifications AS v_qualifications, v.trusted AS v_trusted, v.sequence AS v_sequence "
    "FROM proposals p LEFT JOIN questions q ON q.id = p.question_id "
    "LEFT JOIN votes v ON v.proposal_id = p.id AND v.voter = :voter WHERE p.id = :pid")
_READ_TYPES = dict(_LOCKED_TYPES, v_qualifications=sa.JSON, v_trusted=sa.Boolean, v_sequence=sa.Boolean)
_VOTE_SQL = {
    "insert": "INSERT INTO votes (proposal_id, question_id, voter, user_id, key, qualifications, trusted, sequence, "
              "created_at, updated_at) VALUES (:pid, :qid, :voter, :user_id, :key, :quals, :trusted, :seq, :now, :now)",
    "update": "UPDATE votes SET key = :key, qualifications = :quals, trusted = :trusted, sequence = :seq, "
              "updated_at = :now WHERE proposal_id = :pid AND voter = :voter",
    "delete": "DELETE FROM votes WHERE proposal_id = :pid AND voter = :voter",
}
_PROPOSAL_SQL = (
    "UPDATE proposals SET counts = :counts, votes_all = :votes_all, votes_trusted = :votes_trusted, "
    "votes_sequence = :votes_sequence, top_score = :top_score, top_score_lb = :top_score_lb, "
    "top_score_ub = :top_score_ub, controversy_lb = :controversy_lb, controversy_ub = :controversy_ub, "
    "zone = :zone, emerged_at = COALESCE(emerged_at, :emerged_at) WHERE id = :pid")
_COUNTER_SQL = ("INSERT INTO question_counters (question_id, shard, votes) VALUES (:qid, :shard, :delta) "
                "ON CONFLICT (question_id, shard) DO UPDATE SET votes = question_counters.votes + :delta")
_TOTAL_SQL = "SELECT COALESCE(SUM(votes), 0) FROM question_counters WHERE question_id = :qid"
_BIND_TYPES = {"quals": sa.JSON, "counts": sa.JSON, "now": sa.DateTime(timezone=True),
               "emerged_at": sa.DateTime(timezone=True)}
_statements: dict = {}


def _statement(key, parts, columns=None):
    """One text statement (cached): the parts joined into one query on PostgreSQL."""
    stmt = _statements.get(key)
    if stmt is None:
        sql = ";\n".join(parts)
        stmt = sa.text(sql).bindparams(*(sa.bindparam(name, type_=t) for name, t in _BIND_TYPES.items()
                                         if f":{name}" in sql))
        if columns:
            stmt = stmt.columns(**columns)
        _statements[key] = stmt
    return stmt


def lock_for_vote(session, proposal_id, voter):
    """Lock the proposal (FOR UPDATE, held to the end of the transaction) and read it with
    its question (q_* columns, None if unknown) and ``voter``'s vote (v_* columns, None if
    none). None for an unknown proposal."""
    conn = session.connection()
    params = {"pid": proposal_id, "voter": voter}
    if is_postgres(session):
        params["lock_id"] = proposal_id
        stmt = _statement("read-pg", [_LOCK_SQL, _READ_SQL], _READ_TYPES)
    else:
        stmt = _statement("read", [_READ_SQL], _READ_TYPES)
    return conn.execute(stmt, params).one_or_none()


def write_vote(session, *, vote_op, params, proposal_values, counter_delta, want_total) -> int | None:
    """Apply one vote change: ``vote_op`` (insert / update / delete / None) on the voter's
    vote row, the proposal's new counts and scores, and ``counter_delta`` trusted votes on a
    random shard of the question's counter. Returns the question's total when
    ``want_total`` (and the counter changed), else None."""
    conn = session.connection()
    parts, key = [], [vote_op]
    if vote_op:
        parts.append(_VOTE_SQL[vote_op])
    parts.append(_PROPOSAL_SQL)
    values = dict(params, **proposal_values)
    if counter_delta:
        parts.append(_COUNTER_SQL)
        values.update(shard=random.randrange(COUNTER_SHARDS), delta=counter_delta)
        key.append("counter")
        if want_total:
            parts.append(_TOTAL_SQL)
            key.append("total")
    if is_postgres(session):
        result = conn.execute(_statement(("write", *key), parts), values)
        return result.scalar_one() if counter_delta and want_total else None
    result = None
    for i, part in enumerate(parts):
        result = conn.execute(_statement(("write-part", *key, i), [part]), values)
    return result.scalar_one() if counter_delta and want_total else None


def move_vote(session, proposal_id, from_voter, to_voter, user_id) -> None:
    session.execute(sa.update(Vote.__table__).where(Vote.proposal_id == proposal_id, Vote.voter == from_voter)
                    .values(voter=to_voter, user_id=user_id))


def delete_vote(session, proposal_id, voter) -> None:
    session.execute(sa.delete(Vote.__table__).where(Vote.proposal_id == proposal_id, Vote.voter == voter))


def vote_rows_of_voter(session, voter) -> list:
    v = Vote.__table__
    return session.execute(sa.select(v.c.proposal_id, v.c.key, v.c.qualifications, v.c.trusted, v.c.sequence)
                           .where(v.c.voter == voter).order_by(v.c.proposal_id)).all()


# -- a batch of votes (vote_batch) -------------------------------------------------------------------
# However many votes: the proposals locked (in id order, so concurrent batches never
# deadlock) and read with the voters' votes in one round trip, and every write (new votes,
# changed votes, the proposals' counts and scores) sent as one multi-statement query of
# set-based statements over arrays.


def lock_proposals(session, proposal_ids) -> list:
    """Lock the proposals (FOR UPDATE, in id order) and read them with their question
    (q_* columns, None if unknown): rows of ``LOCKED_COLUMNS`` (``lock_for_vote``'s, without v_*)."""
    p, q = Proposal.__table__, Question.__table__
    columns = [q.c[name[2:]].label(name) if name.startswith("q_") else p.c[name] for name in LOCKED_COLUMNS]
    query = (sa.select(*columns).select_from(p.outerjoin(q, q.c.id == p.c.question_id))
             .where(p.c.id.in_(sorted(proposal_ids))).order_by(p.c.id))
    if is_postgres(session):
        query = query.with_for_update(of=p)
    return session.connection().execute(query).all()


_BATCH_LOCK_SQL = "SELECT 1 FROM proposals WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id FOR UPDATE"
_BATCH_READ_SQL = (
    f"SELECT {_LOCKED_SELECT}, "
    "(SELECT json_agg(json_build_array(r.voter, v.key, v.qualifications, v.trusted, v.sequence)) "
    " FROM unnest(CAST(:pair_pids AS text[]), CAST(:pair_voters AS text[])) AS r(pid, voter) "
    " JOIN votes v ON v.proposal_id = r.pid AND v.voter = r.voter WHERE r.pid = p.id) AS votes "
    "FROM proposals p LEFT JOIN questions q ON q.id = p.question_id "
    "WHERE p.id = ANY(CAST(:ids AS text[])) ORDER BY p.id")
_BATCH_READ_TYPES = dict(_LOCKED_TYPES, votes=sa.JSON)


class PairVote(NamedTuple):
    key: str
    qualifications: list
    trusted: bool
    sequence: bool


def lock_batch(session, pairs) -> tuple[list, dict]:
    """A batch's reads: its proposals locked and read (``lock_proposals``' rows) and the
    votes of its (proposal_id, voter) ``pairs`` ({pair: vote with key, qualifications,
    trusted, sequence}, pairs without a vote absent; ``votes_of_pairs``). On PostgreSQL in
    one round trip: the lock, then the read, which sees every vote committed before the
    locks were granted (a statement of its own, so a snapshot of its own)."""
    if not pairs:
        return [], {}
    proposal_ids = sorted({pid for pid, _ in pairs})
    if not is_postgres(session):
        return lock_proposals(session, proposal_ids), votes_of_pairs(session, pairs)
    ordered = sorted(pairs)
    rows = session.connection().execute(
        _statement("batch-read", [_BATCH_LOCK_SQL, _BATCH_READ_SQL], _BATCH_READ_TYPES),
        {"ids": proposal_ids, "pair_pids": [pid for pid, _ in ordered], "pair_voters": [v for _, v in ordered]}).all()
    found = {(row.id, voter): PairVote(key, quals, trusted, sequence)
             for row in rows for voter, key, quals, trusted, sequence in (row.votes or ())}
    return rows, found


def votes_of_pairs(session, pairs) -> dict:
    """{(proposal_id, voter): vote row} for the (proposal, voter) pairs that have a vote."""
    v = Vote.__table__
    if not pairs:
        return {}
    rows = session.connection().execute(
        sa.select(v.c.proposal_id, v.c.voter, v.c.key, v.c.qualifications, v.c.trusted, v.c.sequence)
        .where(sa.tuple_(v.c.proposal_id, v.c.voter).in_(sorted(pairs)))).all()
    return {(r.proposal_id, r.voter): r for r in rows}


_ARRAYS = {"text": "text[]", "int": "integer[]", "float": "double precision[]", "bool": "boolean[]",
           "time": "timestamptz[]"}
_INSERT_COLUMNS = (("pid", "text"), ("qid", "text"), ("voter", "text"), ("user_id", "text"), ("key", "text"),
                   ("quals", "text"), ("trusted", "bool"), ("seq", "bool"))
_UPDATE_COLUMNS = (("pid", "text"), ("voter", "text"), ("key", "text"), ("quals", "text"), ("trusted", "bool"),
                   ("seq", "bool"))
_PROPOSAL_COLUMNS = (("pid", "text"), ("counts", "text"), ("votes_all", "int"), ("votes_trusted", "int"),
                     ("votes_sequence", "int"), ("top_score", "float"), ("top_score_lb", "float"),
                     ("top_score_ub", "float"), ("controversy_lb", "float"), ("controversy_ub", "float"),
                     ("zone", "text"), ("emerged_at", "time"))


def _unnest(prefix, columns) -> str:
    arrays = ", ".join(f"CAST(:{prefix}_{name} AS {_ARRAYS[kind]})" for name, kind in columns)
    return f"unnest({arrays}) AS r({', '.join(name for name, _ in columns)})"


_BATCH_SQL = ";\n".join([
    "INSERT INTO votes (proposal_id, question_id, voter, user_id, key, qualifications, trusted, sequence, "
    "created_at, updated_at) SELECT r.pid, r.qid, r.voter, r.user_id, r.key, CAST(r.quals AS json), r.trusted, "
    f"r.seq, :now, :now FROM {_unnest('i', _INSERT_COLUMNS)}",
    "UPDATE votes AS v SET key = r.key, qualifications = CAST(r.quals AS json), trusted = r.trusted, "
    f"sequence = r.seq, updated_at = :now FROM {_unnest('u', _UPDATE_COLUMNS)} "
    "WHERE v.proposal_id = r.pid AND v.voter = r.voter",
    "UPDATE proposals AS p SET counts = CAST(r.counts AS json), votes_all = r.votes_all, "
    "votes_trusted = r.votes_trusted, votes_sequence = r.votes_sequence, top_score = r.top_score, "
    "top_score_lb = r.top_score_lb, top_score_ub = r.top_score_ub, controversy_lb = r.controversy_lb, "
    "controversy_ub = r.controversy_ub, zone = r.zone, emerged_at = COALESCE(p.emerged_at, r.emerged_at) "
    f"FROM {_unnest('p', _PROPOSAL_COLUMNS)} WHERE p.id = r.pid",
    # the questions' counters (a random shard each, in question order: no deadlock between
    # concurrent batches), then their totals, read after the upsert in the same round trip
    "INSERT INTO question_counters (question_id, shard, votes) SELECT r.qid, r.shard, r.delta "
    "FROM unnest(CAST(:c_qid AS text[]), CAST(:c_shard AS integer[]), CAST(:c_delta AS integer[])) "
    "AS r(qid, shard, delta) ORDER BY r.qid "
    "ON CONFLICT (question_id, shard) DO UPDATE SET votes = question_counters.votes + EXCLUDED.votes",
    "SELECT question_id, SUM(votes) AS total FROM question_counters "
    "WHERE question_id = ANY(CAST(:c_qid AS text[])) GROUP BY question_id",
])


def write_batch(session, inserts: list, updates: list, proposals: list, counters: dict | None = None) -> dict:
    """Write a batch: ``inserts`` and ``updates`` of vote rows (dicts with pid, qid, voter,
    user_id, key, quals, trusted, seq), ``proposals`` (dicts with pid and the proposal
    columns of ``write_vote``, emerged_at included), ``counters`` ({question id: trusted
    votes to add}, zeros ignored). Returns {question id: its new total} for the questions
    counted. One round trip on PostgreSQL."""
    conn, now = session.connection(), utcnow()
    counters = {qid: delta for qid, delta in sorted((counters or {}).items()) if delta}
    if not is_postgres(session):  # SQLite (development): statement by statement
        for op, rows in (("insert", inserts), ("update", updates)):
            for row in rows:
                conn.execute(_statement(("write-part", op, 0), [_VOTE_SQL[op]]), dict(row, now=now))
        for row in proposals:
            conn.execute(_statement(("write-part", None, 0), [_PROPOSAL_SQL]), row)
        return {qid: add_question_votes(session, qid, delta) for qid, delta in counters.items()}

    def arrays(prefix, columns, rows):
        return {f"{prefix}_{name}": [json.dumps(r[name]) if name in ("quals", "counts") else r[name] for r in rows]
                for name, _ in columns}

    params = {"now": now, **arrays("i", _INSERT_COLUMNS, inserts), **arrays("u", _UPDATE_COLUMNS, updates),
              **arrays("p", _PROPOSAL_COLUMNS, proposals), "c_qid": list(counters),
              "c_shard": [random.randrange(COUNTER_SHARDS) for _ in counters], "c_delta": list(counters.values())}
    rows = conn.execute(_statement("batch", [_BATCH_SQL], {"question_id": sa.String, "total": sa.BigInteger}),
                        params).all()
    return {r.question_id: int(r.total) for r in rows}
