"""Proposals persistence: models and queries. Owns the ``proposals`` database.

Full-text search uses PostgreSQL text search with the question's language configuration
(a ``tsvector`` column written with each change, GIN-indexed); likely duplicates use
pg_trgm similarity (GIN trigram index). On SQLite both fall back to simple matching.
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import REGCONFIG, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column

from common.db import infra_tables

metadata = sa.MetaData()
infra_tables(metadata)

TEXT_SEARCH_CONFIG = {"fr": "french", "de": "german", "en": "english", "nl": "dutch", "it": "italian"}


def utcnow():
    return datetime.now(timezone.utc)


def aware(value):
    """SQLite gives naive datetimes back; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Base(DeclarativeBase):
    metadata = metadata


class Question(Base):
    __tablename__ = "questions"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    scope: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    votes_target: Mapped[int | None] = mapped_column(sa.Integer)
    created_by: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (sa.Index("ix_questions_country_dates", "country", "starts_at", "ends_at"),)


class Proposal(Base):
    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    question_id: Mapped[str] = mapped_column(sa.ForeignKey("questions.id"), nullable=False)
    author_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    content: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    original_content: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")
    refusal_reason: Mapped[str | None] = mapped_column(sa.String(40))
    tags: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    search_vector = mapped_column(TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    moderated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    moderated_by: Mapped[str | None] = mapped_column(sa.String(36))
    locked_by: Mapped[str | None] = mapped_column(sa.String(36))
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (
        sa.Index("ix_proposals_question_status_created", "question_id", "status", "created_at"),
        sa.Index("ix_proposals_status_created", "status", "created_at"),
        sa.Index("ix_proposals_author", "author_id"),
        # full-text search within a question (btree_gin: a varchar column in a GIN index)
        sa.Index("ix_proposals_question_search", "question_id", "search_vector", postgresql_using="gin",
                 postgresql_where=sa.text("status = 'accepted'")),
        sa.Index("ix_proposals_content_trgm", "content", postgresql_using="gin",
                 postgresql_ops={"content": "gin_trgm_ops"}),
    )


def is_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def search_config(language: str) -> str:
    return TEXT_SEARCH_CONFIG.get(language, "simple")


def set_search_vector(session, proposal: Proposal) -> None:
    """Keep the text-search column in step with the content (PostgreSQL only)."""
    if is_postgres(session):
        proposal.search_vector = sa.func.to_tsvector(
            sa.cast(search_config(proposal.language), REGCONFIG), proposal.content
        )


def question_by_id_or_slug(session, key: str) -> Question | None:
    return session.execute(
        sa.select(Question).where(sa.or_(Question.id == key, Question.slug == key))
    ).scalar_one_or_none()


def question_status_clause(status: str, now: datetime):
    if status == "upcoming":
        return Question.starts_at > now
    if status == "finished":
        return Question.ends_at <= now
    return sa.and_(Question.starts_at <= now, Question.ends_at > now)


def list_questions(session, now, country=None, language=None, status=None, limit=20, offset=0, scope=None):
    query = sa.select(Question)
    if country:
        query = query.where(Question.country == country.upper())
    if language:
        query = query.where(Question.language == language.lower())
    if scope:
        query = query.where(Question.scope == scope)
    if status:
        query = query.where(question_status_clause(status, now))
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Question.starts_at.desc(), Question.id).limit(limit).offset(offset))
    return rows.scalars().all(), total


#: search: the most recent accepted proposals of a question ranked by relevance, and how
#: many older matches are counted exactly (above, the total is a lower bound)
RANK_WINDOW = 10_000
COUNT_CAP = 1_000


