"""Voting through the gateway: the sequence, trusted votes, results and rankings, the
anonymous-then-login merge, concurrent duplicates, emergence exactly once, flooding."""
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from common import testing
from services.voting import scoring
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


def _grant(platform, email, role, questions=""):
    argv = [sys.executable, "-m", "services.accounts.cli", "grant", "--email", email, "--role", role]
    if questions:
        argv += ["--questions", questions]
    assert subprocess.run(argv, env=platform.env, capture_output=True, timeout=30).returncode == 0


def _open_question(platform, slug, title, **extra):
    """(an admin client, a French national question open for 30 days)."""
    admin = Client(platform).register()
    _grant(platform, admin.email, "admin")
    admin.login()
    now = datetime.now(timezone.utc)
    question = admin.post("/questions", json={
        "slug": f"{slug}-{uuid.uuid4().hex[:8]}", "title": title, "country": "FR", "language": "fr",
        "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(), **extra}).json()
    return admin, question


@pytest.fixture(scope="module")
def ballot(platform):
    """A question with 14 accepted proposals from 14 authors."""
    admin, question = _open_question(platform, "vote", "Que faire pour les transports ?", votes_target=20)
    proposals = []
    for i in range(14):
        author = Client(platform).register().login()
        submitted = author.post(f"/questions/{question['id']}/proposals",
                                json={"content": f"Il faut développer la mesure numéro {i} pour les transports"})
        proposal = submitted.json()["proposal"]
        assert admin.post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 200
        proposals.append(proposal)
    deadline = time.monotonic() + 15  # voting learns acceptances from events
    while time.monotonic() < deadline:
        if all(Client(platform).get(f"/proposals/{p['id']}/results").status_code == 200 for p in proposals):
            break
        time.sleep(0.1)
    return {"question": question, "proposals": proposals, "admin": admin}


def test_voters_vote_through_the_sequence(ballot, client):
    question = ballot["question"]
    anon = client()
    served = anon.get(f"/questions/{question['id']}/sequence")
    assert served.status_code == 200
    items = served.json()["items"]
    assert len(items) == 12 and len({i["id"] for i in items}) == 12
    assert all(i["proposal_key"] and i["content"] for i in items)
    first = items[0]
    bad = anon.put(f"/proposals/{first['id']}/vote", json={"key": "agree", "qualifications": ["noWay"]})
    assert bad.status_code == 400 and "qualifications" in bad.json()["errors"]["json"]
    assert anon.put(f"/proposals/{first['id']}/vote", json={"key": "yes"}).status_code == 400
    vote = anon.put(f"/proposals/{first['id']}/vote",
                    json={"key": "agree", "qualifications": ["likeIt"], "proposal_key": first["proposal_key"]})
    assert vote.status_code == 200 and vote.json()["trusted"] is True and vote.json()["action"] == "cast"
    untrusted = client().put(f"/proposals/{first['id']}/vote", json={"key": "disagree"})
    assert untrusted.status_code == 200 and untrusted.json()["trusted"] is False
    results = anon.get(f"/proposals/{first['id']}/results").json()
    assert results["votes"]["all"] == 2 and results["votes"]["trusted"] == 1 and results["votes"]["sequence"] == 1
    expected = scoring.scores({"agree": 1, "likeIt": 1})
    assert results["top_score"]["lower_bound"] == pytest.approx(expected["top_score"].lower, abs=1e-6)
    assert results["zone"] == expected["zone"]
    again = {i["id"] for i in anon.get(f"/questions/{question['id']}/sequence").json()["items"]}
    assert first["id"] not in again
    assert anon.delete(f"/proposals/{first['id']}/vote").json()["action"] == "removed"
    assert anon.get(f"/proposals/{first['id']}/results").json()["votes"]["all"] == 1


def test_rankings(ballot, client):
    question, (loved, hated, split) = ballot["question"], ballot["proposals"][-3:]
    for i in range(6):
        voter = client()
        items = {it["id"]: it for it in voter.get(f"/questions/{question['id']}/sequence").json()["items"]}
        for proposal, key, quals in ((loved, "agree", ["likeIt"]), (hated, "disagree", ["noWay"]),
                                     (split, "agree" if i % 2 else "disagree", [])):
            pk = items[proposal["id"]]["proposal_key"] if proposal["id"] in items else None
            voter.put(f"/proposals/{proposal['id']}/vote", json={"key": key, "qualifications": quals, "proposal_key": pk})
    popular = client().get(f"/questions/{question['id']}/proposals", params={"sort": "popular", "per_page": 100}).json()
    order = [p["id"] for p in popular["items"]]
    assert order.index(loved["id"]) < order.index(split["id"]) < order.index(hated["id"])
    assert popular["items"][0]["content"] and "score" in popular["items"][0]
    controversial = client().get(f"/questions/{question['id']}/proposals", params={"sort": "controversial"}).json()
    assert controversial["items"][0]["id"] == split["id"]
    assert client().get(f"/questions/{question['id']}/proposals", params={"sort": "loudest"}).status_code == 400


def test_anonymous_votes_follow_into_the_account(ballot, client):
    question, target = ballot["question"], ballot["proposals"][3]
    person = client()
    assert person.put(f"/proposals/{target['id']}/vote", json={"key": "neutral", "qualifications": ["noOpinion"]}).status_code == 200
    before = person.get(f"/proposals/{target['id']}/results").json()["votes"]["all"]
    person.register()
    person.login()  # the sid cookie goes along: the session's votes move to the account
    deadline, mine = time.monotonic() + 10, []
    while time.monotonic() < deadline and not mine:
        mine = person.get("/me/votes", params={"proposal": [target["id"]]}).json()
        time.sleep(0.1)
    assert mine and mine[0]["key"] == "neutral"
    assert person.get(f"/proposals/{target['id']}/results").json()["votes"]["all"] == before
    served = {i["id"] for i in person.get(f"/questions/{question['id']}/sequence").json()["items"]}
    assert target["id"] not in served
    again = person.put(f"/proposals/{target['id']}/vote", json={"key": "neutral", "qualifications": ["noOpinion"]})
    assert again.json()["action"] == "unchanged"


def test_twenty_parallel_identical_votes_leave_one(ballot, client):
    target = ballot["proposals"][4]
    person = client().register().login()
    before = person.get(f"/proposals/{target['id']}/results").json()["votes"]["all"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: person.put(f"/proposals/{target['id']}/vote", json={"key": "agree"}),
                                  range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(r.json()["action"] for r in responses).count("cast") == 1
    assert person.get(f"/proposals/{target['id']}/results").json()["votes"]["all"] == before + 1


def test_emergence_published_exactly_once(ballot, client, platform):
    target = ballot["proposals"][0]  # the oldest "new" proposal: the sequence serves it first
    recorder = testing.EventRecorder(platform.amqp_uri, "voting", ["proposal_emerged"])

    def trusted_agree(_):
        """A new voter, served the target by the sequence, agrees (trusted); None otherwise."""
        voter = client()
        items = {i["id"]: i for i in voter.get(f"/questions/{ballot['question']['id']}/sequence").json()["items"]}
        if target["id"] not in items:
            return None
        return voter.put(f"/proposals/{target['id']}/vote", json={
            "key": "agree", "qualifications": ["likeIt", "doable"], "proposal_key": items[target["id"]]["proposal_key"]})

    try:
        cast = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(5):  # concurrent batches until 8 trusted votes (the threshold is 5)
                cast += sum(1 for r in pool.map(trusted_agree, range(8)) if r is not None and r.json()["trusted"])
                if cast >= 8:
                    break
        assert cast >= 8
        recorder.wait_for(lambda e: e["data"]["proposal_id"] == target["id"])
        time.sleep(1)
        assert len(recorder.matching(lambda e: e["data"]["proposal_id"] == target["id"])) == 1
        assert client().get(f"/proposals/{target['id']}/results").json()["emerged"] is True
    finally:
        recorder.close()


def test_vote_flooding_gets_429(ballot, client):
    """conftest's limit: 40 votes per 60 s per voter, i.e. a burst of 40, then one every
    1.5 s: a flood gets 429s with a Retry-After of at most 2 s (when one more fits), and
    what it is allowed over the burst is what that rate allows, wherever the minute falls."""
    target = ballot["proposals"][6]
    flooder = client()
    started = time.monotonic()
    responses = []
    while len(responses) < 100 and (not responses or responses[-1].status_code == 200):
        responses.append(flooder.put(f"/proposals/{target['id']}/vote", json={"key": "agree"}))
    statuses = [r.status_code for r in responses]
    assert statuses[:40] == [200] * 40 and statuses[-1] == 429
    assert statuses.count(200) <= 40 + int((time.monotonic() - started) / 1.5) + 1
    limited = responses[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 2 and "too many votes" in limited.json()["message"]
    assert client().put(f"/proposals/{target['id']}/vote", json={"key": "agree"}).status_code == 200


def _gateway_metric(platform, series: str) -> float:
    """The value of one series of the gateway's /metrics (``name{labels}``), 0 when absent."""
    for line in requests.get(f"{platform.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _batched_votes(platform) -> tuple[float, float]:
    """(votes carried by voting.vote_batch, batch calls) so far, from the gateway's metrics."""
    labels = '{method="vote_batch",service="voting"}'
    return (_gateway_metric(platform, f"civic_gateway_rpc_batch_size_sum{labels}"),
            _gateway_metric(platform, f"civic_gateway_rpc_batch_size_count{labels}"))


def test_concurrent_votes_ride_in_batches_and_each_is_decided_alone(ballot, client, platform):
    """Votes arriving together go to voting in batches (gateway/batching.py): each voter
    still gets their own answer and error, and every vote is counted once."""
    targets = ballot["proposals"][7:10]
    voters = [client() for _ in range(45)]
    before = {t["id"]: client().get(f"/proposals/{t['id']}/results").json()["votes"]["all"] for t in targets}
    carried_before, _ = _batched_votes(platform)

    def vote(i):
        body = {"key": "agree"} if i % 15 else {"key": "agree", "qualifications": ["noWay"]}  # 3 invalid
        return voters[i].put(f"/proposals/{targets[i % 3]['id']}/vote", json=body)

    with ThreadPoolExecutor(max_workers=45) as pool:
        responses = list(pool.map(vote, range(45)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 42 and [statuses[i] for i in (0, 15, 30)] == [400] * 3
    assert all("qualifications" in responses[i].json()["errors"]["json"] for i in (0, 15, 30))
    assert all(r.json()["action"] == "cast" for r in responses if r.status_code == 200)
    after = {t["id"]: client().get(f"/proposals/{t['id']}/results").json()["votes"]["all"] for t in targets}
    assert [after[t["id"]] - before[t["id"]] for t in targets] == [12, 15, 15]  # the 3 invalid were on the first
    carried, _ = _batched_votes(platform)
    assert carried - carried_before == 45  # every vote went through vote_batch


def _cache_hits(platform) -> float:
    return _gateway_metric(platform, 'civic_gateway_proposal_cache_total{outcome="hit"}')


def test_ranked_pages_follow_moderation_despite_the_gateway_cache(platform, client):
    """The gateway keeps proposal contents it has served (gateway/proposal_cache.py) and drops
    them on the proposals' events: a moderator's edit shows on the next pages, a refusal
    takes the proposal off them, both within the time the event takes to arrive."""
    admin, question = _open_question(platform, "cache", "Que faire pour les parcs ?")
    ids = []
    for i in range(3):
        author = Client(platform).register().login()
        proposal = author.post(f"/questions/{question['id']}/proposals",
                               json={"content": f"Il faut planter des arbres dans le parc numéro {i}"}).json()["proposal"]
        assert admin.post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 200
        ids.append(proposal["id"])
    page_url = f"/questions/{question['id']}/proposals"

    def page():
        listed = client().get(page_url, params={"sort": "popular"})
        assert listed.status_code == 200
        return {p["id"]: p["content"] for p in listed.json()["items"]}

    def until(condition, what):
        return testing.wait_until(lambda: (lambda found: found if condition(found) else None)(page()), what=what)

    first = until(lambda found: set(found) == set(ids), "voting to learn the acceptances")

    def from_memory():  # the gateway's event consumer starts with its first ranked page: once
        hits = _cache_hits(platform)  # it is connected, a read keeps the contents and the next
        assert page() == first  # one takes all three from memory
        return _cache_hits(platform) >= hits + 3
    testing.wait_until(from_memory, what="the contents to be served from the gateway's memory")
    target = ids[0]

    # an edit: refused, then accepted again with a moderator's text
    assert admin.post(f"/proposals/{target}/refuse", json={"reason": "off-topic"}).status_code == 200
    until(lambda found: target not in found, "the refusal to take it off the page")
    edited = "Il faut planter des arbres fruitiers dans ce parc"
    assert admin.post(f"/proposals/{target}/accept", json={"content": edited}).status_code == 200
    found = until(lambda found: found.get(target) == edited, "the edited text to replace the cached one")
    assert {k: v for k, v in found.items() if k != target} == {k: v for k, v in first.items() if k != target}
    for _ in range(5):  # and stays: what was cached before the edit never comes back
        assert page()[target] == edited
    sequence = client().get(f"/questions/{question['id']}/sequence").json()["items"]
    assert {i["id"]: i["content"] for i in sequence}[target] == edited
