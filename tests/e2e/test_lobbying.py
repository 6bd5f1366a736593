"""Issue 4 end to end: a proposal emerges, a citizen starts a campaign targeting two
actors, supporters join, a milestone interpellates the targets, one official commits and
the other declines, an editor rates the commitment, and an SSE client sees it all live."""
import functools
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from common import testing
from tests.e2e.conftest import Client
from tests.e2e.sse import SSEClient

pytestmark = pytest.mark.e2e


def _grant(platform, email, role, questions="", actor=None):
    argv = [sys.executable, "-m", "services.accounts.cli", "grant", "--email", email, "--role", role]
    if questions:
        argv += ["--questions", questions]
    if actor:
        argv += ["--actor", actor]
    result = subprocess.run(argv, env=platform.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


_wait = functools.partial(testing.wait_until, timeout=15, interval=0.1)


@pytest.fixture(scope="module")
def cast(platform):
    admin = Client(platform).register()
    _grant(platform, admin.email, "admin")
    admin.login()
    editor = Client(platform).register()
    _grant(platform, editor.email, "editor")
    editor.login()
    actors = []
    for name in ("Alice Martin (fictive)", "Bruno Leroy (fictive)"):
        response = admin.post("/actors", json={"name": name, "kind": "elected", "level": "national",
                                                "country": "FR", "locale": "fr", "party": "Parti fictif",
                                                "contact_emails": [f"{uuid.uuid4().hex[:6]}@assemblee.example"]})
        assert response.status_code == 201, response.text
        actors.append(response.json())
    german = admin.post("/actors", json={"name": "Karl Schmidt (fiktiv)", "kind": "elected", "level": "national",
                                          "country": "DE", "locale": "de", "contact_emails": []}).json()
    officials = []
    for actor in actors:
        official = Client(platform).register()
        _grant(platform, official.email, "official", actor=actor["id"])
        officials.append(official.login())
    now = datetime.now(timezone.utc)
    question = admin.post("/questions", json={
        "slug": f"lob-{uuid.uuid4().hex[:8]}", "title": "Comment rénover les écoles ?", "country": "FR",
        "language": "fr", "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat()}).json()
    author = Client(platform).register().login()
    proposals = []
    for text in ("Il faut isoler toutes les écoles avant 2030", "Il faut des cantines bio partout en France"):
        proposal = author.post(f"/questions/{question['id']}/proposals", json={"content": text}).json()["proposal"]
        assert admin.post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 200
        proposals.append(proposal)
    return {"admin": admin, "editor": editor, "actors": actors, "german": german, "officials": officials,
            "question": question, "author": author, "proposals": proposals}


def _make_emerge(platform, cast, proposal):
    """Trusted votes from new visitors through the sequence until the proposal emerges."""
    def vote_once():
        visitor = Client(platform)
        items = {i["id"]: i for i in visitor.get(f"/questions/{cast['question']['id']}/sequence").json()["items"]}
        if proposal["id"] in items:
            visitor.put(f"/proposals/{proposal['id']}/vote", json={
                "key": "agree", "qualifications": ["likeIt", "doable"],
                "proposal_key": items[proposal["id"]]["proposal_key"]})
        # a 404 until voting has learnt the acceptance (an event): keep waiting
        return Client(platform).get(f"/proposals/{proposal['id']}/results").json().get("emerged", False)
    _wait(vote_once, timeout=60, what="the proposal to emerge")


def test_campaign_from_emergence_to_kept_commitment_seen_live(platform, cast):
    alice, bruno = cast["actors"]
    alice_official, bruno_official = cast["officials"]
    proposal = cast["proposals"][0]
    citizen = cast["author"]
    body = {"proposal_id": proposal["id"], "title": "Isolons les écoles", "goal": 50,
            "pitch": "Les écoles sont des passoires thermiques : obtenons des engagements.",
            "target_actor_ids": [alice["id"], bruno["id"]]}
    not_emerged = citizen.post("/campaigns", json=body)
    assert not_emerged.status_code == 409 and "emerged" in not_emerged.json()["message"]

    _make_emerge(platform, cast, proposal)
    campaign = _wait(lambda: (lambda r: r.json() if r.status_code == 201 else None)(citizen.post("/campaigns", json=body)),
                     what="lobbying to learn the emergence")
    assert [t["state"] for t in campaign["targets"]] == ["not_contacted", "not_contacted"]
    assert Client(platform).post("/campaigns", json=body).status_code == 401
    wrong_country = citizen.post("/campaigns", json=dict(body, target_actor_ids=[cast["german"]["id"]]))
    assert wrong_country.status_code == 400 and "target_actor_ids" in wrong_country.json()["errors"]["json"]

    stream = SSEClient(f"{platform.api}/stream", params={"campaign": campaign["id"]})
    recorder = testing.EventRecorder(platform.amqp_uri, "lobbying", ["target_interpellated"])
    try:
        supporters = [Client(platform).register().login() for _ in range(2)]
        for supporter in supporters:
            assert supporter.post(f"/campaigns/{campaign['id']}/support").json()["changed"] is True
        again = supporters[0].post(f"/campaigns/{campaign['id']}/support").json()
        assert again["changed"] is False and again["supporters"] == 2  # one support per citizen
        milestone = stream.wait_for(lambda e: e["event"] == "campaign_milestone_reached")
        assert milestone["data"]["data"]["milestone"] == 2
        interpellated = {recorder.wait_for(lambda e, a=a: e["data"]["actor_id"] == a["id"])["data"]["actor_id"]
                         for a in (alice, bruno)}
        assert interpellated == {alice["id"], bruno["id"]}
        state = citizen.get(f"/campaigns/{campaign['id']}").json()
        assert [t["state"] for t in state["targets"]] == ["interpellated", "interpellated"]

        # officials answer for their own actor only
        commit = {"stance": "commit", "statement": "Je déposerai un amendement au budget."}
        assert citizen.post(f"/campaigns/{campaign['id']}/responses", json=commit).status_code == 403
        assert alice_official.post(f"/campaigns/{campaign['id']}/responses", json=commit).status_code == 201
        assert bruno_official.post(f"/campaigns/{campaign['id']}/responses",
                                   json={"stance": "decline", "statement": "Ce n'est pas ma priorité."}).status_code == 201
        made = stream.wait_for(lambda e: e["event"] == "commitment_made")
        commitment_id = made["data"]["data"]["commitment_id"]
        assert made["data"]["data"]["actor_id"] == alice["id"]

        # an editor rates it, citing sources; citizens cannot
        assert citizen.post(f"/commitments/{commitment_id}/status",
                            json={"status": "kept", "evidence_url": "https://example.org/jo"}).status_code == 403
        no_source = cast["editor"].post(f"/commitments/{commitment_id}/status", json={"status": "in_the_works"})
        assert no_source.status_code == 400 and "evidence_url" in no_source.json()["errors"]["json"]
        for status in ("in_the_works", "kept"):
            changed = cast["editor"].post(f"/commitments/{commitment_id}/status", json={
                "status": status, "evidence_url": f"https://example.org/{status}", "note": "source officielle"})
            assert changed.status_code == 200, changed.text
        stream.wait_for(lambda e: e["event"] == "commitment_status_changed" and e["data"]["data"]["status"] == "kept")

        names = [e["event"] for e in stream.received]
        responses = [e["data"]["data"]["stance"] for e in stream.received if e["event"] == "official_responded"]
        assert responses == ["commit", "decline"]
        assert names.index("campaign_milestone_reached") < names.index("official_responded") < names.index("commitment_made")
        statuses = [e["data"]["data"]["status"] for e in stream.received if e["event"] == "commitment_status_changed"]
        assert statuses == ["in_the_works", "kept"]
        assert all(e["data"]["data"].get("campaign_id") == campaign["id"] for e in stream.received)
    finally:
        stream.close()
        recorder.close()

    # the state is there for anyone to read
    detail = Client(platform).get(f"/commitments/{commitment_id}").json()
    assert [t["status"] for t in detail["timeline"]] == ["not_yet_rated", "in_the_works", "kept"]
    actor = Client(platform).get(f"/actors/{alice['id']}").json()
    assert actor["scoreboard"]["by_status"]["kept"] == 1 and actor["scoreboard"]["kept_share"] == 1.0
    targets = {t["actor_id"]: t for t in Client(platform).get(f"/campaigns/{campaign['id']}").json()["targets"]}
    assert targets[bruno["id"]]["stance"] == "decline" and targets[bruno["id"]]["statement"]
    listed = Client(platform).get("/campaigns", params={"actor": alice["id"]}).json()
    assert campaign["id"] in {c["id"] for c in listed["items"]}
    assert Client(platform).get("/commitments", params={"actor": alice["id"], "status": "kept"}).json()["total"] == 1

    # a client that reconnects with Last-Event-ID gets what it missed, in order
    first = stream.received[0]["id"]
    resumed = SSEClient(f"{platform.api}/stream", params={"campaign": campaign["id"]}, last_event_id=first)
    try:
        resumed.wait_for(lambda e: e["event"] == "commitment_status_changed" and e["data"]["data"]["status"] == "kept")
        assert [e["id"] for e in resumed.received] == [e["id"] for e in stream.received[1:]]
    finally:
        resumed.close()


def test_actor_admin_rules(cast, client):
    citizen = client().register().login()
    body = {"name": "Claire Dubois (fictive)", "kind": "elected", "level": "local", "country": "FR", "locale": "fr"}
    assert client().post("/actors", json=body).status_code == 401
    assert citizen.post("/actors", json=body).status_code == 403
    bad = cast["admin"].post("/actors", json=dict(body, kind="wizard"))
    assert bad.status_code == 400 and "kind" in bad.json()["errors"]["json"]
    found = client().get("/actors", params={"country": "FR", "q": "alice martin"}).json()
    assert [a["id"] for a in found["items"]] == [cast["actors"][0]["id"]]
    assert client().get("/actors/nope").status_code == 404