def list_accepted(session, question: Question, q=None, limit=20, offset=0, rank_window=RANK_WINDOW,
                  count_cap=COUNT_CAP):
    """A page of a question's accepted proposals, newest first: ``(rows, total, total_exact)``.

    With ``q`` on PostgreSQL (full-text search in the question's language), the matches
    among the ``rank_window`` most recent accepted proposals come first, by relevance
    (``ts_rank``, then newest); older matches follow, newest first. The cost is bounded
    by the window and the cap, not by the number of matches: the window is read in index
    order (its rows are the recent, clustered and cached ones) whatever the planner thinks
    of the query's selectivity, and older matches are counted up to ``count_cap`` (then
    ``total`` is a lower bound and ``total_exact`` false). Ranking every match and
    counting them all read every matching row, wherever it lies in the table: hundreds of
    milliseconds for a common word in a question with a few hundred thousand proposals."""
    accepted = (Proposal.question_id == question.id, Proposal.status == "accepted")
    query = sa.select(Proposal).where(*accepted)
    if q and is_postgres(session):
        return _search(session, question, q, limit, offset, rank_window, count_cap)
    if q:
        for word in q.split():
            query = query.where(Proposal.content.ilike(f"%{word}%"))
    total = session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = session.execute(query.order_by(Proposal.created_at.desc(), Proposal.id).limit(limit).offset(offset))
    return rows.scalars().all(), total, True


def _search(session, question, q, limit, offset, rank_window, count_cap):
    # the planner cannot know where the window starts, so it estimates a third of the
    # question: past jit_above_cost on a big question, and compiling the plan (tens of ms)
    # would cost more than running it; off for this transaction only
    session.execute(sa.select(sa.func.set_config("jit", "off", True)))
    tsquery = sa.func.websearch_to_tsquery(sa.cast(search_config(question.language), REGCONFIG), q)
    accepted = (Proposal.question_id == question.id, Proposal.status == "accepted")
    # where the window starts: the rank_window-th most recent accepted proposal (index only;
    # NULL when the question has fewer: the window is then the whole question)
    start = (sa.select(Proposal.created_at.label("at")).where(*accepted).order_by(Proposal.created_at.desc())
             .offset(rank_window - 1).limit(1).cte("window_start"))
    bound = sa.select(start.c.at).scalar_subquery()
    # the window's rows, read by the (question_id, status, created_at) index: OFFSET 0 keeps
    # the text condition out of that scan, so the planner cannot trade it for the GIN index
    # (and read every match of the question) on a misjudged selectivity
    window = (sa.select(Proposal).where(*accepted)
              .where(Proposal.created_at >= sa.func.coalesce(bound, sa.literal_column("'-infinity'::timestamptz")))
              .offset(0).subquery("recent"))
    recent = aliased(Proposal, window)
    in_window = recent.search_vector.op("@@")(tsquery)
    older = sa.select(Proposal).where(*accepted, Proposal.created_at < bound, Proposal.search_vector.op("@@")(tsquery))
    older_count = sa.select(sa.func.count()).select_from(
        older.with_only_columns(Proposal.id).limit(count_cap + 1).subquery()).scalar_subquery()
    rank = sa.func.ts_rank(recent.search_vector, tsquery)
    # one round trip in the common case: the page, the window's matches, the window's start
    # and the older matches (counted up to the cap)
    found = session.execute(
        sa.select(recent, sa.func.count().over().label("n"), bound.label("bound"), older_count.label("older"))
        .where(in_window).order_by(rank.desc(), recent.created_at.desc(), recent.id).offset(offset).limit(limit)).all()
    rows = [r[0] for r in found]
    if found:
        n, start_at, counted = found[0].n, found[0].bound, found[0].older
    else:  # no match in the window, or a page past its matches
        window_count = sa.select(sa.func.count()).select_from(recent).where(in_window).scalar_subquery()
        n, start_at, counted = session.execute(sa.select(window_count, bound, older_count)).one()
    if start_at is None:  # the window is the whole question
        return rows, n, True
    if len(rows) < limit:
        rows += session.execute(
            older.order_by(Proposal.created_at.desc(), Proposal.id)
            .offset(max(0, offset - n)).limit(limit - len(rows))).scalars().all()
    return rows, n + min(counted, count_cap), counted <= count_cap


#: statuses of proposals that may still be published (a new one may duplicate them)
OPEN_STATUSES = ("pending", "postponed")


