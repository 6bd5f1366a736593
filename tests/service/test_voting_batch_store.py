"""services/voting/persistence.py's batch statements (lock_batch, lock_proposals,
votes_of_pairs, write_batch) on the real PostgreSQL (one multi-statement round trip over arrays) and on
SQLite (the development fallback, statement by statement): same results on both."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.db import make_engine
from services.voting import persistence as store

NOW = datetime.now(timezone.utc)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, db_urls, tmp_path):
    if request.param == "postgresql":
        engine = make_engine(db_urls["voting"])
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'voting.sqlite3'}")
        store.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _seed(session):
    qid = str(uuid.uuid4())
    session.add(store.Question(id=qid, country="FR", language="fr", starts_at=NOW - timedelta(days=1),
                               ends_at=NOW + timedelta(days=1), votes_target=None))
    ids = sorted(str(uuid.uuid4()) for _ in range(3))
    for i, pid in enumerate(ids):
        session.add(store.Proposal(id=pid, question_id=qid, author_id="a", status="accepted", status_at=NOW,
                                   created_at=NOW, counts=store.empty_counts(),
                                   emerged_at=NOW - timedelta(hours=1) if i == 2 else None))
    session.flush()
    return qid, ids


def _vote(pid, qid, voter, key, quals=(), trusted=True):
    return {"pid": pid, "qid": qid, "voter": voter, "user_id": None, "key": key, "quals": list(quals),
            "trusted": trusted, "seq": False}


def _values(votes_trusted, emerged_at=None):
    counts = store.empty_counts()
    counts["trusted"]["agree"] = votes_trusted
    return {"counts": counts, "votes_all": votes_trusted, "votes_trusted": votes_trusted, "votes_sequence": 0,
            "top_score": 0.5, "top_score_lb": 0.25, "top_score_ub": 0.75, "controversy_lb": -0.5,
            "controversy_ub": 0.5, "zone": "limbo", "emerged_at": emerged_at}


def test_batch_reads_and_writes(engine):
    with Session(engine) as session, session.begin():
        qid, ids = _seed(session)
        session.execute(sa.insert(store.Vote.__table__).values(
            proposal_id=ids[0], question_id=qid, voter="s:old", key="disagree", qualifications=[], trusted=True,
            sequence=False, created_at=NOW, updated_at=NOW))
        rows = store.lock_proposals(session, {ids[2], ids[0], "unknown"})
        assert [r.id for r in rows] == [ids[0], ids[2]]  # id order, unknown ids absent
        assert rows[0].q_id == qid and rows[0].q_country == "FR" and rows[0].counts == store.empty_counts()
        found = store.votes_of_pairs(session, {(ids[0], "s:old"), (ids[0], "s:new"), (ids[1], "s:old")})
        assert list(found) == [(ids[0], "s:old")] and found[(ids[0], "s:old")].key == "disagree"
        emerged = NOW.replace(microsecond=0)
        store.write_batch(
            session,
            inserts=[_vote(ids[0], qid, "s:new", "agree", ["likeIt"]), _vote(ids[1], qid, "u:1", "neutral")],
            updates=[_vote(ids[0], qid, "s:old", "agree", ["doable"], trusted=False)],
            proposals=[dict(_values(2, emerged), pid=ids[0]), dict(_values(1), pid=ids[1]),
                       dict(_values(7, emerged), pid=ids[2])])
    with Session(engine) as session:
        votes = {(v.proposal_id, v.voter): v  # the database is shared with other tests: this test's rows only
                 for v in session.scalars(sa.select(store.Vote).where(store.Vote.proposal_id.in_(ids)))}
        assert {k: (v.key, v.qualifications, v.trusted) for k, v in votes.items()} == {
            (ids[0], "s:old"): ("agree", ["doable"], False), (ids[0], "s:new"): ("agree", ["likeIt"], True),
            (ids[1], "u:1"): ("neutral", [], True)}
        p = {r.id: r for r in session.scalars(sa.select(store.Proposal).where(store.Proposal.id.in_(ids)))}
        assert [p[i].votes_trusted for i in ids] == [2, 1, 7]
        assert p[ids[0]].counts["trusted"]["agree"] == 2 and p[ids[0]].top_score_lb == 0.25
        assert store.aware(p[ids[0]].emerged_at) == emerged  # set by the batch
        assert p[ids[1]].emerged_at is None
        assert store.aware(p[ids[2]].emerged_at) == NOW - timedelta(hours=1)  # an earlier emergence is kept


def test_a_batch_reads_its_proposals_and_votes_at_once(engine):
    with Session(engine) as session, session.begin():
        qid, ids = _seed(session)
        for pid, voter, key, quals, trusted in ((ids[0], "s:a", "disagree", ["impossible"], True),
                                                (ids[0], "u:b", "agree", [], False),
                                                (ids[2], "s:a", "neutral", ["doNotCare"], True),
                                                (ids[1], "s:other", "agree", [], True)):  # not asked for
            session.execute(sa.insert(store.Vote.__table__).values(
                proposal_id=pid, question_id=qid, voter=voter, key=key, qualifications=quals, trusted=trusted,
                sequence=voter == "u:b", created_at=NOW, updated_at=NOW))
        pairs = {(ids[2], "s:a"), (ids[0], "s:a"), (ids[0], "u:b"), (ids[0], "s:none"), (ids[1], "s:a"),
                 ("unknown", "s:a")}
        rows, found = store.lock_batch(session, pairs)
        assert [r.id for r in rows] == [ids[0], ids[1], ids[2]]  # id order, unknown ids absent
        assert rows[0].q_id == qid and rows[0].q_country == "FR" and rows[0].counts == store.empty_counts()
        assert store.aware(rows[2].emerged_at) == NOW - timedelta(hours=1) and rows[1].emerged_at is None
        assert {pair: (v.key, v.qualifications, v.trusted, v.sequence) for pair, v in found.items()} == {
            (ids[0], "s:a"): ("disagree", ["impossible"], True, False),
            (ids[0], "u:b"): ("agree", [], False, True),
            (ids[2], "s:a"): ("neutral", ["doNotCare"], True, False)}
        # the same as the two reads it stands for
        assert [tuple(getattr(r, c) for c in store.LOCKED_COLUMNS) for r in rows] == \
            [tuple(getattr(r, c) for c in store.LOCKED_COLUMNS) for r in store.lock_proposals(session, set(ids))]
        assert set(found) == set(store.votes_of_pairs(session, pairs))
        assert store.lock_batch(session, set()) == ([], {})


def test_an_empty_batch_writes_nothing(engine):
    with Session(engine) as session, session.begin():
        _seed(session)
        assert store.write_batch(session, inserts=[], updates=[], proposals=[]) == {}
        assert store.lock_proposals(session, set()) == [] and store.votes_of_pairs(session, set()) == {}


def test_the_questions_counters_are_added_and_their_totals_read_in_the_same_write(engine):
    with Session(engine) as session, session.begin():
        first, _ = _seed(session)
        second, _ = _seed(session)
        idle = str(uuid.uuid4())
        assert store.write_batch(session, [], [], [], counters={second: 2, first: 3, idle: 0}) == {first: 3, second: 2}
        totals = [store.write_batch(session, [], [], [], counters={first: 1})[first] for _ in range(12)]
        assert totals == list(range(4, 16))  # whichever shard each batch hit, the total is the sum
    with Session(engine) as session:
        shards = session.execute(sa.select(store.QuestionCounter.shard, store.QuestionCounter.votes)
                                 .where(store.QuestionCounter.question_id == first)).all()
        assert sum(v for _, v in shards) == 15 and len(shards) > 1  # spread over shards (12 draws)
        assert session.scalar(sa.select(sa.func.count()).select_from(store.QuestionCounter)
                              .where(store.QuestionCounter.question_id == idle)) == 0


def test_a_proposal_first_seen_by_two_transactions_is_created_once(db_urls):
    """Two events about a new proposal handled at once: the second transaction waits for
    the first and then finds the proposal, instead of inserting it again."""
    import threading

    engine = make_engine(db_urls["voting"])
    pid, found = str(uuid.uuid4()), {}
    with Session(engine) as first, first.begin():
        qid, _ = _seed(first)
        assert store.proposal_for_update(first, pid) is None
        first.add(store.Proposal(id=pid, question_id=qid, author_id="a", status="pending", status_at=NOW,
                                 created_at=NOW, counts=store.empty_counts()))
        first.flush()

        def second():
            with Session(engine) as session, session.begin():
                found["row"] = store.proposal_for_update(session, pid)
                found["status"] = found["row"].status if found["row"] is not None else None

        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting for the first transaction
    other.join(10)
    engine.dispose()
    assert found["status"] == "pending"


def test_a_batch_waiting_for_a_lock_reads_the_votes_committed_meanwhile(db_urls):
    """A batch whose proposal is locked by another transaction (a single vote, another
    batch) waits, then reads that transaction's vote: it must not count the voter twice."""
    import threading

    engine = make_engine(db_urls["voting"])
    with Session(engine) as session, session.begin():
        qid, ids = _seed(session)
    got = {}
    try:
        with Session(engine) as first, first.begin():
            rows, found = store.lock_batch(first, {(ids[0], "s:racer")})  # holds the lock until it commits
            assert [r.id for r in rows] == [ids[0]] and found == {}
            first.execute(sa.insert(store.Vote.__table__).values(
                proposal_id=ids[0], question_id=qid, voter="s:racer", key="agree", qualifications=[], trusted=True,
                sequence=False, created_at=NOW, updated_at=NOW))

            def second():
                with Session(engine) as session, session.begin():
                    got["rows"], got["found"] = store.lock_batch(session, {(ids[0], "s:racer")})

            other = threading.Thread(target=second)
            other.start()
            other.join(0.5)
            assert other.is_alive()  # waiting for the first transaction's lock
        other.join(10)
    finally:
        engine.dispose()
    assert [r.id for r in got["rows"]] == [ids[0]]
    assert got["found"][(ids[0], "s:racer")].key == "agree"  # committed while the batch waited: seen
