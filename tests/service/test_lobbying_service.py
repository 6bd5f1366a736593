"""Lobbying on the real broker and PostgreSQL, with the real proposals, voting and
commitments services around it: emergence arrives as an event, targets are checked by
RPC, a commitment comes back through official_committed."""
import functools
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from common import testing
from common.rpc_client import RemoteError
from services.commitments.service import CommitmentsService
from services.lobbying.service import LobbyingService
from services.proposals.service import ProposalsService
from services.voting.service import VotingService

ADMIN = {"user_id": "admin-l", "roles": ["citizen", "admin"], "moderated_questions": []}
CITIZEN = {"user_id": "citizen-l", "roles": ["citizen"]}


@pytest.fixture
def platform(run_service):
    run_service(ProposalsService)
    run_service(VotingService, {"VOTING": {"emergence_min_trusted_votes": 3,
                                           "emergence_min_top_score_lower_bound": 0.0}})
    run_service(CommitmentsService)
    run_service(LobbyingService, {"LOBBYING": {"absolute_milestones": [2, 100], "goal_fractions": [0.33, 0.66]}})


_wait = functools.partial(testing.wait_until, timeout=10, interval=0.05)


def _actor(rpc, country="FR", level="national", name=None):
    return rpc.commitments.create_actor(ADMIN, {
        "name": name or f"Député {uuid.uuid4().hex[:6]}", "kind": "elected", "level": level, "country": country,
        "contact_emails": [f"{uuid.uuid4().hex[:6]}@assemblee.example"], "locale": "fr" if country == "FR" else "de"})