def similar_clauses(user_id: str | None, moderator: bool):
    """(what the caller may see, what it may only count) among possible duplicates:
    accepted proposals are public; pending and postponed ones are shown to the question's
    moderators and to their own author, and only counted for anybody else."""
    undecided = Proposal.status.in_(OPEN_STATUSES)
    if moderator:
        return sa.or_(Proposal.status == "accepted", undecided), sa.false()
    if user_id is None:
        return Proposal.status == "accepted", undecided
    return (sa.or_(Proposal.status == "accepted", sa.and_(undecided, Proposal.author_id == user_id)),
            sa.and_(undecided, Proposal.author_id != user_id))


def _align_trgm_threshold(session, min_score):
    # ``%`` filters on pg_trgm.similarity_threshold (0.3 by default), not on min_score: align
    # them for this transaction, or a configured min_score below 0.3 would find nothing more.
    session.execute(sa.select(sa.func.set_config("pg_trgm.similarity_threshold", str(float(min_score)), True)))


def similar_proposals(session, question_id: str, content: str, min_score: float, limit: int, where=None,
                      exclude_id=None):
    """Most similar proposals of a question matching ``where`` (accepted ones by default),
    best first: [{id, content, status, score}] (PostgreSQL: pg_trgm; None elsewhere, meaning
    the caller ranks candidates itself)."""
    if not is_postgres(session):
        return None
    _align_trgm_threshold(session, min_score)
    score = sa.func.similarity(Proposal.content, content).label("score")
    query = (
        sa.select(Proposal.id, Proposal.content, Proposal.status, score)
        .where(Proposal.question_id == question_id, Proposal.status == "accepted" if where is None else where)
        .where(Proposal.content.op("%")(content))
        .where(score >= min_score)
        .order_by(score.desc(), Proposal.created_at.desc())
        .limit(limit)
    )
    if exclude_id:
        query = query.where(Proposal.id != exclude_id)
    return [{"id": r.id, "content": r.content, "status": r.status, "score": round(float(r.score), 3)}
            for r in session.execute(query)]


def count_similar(session, question_id: str, content: str, min_score: float, where, cap: int = 100):
    """How many proposals of a question matching ``where`` are similar to ``content``
    (at most ``cap``; PostgreSQL; None elsewhere)."""
    if not is_postgres(session):
        return None
    _align_trgm_threshold(session, min_score)
    matches = (
        sa.select(Proposal.id)
        .where(Proposal.question_id == question_id, where)
        .where(Proposal.content.op("%")(content))
        .where(sa.func.similarity(Proposal.content, content) >= min_score)
        .limit(cap)
        .subquery()
    )
    return session.execute(sa.select(sa.func.count()).select_from(matches)).scalar_one()


def similar_accepted(session, question_id: str, content: str, min_score: float, limit: int, exclude_id=None):
    """Most similar accepted proposals of a question (likely duplicates at submission and
    in the moderation queue); None when not on PostgreSQL."""
    found = similar_proposals(session, question_id, content, min_score, limit, exclude_id=exclude_id)
    return None if found is None else [{k: d[k] for k in ("id", "content", "score")} for d in found]


def candidates(session, question_id: str, where, cap: int = 5000):
    """(id, content, status) of a question's proposals matching ``where``, newest first
    (for ranking in Python where pg_trgm is missing)."""
    query = (
        sa.select(Proposal.id, Proposal.content, Proposal.status)
        .where(Proposal.question_id == question_id, where)
        .order_by(Proposal.created_at.desc())
        .limit(cap)
    )
    return [tuple(r) for r in session.execute(query)]


def accepted_candidates(session, question_id: str, cap: int = 5000, exclude_id=None):
    query = (
        sa.select(Proposal.id, Proposal.content)
        .where(Proposal.question_id == question_id, Proposal.status == "accepted")
        .order_by(Proposal.created_at.desc())
        .limit(cap)
    )
    if exclude_id:
        query = query.where(Proposal.id != exclude_id)
    return [(r.id, r.content) for r in session.execute(query)]


