"""Voting service on the real broker and PostgreSQL, fed by the real proposals service's
events (never by reading its tables)."""
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from common.rpc_client import RemoteError
from common.testing import wait_until
from services.proposals.service import ProposalsService
from services.voting import domain, scoring
from services.voting.service import VotingService

ADMIN = {"user_id": "admin-1", "roles": ["citizen", "admin"], "moderated_questions": []}
SECRET = "test-vote-key-secret-0123456789"


@pytest.fixture
def services(run_service):
    run_service(ProposalsService)
    return run_service(VotingService, {"VOTE_KEY_SECRET": SECRET,
                                       "VOTING": {"emergence_min_trusted_votes": 5, "vote_milestones": [3, 6],
                                                  "question_target_fractions": [0.5, 1.0]}})


def _question(rpc, **overrides):
    now = datetime.now(timezone.utc)
    body = {"slug": f"v-{uuid.uuid4().hex[:8]}", "title": "Question de vote", "country": "FR", "language": "fr",
            "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=10)).isoformat(), "votes_target": 8}
    body.update(overrides)
    return rpc.proposals.create_question(ADMIN, body)


def _accepted(rpc, question, author="author-1", text=None):
    caller = {"user_id": author, "roles": ["citizen"], "moderated_questions": []}
    content = text or f"Il faut essayer l'idée numéro {uuid.uuid4().hex[:6]}"
    proposal = rpc.proposals.submit_proposal(caller, question["id"], {"content": content})["proposal"]
    rpc.proposals.accept_proposal(ADMIN, proposal["id"], {})
    _wait_votable(rpc, proposal["id"])
    return proposal


def _wait_votable(rpc, proposal_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return rpc.voting.results(proposal_id)
        except RemoteError as exc:
            assert exc.exc_type == "NotFound"
            time.sleep(0.05)
    raise AssertionError("voting never learnt the accepted proposal")


def voter(user=None, session=None):
    return {"user_id": user, "session_id": session or uuid.uuid4().hex}


def test_voting_learns_accepted_proposals_from_events_only(services, rpc):
    question = _question(rpc)
    pending = rpc.proposals.submit_proposal({"user_id": "a", "roles": ["citizen"]}, question["id"],
                                            {"content": "Il faut une proposition en attente"})["proposal"]
    time.sleep(0.5)
    with pytest.raises(RemoteError) as err:
        rpc.voting.vote(voter(), pending["id"], {"key": "agree"})
    assert err.value.exc_type == "Conflict"  # known, but pending
    with pytest.raises(RemoteError) as err:
        rpc.voting.vote(voter(), str(uuid.uuid4()), {"key": "agree"})
    assert err.value.exc_type == "NotFound"
    proposal = _accepted(rpc, question)
    assert rpc.voting.vote(voter(), proposal["id"], {"key": "agree"})["action"] == "cast"
    rpc.proposals.refuse_proposal(ADMIN, proposal["id"], {"reason": "other"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            rpc.voting.vote(voter(), proposal["id"], {"key": "agree"})
            time.sleep(0.05)
        except RemoteError as exc:
            assert exc.exc_type == "Conflict"
            break
    else:
        raise AssertionError("a refused proposal still takes votes")


def test_vote_rules_and_counts(services, rpc):
    question = _question(rpc)
    proposal = _accepted(rpc, question)
    v = voter()
    with pytest.raises(RemoteError) as err:
        rpc.voting.vote(v, proposal["id"], {"key": "agree", "qualifications": ["noWay"]})
    assert err.value.exc_type == "ValidationFailed" and "qualifications" in err.value.exc_args[0]
    assert "noWay" in err.value.exc_args[0]["qualifications"]
    with pytest.raises(RemoteError) as err:
        rpc.voting.vote(v, proposal["id"], {"key": "maybe"})
    assert "key" in err.value.exc_args[0]
    assert rpc.voting.vote(v, proposal["id"], {"key": "agree", "qualifications": ["likeIt"]})["action"] == "cast"
    assert rpc.voting.vote(v, proposal["id"], {"key": "agree", "qualifications": ["likeIt"]})["action"] == "unchanged"
    assert rpc.voting.vote(v, proposal["id"], {"key": "agree", "qualifications": ["likeIt", "doable"]})["action"] == "qualified"
    results = rpc.voting.results(proposal["id"])
    assert results["counts"]["all"]["agree"] == 1 and results["counts"]["all"]["doable"] == 1
    changed = rpc.voting.vote(v, proposal["id"], {"key": "disagree"})
    assert changed["action"] == "changed" and changed["qualifications"] == []
    counts = rpc.voting.results(proposal["id"])["counts"]["all"]
    assert (counts["agree"], counts["disagree"], counts["likeIt"], counts["doable"]) == (0, 1, 0, 0)
    assert rpc.voting.remove_vote(v, proposal["id"])["action"] == "removed"
    assert rpc.voting.results(proposal["id"])["votes"]["all"] == 0
    with pytest.raises(RemoteError) as err:
        rpc.voting.remove_vote(v, proposal["id"])
    assert err.value.exc_type == "NotFound"


def test_trust_levels_and_scores_use_trusted_counts(services, rpc):
    question = _question(rpc)
    proposal = _accepted(rpc, question)
    troll = voter()
    rpc.voting.vote(troll, proposal["id"], {"key": "disagree", "proposal_key": "forged"})
    listing_voter = voter()
    listing_key = rpc.voting.proposal_keys(listing_voter["session_id"], [proposal["id"]])[proposal["id"]]
    assert rpc.voting.vote(listing_voter, proposal["id"], {"key": "agree", "proposal_key": listing_key})["trusted"]
    seq_voter = voter()
    item = next(i for i in rpc.voting.sequence(question["id"], seq_voter)["items"] if i["proposal_id"] == proposal["id"])
    assert rpc.voting.vote(seq_voter, proposal["id"], {"key": "agree", "qualifications": ["likeIt"],
                                                       "proposal_key": item["proposal_key"]})["trusted"]
    stolen = rpc.voting.vote(voter(), proposal["id"], {"key": "disagree", "proposal_key": item["proposal_key"]})
    assert stolen["trusted"] is False  # a key is bound to its session
    results = rpc.voting.results(proposal["id"])
    assert results["votes"] == {"all": 4, "trusted": 2, "sequence": 1}
    assert results["counts"]["trusted"]["disagree"] == 0 and results["counts"]["all"]["disagree"] == 2
    expected = scoring.scores({"agree": 2, "likeIt": 1})
    assert results["top_score"]["score"] == pytest.approx(expected["top_score"].value, abs=1e-6)
    assert results["top_score"]["lower_bound"] == pytest.approx(expected["top_score"].lower, abs=1e-6)
    assert results["zone"] == expected["zone"]


def test_concurrent_identical_votes_leave_exactly_one(services, rpc, db_urls):
    question = _question(rpc)
    proposal = _accepted(rpc, question)
    v = voter(user="user-concurrent")
    with ThreadPoolExecutor(max_workers=20) as pool:
        actions = list(pool.map(lambda _: rpc.voting.vote(v, proposal["id"], {"key": "agree"})["action"], range(20)))
    assert sorted(actions).count("cast") == 1 and actions.count("unchanged") == 19
    engine = sa.create_engine(db_urls["voting"])
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM votes WHERE proposal_id = :p"), {"p": proposal["id"]}).scalar_one()
    engine.dispose()
    assert stored == 1
    assert rpc.voting.results(proposal["id"])["votes"]["all"] == 1


def test_sequence_serves_unvoted_proposals_with_keys(services, rpc):
    question = _question(rpc)
    proposals = [_accepted(rpc, question, author=f"author-{i}") for i in range(14)]
    v = voter()
    served = rpc.voting.sequence(question["id"], v)["items"]
    ids = [i["proposal_id"] for i in served]
    assert len(ids) == 12 and len(set(ids)) == 12 and set(ids) <= {p["id"] for p in proposals}
    for item in served:
        trusted, from_sequence = domain.check_proposal_key(SECRET, item["proposal_key"], item["proposal_id"], v["session_id"])
        assert trusted and from_sequence
    for item in served[:5]:
        rpc.voting.vote(v, item["proposal_id"], {"key": "agree", "proposal_key": item["proposal_key"]})
    again = {i["proposal_id"] for i in rpc.voting.sequence(question["id"], v)["items"]}
    assert not again & set(ids[:5]) and len(again) == 9
    with pytest.raises(RemoteError) as err:
        rpc.voting.sequence(str(uuid.uuid4()), v)
    assert err.value.exc_type == "NotFound"


def test_ranking_orders_by_lower_bounds(services, rpc):
    question = _question(rpc)
    loved, hated, split = (_accepted(rpc, question, author=f"a{i}") for i in range(3))
    for i in range(6):
        s = voter()
        keys = rpc.voting.proposal_keys(s["session_id"], [loved["id"], hated["id"], split["id"]])
        rpc.voting.vote(s, loved["id"], {"key": "agree", "qualifications": ["likeIt"], "proposal_key": keys[loved["id"]]})
        rpc.voting.vote(s, hated["id"], {"key": "disagree", "qualifications": ["noWay"], "proposal_key": keys[hated["id"]]})
        rpc.voting.vote(s, split["id"], {"key": "agree" if i % 2 else "disagree", "proposal_key": keys[split["id"]]})
    popular = [r["proposal_id"] for r in rpc.voting.ranking(question["id"], {"sort": "popular"})["items"]]
    controversial = rpc.voting.ranking(question["id"], {"sort": "controversial"})["items"]
    assert popular == [loved["id"], split["id"], hated["id"]]
    assert controversial[0]["proposal_id"] == split["id"]
    assert rpc.voting.ranking(question["id"], {"sort": "popular", "per_page": 1, "page": 2})["items"][0]["proposal_id"] == split["id"]


def test_emergence_and_milestones_are_published_exactly_once(services, rpc, events):
    recorder = events("voting", ["proposal_emerged", "vote_milestone_reached"])
    question = _question(rpc)
    proposal = _accepted(rpc, question)
    sessions = [voter() for _ in range(8)]

    def agree(s):
        key = rpc.voting.proposal_keys(s["session_id"], [proposal["id"]])[proposal["id"]]
        return rpc.voting.vote(s, proposal["id"], {"key": "agree", "qualifications": ["likeIt", "doable"],
                                                   "proposal_key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(agree, sessions))
    # the emergence threshold is 5 trusted votes in the test config; re-votes change nothing
    list(map(agree, sessions[:3]))
    recorder.wait_for(lambda e: e["event_type"] == "proposal_emerged")
    recorder.wait_for(lambda e: e["data"].get("scope") == "question" and e["data"]["milestone"] == 8)
    time.sleep(1.0)
    emerged = recorder.matching(lambda e: e["event_type"] == "proposal_emerged")
    assert len(emerged) == 1 and emerged[0]["data"]["proposal_id"] == proposal["id"]
    proposal_milestones = sorted(e["data"]["milestone"] for e in recorder.matching(
        lambda e: e["event_type"] == "vote_milestone_reached" and e["data"]["scope"] == "proposal"))
    question_milestones = sorted(e["data"]["milestone"] for e in recorder.matching(
        lambda e: e["event_type"] == "vote_milestone_reached" and e["data"]["scope"] == "question"))
    assert proposal_milestones == [3, 6] and question_milestones == [4, 8]
    assert rpc.voting.results(proposal["id"])["emerged"] is True
    other = _accepted(rpc, question, author="not-emerged")
    ranked = {i["proposal_id"]: i["emerged"] for i in rpc.voting.ranking(question["id"], {"sort": "popular"})["items"]}
    assert ranked == {proposal["id"]: True, other["id"]: False}


def test_anonymous_votes_follow_the_session_into_the_account(services, rpc):
    question = _question(rpc)
    a, b = _accepted(rpc, question, author="x1"), _accepted(rpc, question, author="x2")
    session = uuid.uuid4().hex
    anon = voter(session=session)
    rpc.voting.vote(anon, a["id"], {"key": "agree"})
    rpc.voting.vote(anon, b["id"], {"key": "disagree"})
    account = voter(user="user-merge", session=uuid.uuid4().hex)
    rpc.voting.vote(account, b["id"], {"key": "agree"})  # the account already voted on b
    assert rpc.voting.merge_session(session, "user-merge") == {"moved": 1, "dropped": 1}
    assert rpc.voting.results(a["id"])["votes"]["all"] == 1
    b_results = rpc.voting.results(b["id"])["counts"]["all"]
    assert (b_results["agree"], b_results["disagree"]) == (1, 0)
    mine = {v["proposal_id"]: v["key"] for v in rpc.voting.get_votes(voter(user="user-merge"), [a["id"], b["id"]])}
    assert mine == {a["id"]: "agree", b["id"]: "agree"}
    assert rpc.voting.merge_session(session, "user-merge") == {"moved": 0, "dropped": 0}


def test_question_must_be_open(services, rpc, db_urls):
    question = _question(rpc)
    proposal = _accepted(rpc, question)
    assert rpc.voting.vote(voter(), proposal["id"], {"key": "neutral"})["action"] == "cast"
    engine = sa.create_engine(db_urls["voting"])  # the question ends (voting's own copy)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE questions SET ends_at = :t WHERE id = :q"),
                     {"t": datetime.now(timezone.utc) - timedelta(seconds=1), "q": question["id"]})
    engine.dispose()
    with pytest.raises(RemoteError) as err:
        rpc.voting.vote(voter(), proposal["id"], {"key": "agree"})
    assert err.value.exc_type == "Conflict" and "not open" in err.value.exc_args[0]
    assert rpc.voting.results(proposal["id"])["votes"]["all"] == 1


def test_voters_pages_logged_in_agreeing_voters(services, rpc):
    question = _question(rpc)
    proposal = _accepted(rpc, question)
    users = sorted(f"user-{i:02d}-{uuid.uuid4().hex[:4]}" for i in range(7))
    for user in users:
        rpc.voting.vote(voter(user=user), proposal["id"], {"key": "agree"})
    rpc.voting.vote(voter(user="zz-disagrees"), proposal["id"], {"key": "disagree"})
    rpc.voting.vote(voter(), proposal["id"], {"key": "agree"})  # anonymous: nobody to notify
    first = rpc.voting.voters(proposal["id"], "agree", None, 3)
    second = rpc.voting.voters(proposal["id"], "agree", first[-1], 3)
    third = rpc.voting.voters(proposal["id"], "agree", second[-1], 3)
    assert first + second + third == users
    assert rpc.voting.voters(proposal["id"], "disagree") == ["zz-disagrees"]
    with pytest.raises(RemoteError) as err:
        rpc.voting.voters(proposal["id"], "maybe")
    assert err.value.exc_type == "ValidationFailed"


# -- vote_batch: what the gateway sends under load ---------------------------------------------------
def _refused_as(rpc, proposal_id):
    try:
        rpc.voting.vote(voter(), proposal_id, {"key": "agree"})
    except RemoteError as exc:
        return exc.exc_type
    return None


def _keyed(rpc, v, proposal_id):
    return rpc.voting.proposal_keys(v["session_id"], [proposal_id])[proposal_id]


def test_a_batch_decides_each_vote_as_a_single_call_would(services, rpc, events):
    recorder = events("voting", ["vote_cast", "vote_changed"])
    question = _question(rpc)
    a, b = _accepted(rpc, question, author="b1"), _accepted(rpc, question, author="b2")
    pending = rpc.proposals.submit_proposal({"user_id": "b3", "roles": ["citizen"]}, question["id"],
                                            {"content": "Il faut une proposition encore en attente"})["proposal"]
    wait_until(lambda: _refused_as(rpc, pending["id"]) == "Conflict")  # voting has learnt it (an event)
    v1, v2 = voter(), voter(user="batch-user")
    outcomes = rpc.voting.vote_batch([
        {"voter": v1, "proposal_id": b["id"], "data": {"key": "agree", "proposal_key": _keyed(rpc, v1, b["id"])}},
        {"voter": v1, "proposal_id": a["id"], "data": {"key": "maybe"}},                       # invalid key
        {"voter": v2, "proposal_id": a["id"], "data": {"key": "agree"}},
        {"voter": v2, "proposal_id": a["id"], "data": {"key": "disagree"}},                    # same voter again
        {"voter": v1, "proposal_id": str(uuid.uuid4()), "data": {"key": "agree"}},             # unknown
        {"voter": v1, "proposal_id": pending["id"], "data": {"key": "agree"}},                 # not accepted
        {"voter": {"session_id": "x"}, "proposal_id": a["id"], "data": {"key": "agree"}},      # bad voter
    ])
    assert [o.get("error", {}).get("exc_type") for o in outcomes] == [
        None, "ValidationFailed", None, None, "NotFound", "Conflict", "ValidationFailed"]
    assert outcomes[0]["result"] == {"proposal_id": b["id"], "key": "agree", "qualifications": [],
                                     "trusted": True, "action": "cast"}
    assert "key" in outcomes[1]["error"]["exc_args"][0]
    assert "session_id" in outcomes[6]["error"]["exc_args"][0]
    assert [outcomes[2]["result"]["action"], outcomes[3]["result"]["action"]] == ["cast", "changed"]
    counts = rpc.voting.results(a["id"])["counts"]["all"]
    assert (counts["agree"], counts["disagree"]) == (0, 1)  # in arrival order: the voter's last word
    assert rpc.voting.results(b["id"])["counts"]["trusted"]["agree"] == 1
    recorder.wait_for(lambda e: e["event_type"] == "vote_changed")
    time.sleep(0.5)
    assert sorted(e["event_type"] for e in recorder.all) == ["vote_cast", "vote_cast", "vote_changed"]


def test_batches_count_question_milestones_once(services, rpc, events):
    recorder = events("voting", ["vote_milestone_reached"])
    question = _question(rpc)  # votes_target 8: question milestones at 4 and 8
    proposals = [_accepted(rpc, question, author=f"m{i}") for i in range(3)]
    sessions = [voter() for _ in range(9)]

    def batch(members):
        return rpc.voting.vote_batch([
            {"voter": s, "proposal_id": p["id"], "data": {"key": "agree", "proposal_key": _keyed(rpc, s, p["id"])}}
            for s in members for p in proposals[:1]])

    with ThreadPoolExecutor(max_workers=3) as pool:  # concurrent batches on one proposal and one question
        results = list(pool.map(batch, [sessions[0:3], sessions[3:6], sessions[6:9]]))
    assert all(o["result"]["action"] == "cast" for r in results for o in r)
    recorder.wait_for(lambda e: e["data"]["scope"] == "question" and e["data"]["milestone"] == 8)
    time.sleep(0.5)
    question_milestones = sorted(e["data"]["milestone"] for e in recorder.all if e["data"]["scope"] == "question")
    proposal_milestones = sorted(e["data"]["milestone"] for e in recorder.all if e["data"]["scope"] == "proposal")
    assert question_milestones == [4, 8] and proposal_milestones == [3, 6]
    assert rpc.voting.results(proposals[0]["id"])["votes"]["trusted"] == 9


def test_one_batch_crossing_several_proposals_milestones_publishes_each_once(services, rpc, events):
    """The batch path records the proposals' milestones it crossed in one statement: one
    event per proposal and milestone, none again when a batch crosses a recorded one."""
    recorder = events("voting", ["vote_milestone_reached"])
    question = _question(rpc, votes_target=1000)  # question milestones out of the way
    proposals = [_accepted(rpc, question, author=f"b{i}") for i in range(3)]
    sessions = [voter() for _ in range(3)]
    outcomes = rpc.voting.vote_batch([
        {"voter": s, "proposal_id": p["id"], "data": {"key": "agree", "proposal_key": _keyed(rpc, s, p["id"])}}
        for s in sessions for p in proposals])
    assert [o["result"]["action"] for o in outcomes] == ["cast"] * 9
    recorder.wait_for(lambda e: len(recorder.all) >= 3)
    first = proposals[0]["id"]
    assert rpc.voting.remove_vote(sessions[0], first)["action"] == "removed"  # 2 trusted votes: below 3
    again = voter()
    outcomes = rpc.voting.vote_batch([
        {"voter": again, "proposal_id": first, "data": {"key": "agree", "proposal_key": _keyed(rpc, again, first)}},
        {"voter": sessions[0], "proposal_id": proposals[1]["id"],
         "data": {"key": "disagree", "proposal_key": _keyed(rpc, sessions[0], proposals[1]["id"])}}])  # no crossing
    assert [o["result"]["action"] for o in outcomes] == ["cast", "changed"]
    assert rpc.voting.results(first)["votes"]["trusted"] == 3  # the milestone 3 crossed a second time
    time.sleep(1.0)
    published = sorted((e["data"]["proposal_id"], e["data"]["milestone"], e["data"]["votes"]) for e in recorder.all)
    assert published == sorted((p["id"], 3, 3) for p in proposals)


def test_a_question_milestone_crossed_unseen_is_recorded_by_the_next_vote(services, rpc, events, db_urls):
    """Two votes on different proposals of a question, committed at once, each read the
    question's total without the other's vote: their sum can cross a milestone neither saw.
    The next vote that reads the total records it."""
    recorder = events("voting", ["vote_milestone_reached"])
    question = _question(rpc)  # votes_target 8: question milestones at 4 and 8
    proposal = _accepted(rpc, question)

    def trusted(v):
        return {"voter": v, "proposal_id": proposal["id"],
                "data": {"key": "agree", "proposal_key": _keyed(rpc, v, proposal["id"])}}

    for _ in range(3):
        one = trusted(voter())
        assert rpc.voting.vote(one["voter"], proposal["id"], one["data"])["action"] == "cast"
    engine = sa.create_engine(db_urls["voting"])
    with engine.begin() as conn:  # the other transaction's vote: the total is now 4, unseen
        conn.execute(sa.text("INSERT INTO question_counters (question_id, shard, votes) VALUES (:q, 0, 1) "
                             "ON CONFLICT (question_id, shard) DO UPDATE SET votes = question_counters.votes + 1"),
                     {"q": question["id"]})
    engine.dispose()
    one = trusted(voter())
    rpc.voting.vote(one["voter"], proposal["id"], one["data"])  # 4 -> 5: crosses nothing
    reached = recorder.wait_for(lambda e: e["data"]["scope"] == "question" and e["data"]["milestone"] == 4)
    assert reached["data"]["votes"] == 5
    outcomes = rpc.voting.vote_batch([trusted(voter()) for _ in range(3)])  # 5 -> 8, in a batch
    assert [o["result"]["action"] for o in outcomes] == ["cast"] * 3
    recorder.wait_for(lambda e: e["data"]["scope"] == "question" and e["data"]["milestone"] == 8)
    time.sleep(0.5)
    assert sorted(e["data"]["milestone"] for e in recorder.all
                  if e["data"]["scope"] == "question" and e["data"]["question_id"] == question["id"]) == [4, 8]


def test_a_question_milestone_crossed_unseen_by_the_last_votes_is_published_by_the_sweep(services, rpc, events,
                                                                                         db_urls):
    """No vote comes after the ones that crossed it unseen: the periodic sweep records and
    publishes it, once however often it runs."""
    from nameko.testing.services import entrypoint_hook

    recorder = events("voting", ["vote_milestone_reached"])
    question = _question(rpc)  # votes_target 8: question milestones at 4 and 8
    proposal = _accepted(rpc, question)
    for _ in range(3):
        v = voter()
        assert rpc.voting.vote(v, proposal["id"], {"key": "agree", "proposal_key": _keyed(rpc, v, proposal["id"])}
                               )["action"] == "cast"
    engine = sa.create_engine(db_urls["voting"])
    with engine.begin() as conn:  # the other transaction's last vote: the total is now 4, unseen
        conn.execute(sa.text("INSERT INTO question_counters (question_id, shard, votes) VALUES (:q, 0, 1) "
                             "ON CONFLICT (question_id, shard) DO UPDATE SET votes = question_counters.votes + 1"),
                     {"q": question["id"]})
    engine.dispose()
    time.sleep(0.5)
    assert not [e for e in recorder.all
                if e["data"]["scope"] == "question" and e["data"]["question_id"] == question["id"]]
    for _ in range(2):
        with entrypoint_hook(services, "sweep_question_milestones") as sweep:
            sweep()
    reached = recorder.wait_for(lambda e: e["data"]["scope"] == "question" and e["data"]["question_id"] == question["id"])
    assert (reached["data"]["milestone"], reached["data"]["votes"], reached["data"]["votes_target"]) == (4, 4, 8)
    time.sleep(0.5)
    assert [e["data"]["milestone"] for e in recorder.all
            if e["data"]["scope"] == "question" and e["data"]["question_id"] == question["id"]] == [4]


def test_concurrent_batches_on_crossing_proposals_do_not_deadlock(services, rpc):
    question = _question(rpc)
    proposals = [_accepted(rpc, question, author=f"d{i}") for i in range(4)]

    def batch(order):
        s = voter()
        return rpc.voting.vote_batch([{"voter": s, "proposal_id": proposals[i]["id"], "data": {"key": "agree"}}
                                      for i in order])

    orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(batch, orders))
    assert all(o["result"]["action"] == "cast" for r in results for o in r)
    assert [rpc.voting.results(p["id"])["votes"]["all"] for p in proposals] == [12] * 4


def test_a_malformed_batch_is_refused_whole(services, rpc):
    for bad in ([], [{"voter": voter(), "data": {"key": "agree"}}], "votes", [{}] * 201):
        with pytest.raises(RemoteError) as err:
            rpc.voting.vote_batch(bad)
        assert err.value.exc_type == "ValidationFailed"


def test_a_batch_counts_and_scores_exactly_as_single_votes_do(services, rpc, events):
    """The same votes, one proposal voted through ``vote``, the other through one
    ``vote_batch``: identical counts, scores, zone and emergence. Among them: votes that
    existed before the batch and change in it, and one voter voting twice in it."""
    recorder = events("voting", ["proposal_emerged"])
    question = _question(rpc)
    single, batched = _accepted(rpc, question, author="eq1"), _accepted(rpc, question, author="eq2")
    sessions = [voter() for _ in range(8)]
    before = [(s, "disagree", []) for s in sessions[:2]]  # already there when the batch comes
    script = [(sessions[0], "agree", ["likeIt"]), (sessions[1], "disagree", ["noWay"])] + [
        (s, "agree", ["likeIt", "doable"]) for s in sessions[2:8]] + [(sessions[3], "neutral", [])]

    def body(s, proposal, key, quals):
        return {"key": key, "qualifications": quals, "proposal_key": _keyed(rpc, s, proposal["id"])}

    for s, key, quals in before:
        for proposal in (single, batched):
            rpc.voting.vote(s, proposal["id"], body(s, proposal, key, quals))
    singles = [rpc.voting.vote(s, single["id"], body(s, single, k, q))["action"] for s, k, q in script]
    outcomes = rpc.voting.vote_batch([{"voter": s, "proposal_id": batched["id"], "data": body(s, batched, k, q)}
                                      for s, k, q in script])
    assert [o["result"]["action"] for o in outcomes] == singles
    assert singles[:2] == ["changed", "qualified"] and singles[-1] == "changed"
    a, b = rpc.voting.results(single["id"]), rpc.voting.results(batched["id"])
    for key in ("counts", "votes", "rates", "top_score", "controversy", "rejection", "zone", "emerged"):
        assert a[key] == b[key], key
    assert b["emerged"] is True and b["votes"]["trusted"] == 8  # 5 trusted agrees: emerged in the batch
    recorder.wait_for(lambda e: e["data"]["proposal_id"] == batched["id"])
    time.sleep(0.5)
    assert sorted(e["data"]["proposal_id"] for e in recorder.all) == sorted([single["id"], batched["id"]])
