"""The issue-2 journey through the gateway, against the real services, broker and database:
register, log in, create a question as admin, submit, see it pending, moderate, find it
listed and searchable, and every error path on the way."""
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from common import testing
from tests.e2e.conftest import RPC_TIMEOUT

pytestmark = pytest.mark.e2e


def _question_body(**overrides):
    now = datetime.now(timezone.utc)
    body = {
        "slug": f"q-{uuid.uuid4().hex[:8]}", "title": "Comment mieux vivre en ville ?", "country": "FR",
        "language": "fr", "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(), "votes_target": 1000,
    }
    body.update(overrides)
    return body


def _grant(platform, email, role, questions=""):
    """The operator command, as a newcomer would run it (`make grant-role`)."""
    argv = [sys.executable, "-m", "services.accounts.cli", "grant", "--email", email, "--role", role]
    if questions:
        argv += ["--questions", questions]
    result = subprocess.run(argv, env=platform.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def world(platform):
    """An admin, a citizen, two moderators on two questions."""
    from tests.e2e.conftest import Client

    admin = Client(platform).register(display_name="Admin")
    _grant(platform, admin.email, "admin")
    admin.login()
    questions = []
    for _ in range(2):
        response = admin.post("/questions", json=_question_body())
        assert response.status_code == 201, response.text
        questions.append(response.json())
    moderators = []
    for question in questions:
        moderator = Client(platform).register(display_name="Modo")
        _grant(platform, moderator.email, "moderator", question["id"])
        moderators.append(moderator.login())
    citizen = Client(platform).register(display_name="Claire").login()
    return {"admin": admin, "citizen": citizen, "questions": questions, "moderators": moderators}


def test_accounts_errors(client):
    c = client()
    assert c.post("/accounts", json={"email": "x@example.org", "password": "short", "display_name": "X",
                                     "country": "FR", "language": "fr"}).json()["errors"]["json"].keys() == {"password"}
    response = c.post("/accounts", json={"email": "x@example.org"})
    assert response.status_code == 400
    assert {"password", "display_name", "country", "language"} <= response.json()["errors"]["json"].keys()
    c.register()
    again = c.post("/accounts", json={"email": c.email.upper(), "password": "another long password",
                                      "display_name": "Y", "country": "DE", "language": "de"})
    assert again.status_code == 409
    wrong = c.post("/auth/token", json={"email": c.email, "password": "not the password"})
    unknown = c.post("/auth/token", json={"email": "nobody@example.org", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]
    assert c.get("/me").status_code == 401
    assert c.get("/me", headers={"Authorization": "Bearer not.a.token"}).status_code == 401
    c.login()
    me = c.get("/me")
    assert me.status_code == 200 and me.json()["email"] == c.email and me.json()["roles"] == ["citizen"]


def test_login_is_slowed_down_after_repeated_failures(client):
    c = client().register()
    statuses = [c.post("/auth/token", json={"email": c.email, "password": "wrong password"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    throttled = c.post("/auth/token", json={"email": c.email, "password": c.password})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


def test_anonymous_caller_gets_a_session_id(client):
    c = client()
    first = c.get("/questions")
    sid = first.headers["X-Session-Id"]
    assert len(sid) >= 16 and c.http.cookies.get("sid") == sid
    assert "X-Session-Id" not in c.get("/questions").headers  # the cookie is kept


def test_questions_rules(world, client):
    admin, citizen = world["admin"], world["citizen"]
    assert client().post("/questions", json=_question_body()).status_code == 401
    assert citizen.post("/questions", json=_question_body()).status_code == 403
    assert world["moderators"][0].post("/questions", json=_question_body()).status_code == 403
    bad_language = admin.post("/questions", json=_question_body(country="FR", language="de"))
    assert bad_language.status_code == 400 and "language" in bad_language.json()["errors"]["json"]
    bad_scope = admin.post("/questions", json=_question_body(scope="galactic"))
    assert bad_scope.status_code == 400 and "scope" in bad_scope.json()["errors"]["json"]
    taken = admin.post("/questions", json=_question_body(slug=world["questions"][0]["slug"]))
    assert taken.status_code == 409
    swiss = admin.post("/questions", json=_question_body(country="CH", language="it"))
    assert swiss.status_code == 201
    question = world["questions"][0]
    assert client().get(f"/questions/{question['slug']}").json()["id"] == question["id"]
    assert client().get(f"/questions/{question['id']}").json()["status"] == "open"
    assert client().get("/questions/no-such-question").status_code == 404
    listed = client().get("/questions", params={"country": "FR", "status": "open", "per_page": 100}).json()
    assert question["id"] in {q["id"] for q in listed["items"]}
    assert client().get("/questions", params={"status": "someday"}).status_code == 400


def test_proposal_from_submission_to_listing(world, client, platform):
    citizen, (moderator, other_moderator) = world["citizen"], world["moderators"]
    question, other_question = world["questions"]
    recorder = testing.EventRecorder(platform.amqp_uri, "proposals")
    try:
        # submission rules
        assert client().post(f"/questions/{question['id']}/proposals", json={"content": "Il faut agir vite"}).status_code == 401
        too_short = citizen.post(f"/questions/{question['id']}/proposals", json={"content": "Il faut."})
        assert too_short.status_code == 400 and "content" in too_short.json()["errors"]["json"]
        assert citizen.post("/questions/nope/proposals", json={"content": "Il faut planter des arbres"}).status_code == 404

        content = "Il faut planter des arbres dans les cours d'école"
        submitted = citizen.post(f"/questions/{question['id']}/proposals", json={"content": content})
        assert submitted.status_code == 201, submitted.text
        proposal = submitted.json()["proposal"]
        assert proposal["status"] == "pending" and proposal["content"] == content
        # pending: visible to its author and the question's moderators only
        assert citizen.get(f"/proposals/{proposal['id']}").json()["status"] == "pending"
        assert moderator.get(f"/proposals/{proposal['id']}").status_code == 200
        assert client().get(f"/proposals/{proposal['id']}").status_code == 404
        assert other_moderator.get(f"/proposals/{proposal['id']}").status_code == 404
        listed = client().get(f"/questions/{question['id']}/proposals").json()
        assert proposal["id"] not in {p["id"] for p in listed["items"]}

        # moderation: only the question's moderators (and admins)
        assert citizen.get("/moderation/queue").status_code == 403
        assert other_moderator.get("/moderation/queue", params={"question": question["id"]}).status_code == 403
        queue = moderator.get("/moderation/queue", params={"question": question["id"]})
        assert queue.status_code == 200
        groups = queue.json()["groups"]
        mine = [g for g in groups if g["author_id"] == citizen.user["id"]]
        assert mine and proposal["id"] in {p["id"] for p in mine[0]["proposals"]}
        assert queue.json()["lock_seconds"] == 15
        assert other_moderator.post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 403
        assert world["admin"].post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 409  # locked
        assert moderator.post(f"/proposals/{proposal['id']}/refuse", json={}).status_code == 400
        bad_reason = moderator.post(f"/proposals/{proposal['id']}/refuse", json={"reason": "boring"})
        assert bad_reason.status_code == 400 and "reason" in bad_reason.json()["errors"]["json"]
        accepted = moderator.post(f"/proposals/{proposal['id']}/accept", json={"tags": ["environnement"]})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted" and accepted.json()["tags"] == ["environnement"]
        assert moderator.post(f"/proposals/{proposal['id']}/postpone").status_code == 409
        assert moderator.post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 409

        event = recorder.wait_for(lambda e: e["event_type"] == "proposal_accepted"
                                  and e["data"]["proposal_id"] == proposal["id"])
        assert event["data"]["question_id"] == question["id"] and event["data"]["country"] == "FR"
        assert event["data"]["author_id"] == citizen.user["id"] and event["data"]["content"] == content

        # listed, searchable (French stemming), public
        listed = client().get(f"/questions/{question['id']}/proposals").json()
        assert proposal["id"] in {p["id"] for p in listed["items"]} and listed["total"] >= 1
        found = client().get(f"/questions/{question['id']}/proposals", params={"q": "arbre"}).json()
        assert [p["id"] for p in found["items"]] == [proposal["id"]]
        assert client().get(f"/questions/{question['id']}/proposals", params={"q": "voitures"}).json()["items"] == []
        assert client().get(f"/proposals/{proposal['id']}").json()["status"] == "accepted"

        # a near-duplicate is flagged on submission and refused as already-exists
        near = citizen.post(f"/questions/{question['id']}/proposals",
                            json={"content": "Il faut planter plus d'arbres dans les cours d'écoles"})
        assert near.status_code == 201
        duplicates = near.json()["likely_duplicates"]
        assert duplicates and duplicates[0]["id"] == proposal["id"] and duplicates[0]["score"] > 0.3
        near_id = near.json()["proposal"]["id"]
        refused = moderator.post(f"/proposals/{near_id}/refuse", json={"reason": "already-exists"})
        assert refused.status_code == 200 and refused.json()["refusal_reason"] == "already-exists"
        assert near_id not in {p["id"] for p in client().get(f"/questions/{question['id']}/proposals").json()["items"]}
        refusal = recorder.wait_for(lambda e: e["event_type"] == "proposal_refused" and e["data"]["proposal_id"] == near_id)
        assert refusal["data"]["refusal_reason"] == "already-exists"
    finally:
        recorder.close()


def test_openapi_and_docs(platform, client):
    import requests

    spec = requests.get(f"{platform.api}/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/accounts", "/api/v1/auth/token", "/api/v1/questions/{question_id}/proposals",
            "/api/v1/moderation/queue"} <= set(spec["paths"])
    docs = requests.get(f"{platform.api}/docs", timeout=5)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_stopped_service_gives_fast_503_then_recovers(platform, client):
    import requests

    assert requests.get(f"{platform.url}/readyz", timeout=5).status_code == 200
    platform.stop_service("proposals")
    try:
        started = time.monotonic()
        response = client().get("/questions")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["code"] == 503 and response.json()["message"]
        assert elapsed < RPC_TIMEOUT + 1.5  # never more than the configured RPC timeout plus slack
        ready = requests.get(f"{platform.url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["services"]["proposals"]["status"] == "unavailable"
        assert ready.json()["services"]["accounts"]["status"] == "ok"
        assert requests.get(f"{platform.url}/healthz", timeout=5).status_code == 200
    finally:
        platform.restart_service("proposals")
    assert client().get("/questions").status_code == 200
