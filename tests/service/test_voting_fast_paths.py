"""Voting service with small sequence pools: the bounded candidate pools still serve only
unvoted proposals, one new proposal per author; the ranking's total is the kept count of
accepted proposals; get_votes reads all the caller's votes at once. Real broker, PostgreSQL
and proposals service."""
import uuid

import pytest
import sqlalchemy as sa

from common.rpc_client import RemoteError
from services.proposals.service import ProposalsService
from services.voting.service import VotingService
from tests.service.test_voting_service import ADMIN, SECRET, _accepted, _question, voter


@pytest.fixture
def services(run_service):
    run_service(ProposalsService)
    run_service(VotingService, {"VOTE_KEY_SECRET": SECRET,
                                "VOTING": {"sequence": {"new_pool": 3, "tested_pool": 2, "controversy_pool": 1,
                                                        "fill_pool": 3, "pool_ttl": 60}}})


def test_small_pools_still_exclude_voted_proposals_and_keep_one_new_per_author(services, rpc):
    question = _question(rpc)
    # 16 proposals, authors shared by pairs: the new slots may take one per author
    proposals = [_accepted(rpc, question, author=f"pair-{i // 2}") for i in range(16)]
    ids = [p["id"] for p in proposals]
    v = voter()
    first = [i["proposal_id"] for i in rpc.voting.sequence(question["id"], v)["items"]]
    assert len(first) == 12 and len(set(first)) == 12
    authors = {p["id"]: p["author_id"] for p in proposals}
    new_slots = first[:4]  # every proposal is new (no sequence votes): new slots, oldest first
    assert len({authors[i] for i in new_slots}) == 4
    assert new_slots == [ids[0], ids[2], ids[4], ids[6]]
    for item in rpc.voting.sequence(question["id"], v)["items"][:10]:
        rpc.voting.vote(v, item["proposal_id"], {"key": "agree", "proposal_key": item["proposal_key"]})
    voted = {r["proposal_id"] for r in rpc.voting.get_votes(v, ids)}
    assert len(voted) == 10
    # the cached pools (60 s) hold 3 + 2 + 1 + 3 proposals, most of them voted now: the
    # service must read past them, and serve exactly the 6 unvoted proposals
    again = [i["proposal_id"] for i in rpc.voting.sequence(question["id"], v)["items"]]
    assert set(again) == set(ids) - voted and len(again) == 6
    # another voter still gets a full sequence from the same pools
    assert len(rpc.voting.sequence(question["id"], voter())["items"]) == 12


def test_ranking_total_follows_acceptance_and_refusal(services, rpc, db_urls):
    question = _question(rpc)
    proposals = [_accepted(rpc, question, author=f"r{i}") for i in range(3)]
    page = rpc.voting.ranking(question["id"], {"sort": "popular", "per_page": 2})
    assert page["total"] == 3 and len(page["items"]) == 2
    past = rpc.voting.ranking(question["id"], {"sort": "popular", "per_page": 2, "page": 3})
    assert past["items"] == [] and past["total"] == 3  # past the last page: the total still comes
    rpc.proposals.refuse_proposal(ADMIN, proposals[0]["id"], {"reason": "other"})
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and rpc.voting.ranking(question["id"], {})["total"] != 2:
        time.sleep(0.05)
    ranked = rpc.voting.ranking(question["id"], {"sort": "controversial"})
    assert ranked["total"] == 2 and proposals[0]["id"] not in {r["proposal_id"] for r in ranked["items"]}
    engine = sa.create_engine(db_urls["voting"])
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT accepted FROM question_stats WHERE question_id = :q"),
                            {"q": question["id"]}).scalar_one()
    engine.dispose()
    assert kept == 2
    assert rpc.voting.ranking(str(uuid.uuid4()), {})["total"] == 0


def test_get_votes_in_one_read_keeps_the_asked_order(services, rpc):
    question = _question(rpc)
    a, b, c = (_accepted(rpc, question, author=f"g{i}") for i in range(3))
    v = voter()
    rpc.voting.vote(v, c["id"], {"key": "disagree", "qualifications": ["noWay"]})
    rpc.voting.vote(v, a["id"], {"key": "agree"})
    got = rpc.voting.get_votes(v, [a["id"], b["id"], c["id"], a["id"]])
    assert got == [{"proposal_id": a["id"], "key": "agree", "qualifications": [], "trusted": False},
                   {"proposal_id": c["id"], "key": "disagree", "qualifications": ["noWay"], "trusted": False}]
    assert rpc.voting.get_votes(voter(), [a["id"]]) == []


def test_remove_vote_recounts_and_an_unknown_proposal_is_not_found(services, rpc):
    question = _question(rpc)
    p = _accepted(rpc, question)
    v = voter()
    key = rpc.voting.proposal_keys(v["session_id"], [p["id"]])[p["id"]]
    rpc.voting.vote(v, p["id"], {"key": "agree", "qualifications": ["likeIt"], "proposal_key": key})
    assert rpc.voting.results(p["id"])["votes"] == {"all": 1, "trusted": 1, "sequence": 0}
    assert rpc.voting.remove_vote(v, p["id"])["action"] == "removed"
    results = rpc.voting.results(p["id"])
    assert results["votes"] == {"all": 0, "trusted": 0, "sequence": 0}
    assert results["counts"]["trusted"]["likeIt"] == 0
    with pytest.raises(RemoteError) as err:
        rpc.voting.remove_vote(v, str(uuid.uuid4()))
    assert err.value.exc_type == "NotFound"
    with pytest.raises(RemoteError) as err:
        rpc.voting.vote(v, p["id"], {"key": "agree", "qualifications": ["noWay"]})
    assert err.value.exc_type == "ValidationFailed" and "qualifications" in str(err.value)


@pytest.fixture
def quick_pools(run_service):
    run_service(ProposalsService)
    run_service(VotingService, {"VOTE_KEY_SECRET": SECRET, "VOTING": {"sequence": {"pool_ttl": 0.3}}})


def test_stale_pools_are_served_then_refreshed_in_the_background(quick_pools, rpc, db_urls):
    question = _question(rpc)
    first = _accepted(rpc, question, author="bg-1")
    assert [i["proposal_id"] for i in rpc.voting.sequence(question["id"], voter())["items"]] == [first["id"]]
    # a proposal appears without this process handling its event (as when another voting
    # process handled it): only the pools' age can bring it in
    engine = sa.create_engine(db_urls["voting"])
    hidden = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO proposals (id, question_id, author_id, status, status_at, created_at, keywords, counts, "
            "votes_all, votes_trusted, votes_sequence, top_score, top_score_lb, controversy_lb, zone) "
            "SELECT :id, question_id, 'bg-2', status, status_at, created_at, keywords, counts, 0, 0, 0, top_score, "
            "top_score_lb, controversy_lb, zone FROM proposals WHERE id = :first"), {"id": hidden, "first": first["id"]})
    engine.dispose()
    import time
    time.sleep(0.4)  # the pools are stale now: served once more, refreshed meanwhile
    assert hidden not in {i["proposal_id"] for i in rpc.voting.sequence(question["id"], voter())["items"]}
    deadline = time.monotonic() + 5
    seen = False
    while time.monotonic() < deadline and not seen:
        seen = hidden in {i["proposal_id"] for i in rpc.voting.sequence(question["id"], voter())["items"]}
        time.sleep(0.05)
    assert seen
