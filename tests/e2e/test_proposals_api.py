"""What the web client needed from the API, through the gateway against the real services:
the caller's proposals (GET /me/proposals), the scope filter on questions, the similarity
dry run before proposing (GET /questions/{id}/similar), the proposal prefix questions
carry, and the countries (GET /countries) — with their error paths."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.conftest import Client
from tests.e2e.test_journey import _grant

pytestmark = pytest.mark.e2e

ARBRES = "Il faut planter des arbres dans les cours d'école"
ARBRES_BIS = "Il faut planter plus d'arbres dans les cours d'écoles"
ARBRES_TER = "Il faut planter des arbres dans toutes les cours d'école"


def _question(admin, **overrides):
    now = datetime.now(timezone.utc)
    body = {"slug": f"api-{uuid.uuid4().hex[:8]}", "title": "Comment verdir la ville ?", "country": "LU",
            "language": "fr", "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat()}
    body.update(overrides)
    response = admin.post("/questions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def people(platform):
    admin = Client(platform).register(display_name="Admin")
    _grant(platform, admin.email, "admin")
    admin.login()
    question = _question(admin)
    moderator = Client(platform).register(display_name="Modo")
    _grant(platform, moderator.email, "moderator", question["id"])
    return {"admin": admin, "question": question, "moderator": moderator.login(),
            "author": Client(platform).register(display_name="Claire").login(),
            "other": Client(platform).register(display_name="Hugo").login()}


def _propose(who, question, content):
    response = who.post(f"/questions/{question['id']}/proposals", json={"content": content})
    assert response.status_code == 201, response.text
    return response.json()["proposal"]


def test_my_proposals(people, client):
    admin, author = people["admin"], people["author"]
    question = _question(admin)  # the shared one is for the similarity test
    other_question = _question(admin, title="Comment mieux se déplacer ?")
    first = _propose(author, question, "Il faut ouvrir les cours d'école le week-end")
    second = _propose(author, question, "Il faut des fontaines à eau dans les parcs")
    third = _propose(author, other_question, "Il faut des pistes cyclables partout")
    _propose(people["other"], question, "Il faut une proposition de quelqu'un d'autre")
    assert admin.post(f"/proposals/{first['id']}/accept", json={}).status_code == 200
    assert admin.post(f"/proposals/{second['id']}/refuse", json={"reason": "off-topic"}).status_code == 200

    response = author.get("/me/proposals")
    assert response.status_code == 200
    page = response.json()
    assert [p["id"] for p in page["items"]] == [third["id"], second["id"], first["id"]]  # newest first, all statuses
    assert (page["total"], page["page"], page["per_page"]) == (3, 1, 20)
    assert [(p["status"], p["refusal_reason"]) for p in page["items"]] == [
        ("pending", None), ("refused", "off-topic"), ("accepted", None)]
    assert page["items"][0]["question_title"] == "Comment mieux se déplacer ?"
    assert page["items"][1]["question_slug"] == question["slug"]
    paged = author.get("/me/proposals", params={"per_page": 1, "page": 2}).json()
    assert [p["id"] for p in paged["items"]] == [second["id"]] and paged["total"] == 3
    refused = author.get("/me/proposals", params={"status": "refused"}).json()
    assert [p["id"] for p in refused["items"]] == [second["id"]]
    by_question = author.get("/me/proposals", params={"question": other_question["slug"]}).json()
    assert [p["id"] for p in by_question["items"]] == [third["id"]]

    # unhappy paths
    anonymous = client().get("/me/proposals")
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    bad = author.get("/me/proposals", params={"status": "lost"})
    assert bad.status_code == 400 and list(bad.json()["errors"]["query"]) == ["status"]
    assert author.get("/me/proposals", params={"per_page": 0}).status_code == 400
    unknown = author.get("/me/proposals", params={"sort": "oldest"})
    assert unknown.status_code == 400 and "sort" in unknown.json()["errors"]["query"]
    assert author.get("/me/proposals", params={"question": "no-such-question"}).status_code == 404


def test_questions_scope_filter(people, client):
    admin = people["admin"]
    local = _question(admin, country="CH", language="it", scope="local")
    european = _question(admin, country="CH", language="it", scope="european")
    listed = client().get("/questions", params={"country": "CH", "scope": "local", "per_page": 100}).json()
    ids = {q["id"] for q in listed["items"]}
    assert local["id"] in ids and european["id"] not in ids
    assert all(q["scope"] == "local" for q in listed["items"]) and listed["total"] == len(listed["items"])
    bad = client().get("/questions", params={"scope": "regional"})
    assert bad.status_code == 400 and list(bad.json()["errors"]["query"]) == ["scope"]


def test_questions_carry_the_prefix_and_countries_are_listed(people, client):
    question = client().get(f"/questions/{people['question']['id']}").json()
    assert (question["proposal_prefix"], question["proposal_min_length"], question["proposal_max_length"]) == (
        "Il faut", 12, 140)
    german = _question(people["admin"], language="de", title="Wie wird die Stadt grüner?")
    assert german["proposal_prefix"] == "Man sollte"

    response = client().get("/countries")
    assert response.status_code == 200
    countries = {c["country"]: c for c in response.json()}
    assert {"FR", "DE", "GB", "BE", "CH", "LU"} <= set(countries)
    assert countries["LU"] == {"country": "LU", "languages": ["fr", "de"], "default_language": "fr"}


def test_similar_before_proposing(people, client, platform):
    admin, author, other, question = people["admin"], people["author"], people["other"], people["question"]
    accepted = _propose(other, question, ARBRES)
    assert admin.post(f"/proposals/{accepted['id']}/accept", json={}).status_code == 200
    theirs = _propose(other, question, ARBRES_TER)
    mine = _propose(author, question, "Il faut planter des arbres dans nos cours d'école")
    path = f"/questions/{question['id']}/similar"

    anonymous = client().get(path, params={"content": ARBRES_BIS})
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert [(d["id"], d["content"], d["status"]) for d in body["likely_duplicates"]] == [
        (accepted["id"], ARBRES, "accepted")]
    assert body["pending_similar"] == 2
    assert ARBRES_TER not in anonymous.text  # pending text never reaches a citizen

    as_author = author.get(path, params={"content": ARBRES_BIS}).json()
    assert {d["id"] for d in as_author["likely_duplicates"]} == {accepted["id"], mine["id"]}
    assert as_author["pending_similar"] == 1
    as_moderator = people["moderator"].get(path, params={"content": ARBRES_BIS}).json()
    assert {d["id"] for d in as_moderator["likely_duplicates"]} == {accepted["id"], mine["id"], theirs["id"]}
    assert as_moderator["pending_similar"] == 0

    # unhappy paths: the field is named
    for params in ({}, {"content": "court"}, {"content": "x" * 141}):
        bad = client().get(path, params=params)
        assert bad.status_code == 400, params
        errors = bad.json()["errors"]
        assert "content" in errors.get("query", {}) or "content" in errors.get("json", {}), errors
    assert client().get(path, params={"content": ARBRES, "limit": 3}).status_code == 400  # unknown parameter
    assert client().get("/questions/no-such-question/similar", params={"content": ARBRES}).status_code == 404


def test_the_new_operations_are_documented(platform):
    import requests

    spec = requests.get(f"{platform.api}/openapi.json", timeout=5).json()
    paths = spec["paths"]
    assert {"/api/v1/me/proposals", "/api/v1/questions/{question_id}/similar", "/api/v1/countries"} <= set(paths)
    assert "scope" in {p["name"] for p in paths["/api/v1/questions"]["get"]["parameters"]}
    assert "401" in paths["/api/v1/me/proposals"]["get"]["responses"]


def test_search_says_whether_its_total_is_exact(people, client):
    admin, question = people["admin"], _question(people["admin"])
    ids = [_propose(people["other"], question, text)["id"] for text in (
        "Il faut des arbres et encore des arbres", "Il faut des arbres en ville", "Il faut des bancs publics")]
    for pid in ids:
        assert admin.post(f"/proposals/{pid}/accept", json={}).status_code == 200
    found = client().get(f"/questions/{question['id']}/proposals", params={"q": "arbre"}).json()
    assert [p["id"] for p in found["items"]] == ids[:2]  # by relevance
    assert (found["total"], found["total_exact"]) == (2, True)
    plain = client().get(f"/questions/{question['id']}/proposals").json()
    assert plain["total"] == 3 and plain["total_exact"] is True