def _proposal(rpc, emerge=True):
    now = datetime.now(timezone.utc)
    question = rpc.proposals.create_question(ADMIN, {
        "slug": f"l-{uuid.uuid4().hex[:8]}", "title": "Question lobbying", "country": "FR", "language": "fr",
        "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=5)).isoformat()})
    proposal = rpc.proposals.submit_proposal(CITIZEN, question["id"], {
        "content": f"Il faut rénover les écoles {uuid.uuid4().hex[:4]}"})["proposal"]
    rpc.proposals.accept_proposal(ADMIN, proposal["id"], {})
    _wait(lambda: _results(rpc, proposal["id"]), what="voting to learn the proposal")
    if emerge:
        for _ in range(3):
            session = uuid.uuid4().hex
            key = rpc.voting.proposal_keys(session, [proposal["id"]])[proposal["id"]]
            rpc.voting.vote({"session_id": session}, proposal["id"],
                            {"key": "agree", "qualifications": ["likeIt"], "proposal_key": key})
        assert rpc.voting.results(proposal["id"])["emerged"]
    return proposal


def _results(rpc, proposal_id):
    try:
        return rpc.voting.results(proposal_id)
    except RemoteError:
        return None


def _campaign_body(proposal, targets, goal=10):
    return {"proposal_id": proposal["id"], "title": "Rénovons les écoles", "goal": goal,
            "pitch": "Des milliers d'écoles attendent des travaux : demandons un engagement.",
            "target_actor_ids": [t["id"] for t in targets]}


def _start(rpc, proposal, targets, goal=10):
    def attempt():
        try:
            return rpc.lobbying.create_campaign(CITIZEN, _campaign_body(proposal, targets, goal))
        except RemoteError as exc:
            assert exc.exc_type == "Conflict", exc  # lobbying has not heard of the emergence yet
            return None
    return _wait(attempt, what="lobbying to learn the emergence")


def test_campaign_needs_an_emerged_proposal_and_eligible_targets(platform, rpc):
    fr, de, eu = _actor(rpc), _actor(rpc, country="DE"), _actor(rpc, country="EU", level="european")
    plain = _proposal(rpc, emerge=False)
    time.sleep(0.5)
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.create_campaign(CITIZEN, _campaign_body(plain, [fr]))
    assert err.value.exc_type == "Conflict" and "emerged" in err.value.exc_args[0]
    emerged = _proposal(rpc)
    campaign = _start(rpc, emerged, [fr, eu])
    assert [t["state"] for t in campaign["targets"]] == ["not_contacted", "not_contacted"]
    assert campaign["country"] == "FR" and campaign["supporters"] == 0
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.create_campaign(CITIZEN, _campaign_body(emerged, [fr, de]))
    assert err.value.exc_type == "ValidationFailed" and de["name"] in err.value.exc_args[0]["target_actor_ids"]
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.create_campaign(CITIZEN, dict(_campaign_body(emerged, [fr]), target_actor_ids=["nobody"]))
    assert "nobody" in err.value.exc_args[0]["target_actor_ids"]
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.create_campaign(None, _campaign_body(emerged, [fr]))
    assert err.value.exc_type == "Forbidden"
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.create_campaign(CITIZEN, dict(_campaign_body(emerged, [fr]), goal=3, title="x"))
    assert err.value.exc_type == "ValidationFailed" and {"goal", "title"} <= set(err.value.exc_args[0])


def test_supports_milestones_and_interpellations_happen_once(platform, rpc, events):
    recorder = events("lobbying", ["campaign_milestone_reached", "target_interpellated"])
    targets = [_actor(rpc), _actor(rpc)]
    campaign = _start(rpc, _proposal(rpc), targets, goal=10)  # milestones: 2, 4 (33 %), 7 (66 %), 10
    citizens = [{"user_id": f"supporter-{i}-{uuid.uuid4().hex[:4]}", "roles": ["citizen"]} for i in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda c: rpc.lobbying.support(c, campaign["id"]), citizens))
    assert all(r["changed"] for r in results)
    again = rpc.lobbying.support(citizens[0], campaign["id"])
    assert again["changed"] is False and again["supporters"] == 5
    recorder.wait_for(lambda e: e["event_type"] == "campaign_milestone_reached" and e["data"]["milestone"] == 4)
    time.sleep(0.8)
    reached = sorted(e["data"]["milestone"] for e in recorder.matching(
        lambda e: e["event_type"] == "campaign_milestone_reached" and e["data"]["campaign_id"] == campaign["id"]))
    assert reached == [2, 4]
    interpellations = recorder.matching(lambda e: e["event_type"] == "target_interpellated"
                                        and e["data"]["campaign_id"] == campaign["id"])
    assert sorted((e["data"]["actor_id"], e["data"]["milestone"]) for e in interpellations) == sorted(
        (t["id"], m) for t in targets for m in (2, 4))
    sample = interpellations[0]["data"]
    assert sample["locale"] == "fr" and sample["contact_emails"] and sample["send_policy"]["max_per_hour"] == 10
    assert sample["proposal_content"].startswith("Il faut")
    state = rpc.lobbying.get_campaign(campaign["id"], citizens[0])
    assert state["supporters"] == 5 and state["supported"] is True and state["next_milestone"] == 7
    assert [m["milestone"] for m in state["milestones"]] == [2, 4]
    assert all(t["state"] == "interpellated" and t["interpellations"] == 2 for t in state["targets"])
    withdrawn = rpc.lobbying.withdraw_support(citizens[0], campaign["id"])
    assert withdrawn["supporters"] == 4 and withdrawn["changed"] is True
    assert rpc.lobbying.withdraw_support(citizens[0], campaign["id"])["changed"] is False
    rpc.lobbying.support(citizens[0], campaign["id"])  # back to 5: no milestone is reached twice
    time.sleep(0.5)
    assert len(recorder.matching(lambda e: e["event_type"] == "campaign_milestone_reached"
                                 and e["data"]["campaign_id"] == campaign["id"])) == 2
    assert sorted(rpc.lobbying.supporter_ids(campaign["id"])) == sorted(c["user_id"] for c in citizens)


def test_officials_respond_and_a_commit_becomes_a_commitment(platform, rpc, events):
    recorder = events("lobbying", ["official_responded", "official_committed"])
    committer, decliner, outsider = _actor(rpc), _actor(rpc), _actor(rpc)
    campaign = _start(rpc, _proposal(rpc), [committer, decliner])
    official = lambda actor: {"user_id": f"off-{actor['id'][:6]}", "roles": ["citizen", "official"], "actor_id": actor["id"]}  # noqa: E731
    body = {"stance": "commit", "statement": "Je m'engage à déposer une proposition de loi."}
    for who in (CITIZEN, official(outsider), {"user_id": "x", "roles": ["citizen"], "actor_id": committer["id"]}):
        with pytest.raises(RemoteError) as err:
            rpc.lobbying.respond(who, campaign["id"], body)
        assert err.value.exc_type == "Forbidden"
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.respond(official(committer), campaign["id"], {"stance": "maybe", "statement": "?"})
    assert err.value.exc_type == "ValidationFailed" and "stance" in err.value.exc_args[0]
    response = rpc.lobbying.respond(official(committer), campaign["id"], body)
    assert response["stance"] == "commit"
    with pytest.raises(RemoteError) as err:
        rpc.lobbying.respond(official(committer), campaign["id"], body)
    assert err.value.exc_type == "Conflict"
    rpc.lobbying.respond(official(decliner), campaign["id"], {"stance": "decline", "statement": "Pas prioritaire."})
    targets = {t["actor_id"]: t for t in rpc.lobbying.get_campaign(campaign["id"])["targets"]}
    assert (targets[committer["id"]]["state"], targets[committer["id"]]["stance"]) == ("responded", "commit")
    assert targets[decliner["id"]]["stance"] == "decline"
    committed = recorder.wait_for(lambda e: e["event_type"] == "official_committed")
    assert committed["data"]["response_id"] == response["id"] and committed["data"]["actor_id"] == committer["id"]
    commitments = _wait(lambda: rpc.commitments.list_commitments({"campaign": campaign["id"]})["items"],
                        what="the commitment")
    assert len(commitments) == 1 and commitments[0]["actor_id"] == committer["id"]
    assert commitments[0]["status"] == "not_yet_rated" and commitments[0]["source_response_id"] == response["id"]
    assert rpc.lobbying.list_campaigns({"actor": decliner["id"]})["total"] == 1


def test_commitments_down_means_service_unavailable_not_a_hang(run_service, rpc):
    run_service(ProposalsService)
    run_service(VotingService, {"VOTING": {"emergence_min_trusted_votes": 3,
                                           "emergence_min_top_score_lower_bound": 0.0}})
    run_service(LobbyingService, {"RPC_TIMEOUT": 1.0})
    proposal = _proposal(rpc)
    started = time.monotonic()

    def attempt():
        try:
            rpc.lobbying.create_campaign(CITIZEN, _campaign_body(proposal, [{"id": "a1"}]))
        except RemoteError as exc:
            return exc if exc.exc_type != "Conflict" else None
    err = _wait(attempt, what="an answer other than not-emerged")
    assert err.exc_type == "ServiceUnavailable"
    assert time.monotonic() - started < 10