def proposals_by_author(session, author_id: str, status=None, question_id=None, limit=20, offset=0):
    """An author's proposals, every status, newest first, with their question's slug and
    title: ([(Proposal, slug, title)], total)."""
    query = (
        sa.select(Proposal, Question.slug, Question.title)
        .join(Question, Question.id == Proposal.question_id)
        .where(Proposal.author_id == author_id)
    )
    if status:
        query = query.where(Proposal.status == status)
    if question_id:
        query = query.where(Proposal.question_id == question_id)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.with_only_columns(Proposal.id).subquery())).scalar_one()
    rows = session.execute(query.order_by(Proposal.created_at.desc(), Proposal.id.desc()).limit(limit).offset(offset))
    return [tuple(r) for r in rows], total


def queue_authors(session, question_ids, moderator_id, now, limit):
    """Authors with pending proposals not locked by someone else, oldest first."""
    query = _queue_base(question_ids, moderator_id, now)
    first = sa.func.min(Proposal.created_at).label("first")
    rows = session.execute(
        query.with_only_columns(Proposal.author_id, first).group_by(Proposal.author_id)
        .order_by(first, Proposal.author_id).limit(limit)
    )
    return [r.author_id for r in rows]


def queue_proposals(session, question_ids, moderator_id, now, authors, per_author=20):
    """The oldest ``per_author`` queueable proposals of each of ``authors`` (a prolific author
    must not push the other authors' proposals out of the queue)."""
    if not authors:
        return []
    rank = sa.func.row_number().over(
        partition_by=Proposal.author_id, order_by=(Proposal.created_at, Proposal.id)).label("rank")
    ranked = (
        _queue_base(question_ids, moderator_id, now).where(Proposal.author_id.in_(authors))
        .with_only_columns(Proposal.id, rank).subquery()
    )
    query = (
        sa.select(Proposal).join(ranked, ranked.c.id == Proposal.id)
        .where(ranked.c.rank <= per_author).order_by(Proposal.created_at, Proposal.id)
    )
    return session.execute(query).scalars().all()


def _queue_base(question_ids, moderator_id, now):
    query = sa.select(Proposal).where(Proposal.status == "pending").where(
        sa.or_(Proposal.locked_until.is_(None), Proposal.locked_until <= now, Proposal.locked_by == moderator_id)
    )
    if question_ids is not None:
        query = query.where(Proposal.question_id.in_(list(question_ids)))
    return query


def take_lock(session, proposal_id, moderator_id, now, until) -> bool:
    """Lock a proposal for a moderator unless someone else holds a live lock (race-free)."""
    result = session.execute(
        sa.update(Proposal)
        .where(Proposal.id == proposal_id)
        .where(sa.or_(Proposal.locked_until.is_(None), Proposal.locked_until <= now, Proposal.locked_by == moderator_id))
        .values(locked_by=moderator_id, locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def proposal_for_update(session, proposal_id) -> Proposal | None:
    query = sa.select(Proposal).where(Proposal.id == proposal_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


_OUT_COLUMNS = ("id", "question_id", "author_id", "content", "original_content", "status", "refusal_reason", "tags",
                "country", "language", "created_at", "moderated_at")


def accepted_by_ids(session, ids):
    """Accepted proposals by id: rows of the columns a proposal's answer shows (no ORM
    objects, no search vector: this is the read behind every ranked page)."""
    if not ids:
        return []
    p = Proposal.__table__
    return session.execute(
        sa.select(*(p.c[name] for name in _OUT_COLUMNS)).where(p.c.id.in_(ids), p.c.status == "accepted")
    ).all()


def pending_counts(session, question_ids=None):
    """Pending proposals per question (for moderators' daily summaries)."""
    query = sa.select(Proposal.question_id, sa.func.count()).where(Proposal.status == "pending")
    if question_ids is not None:
        query = query.where(Proposal.question_id.in_(list(question_ids)))
    return {qid: n for qid, n in session.execute(query.group_by(Proposal.question_id))}
