"""Issue 6: the authorization matrix. Every operation of the public API (every (path,
method) of /api/v1/openapi.json, plus the /healthz and /readyz probes) is called by every
role, with a valid request (so a 400 cannot hide the decision), against the real platform;
each status must be exactly what the rules say, and where a rule is about what may be read
(drafts' duplicates, one's own proposals, a moderator's queue) the answer is checked too. A new endpoint without a row here fails `test_every_openapi_operation_has_a_row`.

Roles (tokens issued after the grant; the rows act on question Q1, actor A1, campaign C1):

    anonymous     no token (an anonymous session id only)
    citizen       a plain account (the author of the pending proposal in Q1)
    moderator-Q1  moderator of the question the row acts on (Q1)
    moderator-Q2  moderator of another question (Q2)
    official-A1   official of the actor the row acts on (A1, the target of C1)
    official-A2   official of another actor (A2, not targeted by C1)
    editor        rates commitments
    admin         everything but answering as an official
    forged-admin  admin claims signed with another secret: 401 everywhere, public operations
                  and probes included (a bad token is refused, never downgraded to anonymous)

Rules (A = allowed, with the operation's success status; 401 anonymous on protected
operations; 403 a logged-in role the rule excludes; 404 what the caller may not see):

    operation                                 anon  cit  modQ1 modQ2 offA1 offA2 editor admin
    POST /accounts, POST /auth/token,         A     A    A     A     A     A     A      A
      GET questions, countries, proposals
      (accepted), results, sequence,
      campaigns, actors, commitments, stream,
      unsubscribe (GET/POST, signed link),
      votes (PUT/DELETE, GET /me/votes),
      /healthz, /readyz
    GET /questions/{Q1}/similar               A: pending Q1 proposals listed only for their
                                              author, modQ1 and admin; counted for the others
    GET /me, /me/proposals (own only), inbox, 401   A    A     A     A     A     A      A
      preferences, read-all, submit a
      proposal, start a campaign, support /
      withdraw support
    GET /proposals/{pending in Q1}            404   A*   A     404   404   404   404    A   (* its author)
    GET /proposals/{pending}/results          404 for everyone (results exist once accepted)
    accept / refuse / postpone (Q1),          401   403  A     403   403   403   403    A
      GET /moderation/queue?question=Q1 (id or slug)
    GET /moderation/queue (own questions)     401   403  A     A     403   403   403    A   (only their questions)
    POST /campaigns/{C1}/responses            401   403  403   403   A     403   403    403
    POST /actors, POST /questions,            401   403  403   403   403   403   403    A
      GET /admin/deliveries
    POST /commitments, .../status             401   403  403   403   403   403   A      A
    POST /me/notifications/{own}/read         401   A    A     A     A     A     A      A
    POST /me/notifications/{other's}/read     401   404  404   404   404   404   404    404

Mutating cases do not disturb the others: moderation acts on a fresh pending proposal,
a rating on a fresh commitment, a vote is removed right after it is cast, logins run on
a session of their own, officials answer "decline" (which may be revised)."""
import functools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
import requests

from common import testing
from common import tokens
from common.rpc_client import RpcClient
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

ANON, CIT, MOD, MOD2, OFF, OFF2, EDITOR, ADMIN, FORGED = (
    "anonymous", "citizen", "moderator-Q1", "moderator-Q2", "official-A1", "official-A2", "editor", "admin",
    "forged-admin")
ROLES = (ANON, CIT, MOD, MOD2, OFF, OFF2, EDITOR, ADMIN, FORGED)
LOGGED_IN = (CIT, MOD, MOD2, OFF, OFF2, EDITOR, ADMIN)
PROBES = {("/healthz", "GET"), ("/readyz", "GET")}  # outside the OpenAPI document, in the matrix anyway


# -- expectations -----------------------------------------------------------------------------
def everyone(status):
    """A forged token is refused everywhere, public operations included (401)."""
    return {role: 401 if role == FORGED else status for role in ROLES}


def logged_in(status):
    return dict(everyone(status), **{ANON: 401, FORGED: 401})


def only(allowed, status, otherwise=403):
    """401 for anonymous, `status` for the allowed roles, `otherwise` for the other roles."""
    return {role: 401 if role in (ANON, FORGED) else status if role in allowed else otherwise for role in ROLES}


# -- the world the rows act on, built once --------------------------------------------------
_wait = functools.partial(testing.wait_until, timeout=60, interval=0.2)


def _ok(response, status):
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    return response.json()


def _question_body():
    now = datetime.now(timezone.utc)
    return {"slug": f"authz-{uuid.uuid4().hex[:10]}", "title": "Comment mieux vivre en ville ?", "country": "FR",
            "language": "fr", "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(), "votes_target": 1000}


def _actor_body(name):
    return {"name": name, "kind": "elected", "level": "national", "country": "FR", "locale": "fr",
            "contact_emails": [f"{uuid.uuid4().hex[:8]}@assemblee.example"]}


def _content():
    return f"Il faut essayer l'idée numéro {uuid.uuid4().hex[:12]} en ville"


class World:
    """Q1 (moderator-Q1), Q2 (moderator-Q2), Qc (an emerged proposal), actors A1 (official-A1)
    and A2 (official-A2), campaign C1 targeting A1, a commitment of A1, an accepted and a
    pending proposal in Q1, one notification per logged-in role and one of a bystander."""

    def __init__(self, platform, rpc):
        self.platform = platform
        self.rpc = rpc

    def user(self, role=None, **grant):
        client = Client(self.platform).register(display_name=role or "Citizen")
        if role:
            self.rpc.call("accounts", "grant_role", dict({"email": client.email, "role": role}, **grant))
        return client.login()

    def submit(self, author, question_id):
        return _ok(author.post(f"/questions/{question_id}/proposals", json={"content": _content()}), 201)["proposal"]

    def accepted(self, author, question_id):
        proposal = self.submit(author, question_id)
        return _ok(self.admin.post(f"/proposals/{proposal['id']}/accept", json={}), 200)

    def fresh_pending(self):
        """A new pending proposal in Q1 (moderation cases act on it)."""
        return self.submit(self.bystander, self.q1["id"])["id"]

    def fresh_commitment(self):
        """A new commitment of A1, not yet rated (rating cases act on it)."""
        return _ok(self.admin.post("/commitments", json=self.commitment_body()), 201)["id"]

    def commitment_body(self):
        return {"actor_id": self.a1["id"], "statement": "Je m'engage à végétaliser les cours d'école.",
                "made_at": (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(),
                "source_url": f"https://example.org/engagement/{uuid.uuid4().hex[:8]}"}

    def build(self):
        self.admin = self.user("admin")
        self.q1, self.q2, qc = (_ok(self.admin.post("/questions", json=_question_body()), 201) for _ in range(3))
        self.a1, self.a2 = (_ok(self.admin.post("/actors", json=_actor_body(name)), 201)
                            for name in ("Alix Matrice (fictive)", "Basile Matrice (fictive)"))
        self.clients = {
            ANON: Client(self.platform),
            CIT: self.user(),
            MOD: self.user("moderator", question_ids=[self.q1["id"]]),
            MOD2: self.user("moderator", question_ids=[self.q2["id"]]),
            OFF: self.user("official", actor_id=self.a1["id"]),
            OFF2: self.user("official", actor_id=self.a2["id"]),
            EDITOR: self.user("editor"),
            ADMIN: self.admin,
            FORGED: Client(self.platform),
        }
        now = int(time.time())  # admin claims, signed with another secret
        self.clients[FORGED].token = tokens.encode({
            "sub": self.admin.user["id"], "roles": ["citizen", "admin"], "mq": [self.q1["id"]], "actor": self.a1["id"],
            "iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "iat": now, "exp": now + 3600}, "not-the-platform-secret-0123456789abcdef")
        for role in (MOD, MOD2, OFF, OFF2, EDITOR, ADMIN):  # the tokens carry the grants
            assert _ok(self.clients[role].get("/me"), 200)["roles"] != ["citizen"], role
        self.bystander = self.user()  # a citizen who is none of the roles: an author, a login
        self.accepted_proposal = self.accepted(self.bystander, self.q1["id"])
        self.pending_proposal = _ok(self.clients[CIT].post(  # authored by `citizen`; unlike any other text here
            f"/questions/{self.q1['id']}/proposals", json={"content": PENDING_TEXT}), 201)["proposal"]
        for role in LOGGED_IN:  # one notification (proposal_accepted) for each logged-in role
            self.accepted(self.clients[role], self.q2["id"])
        self.emerged_proposal = self.accepted(self.bystander, qc["id"])
        self._make_emerge(qc["id"], self.emerged_proposal["id"])
        self.campaign = _wait(lambda: (lambda r: r.json() if r.status_code == 201 else None)(
            self.bystander.post("/campaigns", json=self.campaign_body())), what="lobbying to learn the emergence")
        self.commitment_id = self.fresh_commitment()
        self.notification = {role: _wait(lambda c=self.clients[role]: c.get("/me/notifications").json()["items"],
                                         what=f"{role}'s notification")[0]["id"] for role in LOGGED_IN}
        self.bystander_notification = _wait(lambda: self.bystander.get("/me/notifications").json()["items"],
                                            what="the bystander's notification")[0]["id"]
        from services.notifications.domain import make_unsubscribe_token

        self.unsubscribe_token = make_unsubscribe_token(
            self.platform.env["NOTIFICATIONS_SECRET"], "campaign_milestone_reached", self.bystander.email,
            self.bystander.user["id"])
        return self

    def campaign_body(self):
        return {"proposal_id": self.emerged_proposal["id"], "title": "Des arbres dans les cours", "goal": 50,
                "pitch": "Les cours d'école sont des fournaises : obtenons des engagements.",
                "target_actor_ids": [self.a1["id"]]}

    def _make_emerge(self, question_id, proposal_id):
        """Trusted agree votes from new visitors, through the sequence, until it emerges."""
        def vote_once():
            visitor = Client(self.platform)
            served = visitor.get(f"/questions/{question_id}/sequence")
            self.last_sequence = served.text  # voting may not know the question yet: try again
            items = {i["id"]: i for i in served.json().get("items", [])}
            if proposal_id in items:
                visitor.put(f"/proposals/{proposal_id}/vote", json={
                    "key": "agree", "qualifications": ["likeIt", "doable"],
                    "proposal_key": items[proposal_id]["proposal_key"]})
            # a 404 until voting has learnt the acceptance (an event): keep waiting
            return Client(self.platform).get(f"/proposals/{proposal_id}/results").json().get("emerged", False)
        _wait(vote_once, timeout=90, what=f"the proposal to emerge (last sequence: {getattr(self, 'last_sequence', '')[:300]})")


@pytest.fixture(scope="module")
def world(platform):
    with RpcClient(platform.amqp_uri, timeout=10) as rpc:
        yield World(platform, rpc).build()


# -- the matrix --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the OpenAPI document
    variant: str
    expect: dict  # role -> status (an int, or a frozenset when the rule allows several)
    build: Callable = lambda w, role: {}  # (world, role) -> {"path": {...}, "json": ..., "params": ..., "headers": ...}
    xfail: str = ""  # a known authorization bug in code this test may not change
    check: Callable = None  # (world, role, response): what the role may read of the answer

    @property
    def name(self):
        return f"{self.method} {self.path}" + (f" [{self.variant}]" if self.variant else "")


def _vote_body(w, role):
    return {"key": "agree", "qualifications": ["likeIt"]}


def _voted_then(w, role):
    """DELETE /vote: the role votes first, so there is a vote to withdraw."""
    client, pid = w.clients[role], w.accepted_proposal["id"]
    _ok(client.put(f"/proposals/{pid}/vote", json=_vote_body(w, role)), 401 if role == FORGED else 200)
    return {"path": {"proposal_id": pid}}


V1 = "/api/v1"
PENDING_TEXT = "Il faut interdire les trottinettes sur les trottoirs de Lyon"
MODERATORS = (MOD, ADMIN)
EDITORS = (EDITOR, ADMIN)
PENDING_VISIBLE = {ANON: 404, CIT: 200, MOD: 200, MOD2: 404, OFF: 404, OFF2: 404, EDITOR: 404, ADMIN: 200,
                   FORGED: 401}
PENDING_READERS = {role for role, status in PENDING_VISIBLE.items() if status == 200}  # its author, Q1's moderators


def _similar_shows_pending_to_its_readers_only(w, role, response):
    body = response.json()
    listed = {d["id"] for d in body["likely_duplicates"]}
    if role in PENDING_READERS:
        assert w.pending_proposal["id"] in listed, body
    else:
        assert w.pending_proposal["id"] not in listed and body["pending_similar"] >= 1, body
        assert PENDING_TEXT not in response.text


def _queue_within_own_questions(w, role, response):
    own = {MOD: {w.q1["id"]}, MOD2: {w.q2["id"]}}.get(role)
    questions = {p["question_id"] for g in response.json()["groups"] for p in g["proposals"]}
    assert own is None or questions <= own, (role, questions)


def _only_own_proposals(w, role, response):
    items = response.json()["items"]
    user_id = w.clients[role].user["id"]
    assert all(p["author_id"] == user_id for p in items), items
    assert (w.pending_proposal["id"] in {p["id"] for p in items}) == (role == CIT)

ROWS = [
    # accounts
    Row("POST", f"{V1}/accounts", "", everyone(201), lambda w, r: {"json": {
        "email": f"{uuid.uuid4().hex[:12]}@example.org", "password": "a long enough password",
        "display_name": "Nouveau", "country": "FR", "language": "fr"}}),
    Row("POST", f"{V1}/auth/token", "someone's credentials", everyone(200), lambda w, r: {
        "json": {"email": w.bystander.email, "password": w.bystander.password},
        "headers": {"X-Session-Id": uuid.uuid4().hex}}),  # a session of its own: the role's votes stay put
    Row("GET", f"{V1}/me", "", logged_in(200)),
    # questions
    Row("POST", f"{V1}/questions", "", only({ADMIN}, 201), lambda w, r: {"json": _question_body()}),
    Row("GET", f"{V1}/questions", "", everyone(200), lambda w, r: {"params": {"country": "FR"}}),
    Row("GET", f"{V1}/questions/{{id_or_slug}}", "Q1", everyone(200), lambda w, r: {"path": {"id_or_slug": w.q1["id"]}}),
    Row("POST", f"{V1}/questions/{{question_id}}/proposals", "Q1", logged_in(201),
        lambda w, r: {"path": {"question_id": w.q1["id"]}, "json": {"content": _content()}}),
    Row("GET", f"{V1}/questions/{{question_id}}/proposals", "Q1", everyone(200),
        lambda w, r: {"path": {"question_id": w.q1["id"]}}),
    Row("GET", f"{V1}/questions/{{question_id}}/sequence", "Q1", everyone(200),
        lambda w, r: {"path": {"question_id": w.q1["id"]}}),
    Row("GET", f"{V1}/questions/{{question_id}}/similar", "draft like citizen's pending proposal in Q1",
        everyone(200), lambda w, r: {"path": {"question_id": w.q1["id"]}, "params": {"content": PENDING_TEXT}},
        check=_similar_shows_pending_to_its_readers_only),
    Row("GET", f"{V1}/countries", "", everyone(200)),
    # proposals and moderation
    Row("GET", f"{V1}/proposals/{{proposal_id}}", "accepted", everyone(200),
        lambda w, r: {"path": {"proposal_id": w.accepted_proposal["id"]}}),
    Row("GET", f"{V1}/proposals/{{proposal_id}}", "pending in Q1, by citizen", PENDING_VISIBLE,
        lambda w, r: {"path": {"proposal_id": w.pending_proposal["id"]}}),
    Row("GET", f"{V1}/me/proposals", "", logged_in(200), lambda w, r: {"params": {"per_page": 100}},
        check=_only_own_proposals),
    Row("POST", f"{V1}/proposals/{{proposal_id}}/accept", "fresh pending in Q1", only(MODERATORS, 200),
        lambda w, r: {"path": {"proposal_id": w.fresh_pending()}, "json": {"tags": ["ville"]}}),
    Row("POST", f"{V1}/proposals/{{proposal_id}}/refuse", "fresh pending in Q1", only(MODERATORS, 200),
        lambda w, r: {"path": {"proposal_id": w.fresh_pending()}, "json": {"reason": "off-topic"}}),
    Row("POST", f"{V1}/proposals/{{proposal_id}}/postpone", "fresh pending in Q1", only(MODERATORS, 200),
        lambda w, r: {"path": {"proposal_id": w.fresh_pending()}}),
    Row("GET", f"{V1}/moderation/queue", "question=Q1", only(MODERATORS, 200),
        lambda w, r: {"params": {"question": w.q1["id"], "limit": 1}}, check=_queue_within_own_questions),
    Row("GET", f"{V1}/moderation/queue", "question=Q1's slug", only(MODERATORS, 200),
        lambda w, r: {"params": {"question": w.q1["slug"], "limit": 1}}, check=_queue_within_own_questions),
    Row("GET", f"{V1}/moderation/queue", "own questions", only((MOD, MOD2, ADMIN), 200),
        lambda w, r: {"params": {"limit": 1}}, check=_queue_within_own_questions),
    # voting
    Row("PUT", f"{V1}/proposals/{{proposal_id}}/vote", "accepted", everyone(200),
        lambda w, r: {"path": {"proposal_id": w.accepted_proposal["id"]}, "json": _vote_body(w, r)}),
    Row("DELETE", f"{V1}/proposals/{{proposal_id}}/vote", "own vote", everyone(200), _voted_then),
    Row("GET", f"{V1}/proposals/{{proposal_id}}/results", "accepted", everyone(200),
        lambda w, r: {"path": {"proposal_id": w.accepted_proposal["id"]}}),
    Row("GET", f"{V1}/proposals/{{proposal_id}}/results", "pending", everyone(404),
        lambda w, r: {"path": {"proposal_id": w.pending_proposal["id"]}}),
    Row("GET", f"{V1}/me/votes", "", everyone(200), lambda w, r: {"params": {"proposal": [w.accepted_proposal["id"]]}}),
    # lobbying
    Row("POST", f"{V1}/campaigns", "emerged proposal, target A1", logged_in(201),
        lambda w, r: {"json": w.campaign_body()}),
    Row("GET", f"{V1}/campaigns", "", everyone(200), lambda w, r: {"params": {"actor": w.a1["id"]}}),
    Row("GET", f"{V1}/campaigns/{{campaign_id}}", "C1", everyone(200),
        lambda w, r: {"path": {"campaign_id": w.campaign["id"]}}),
    Row("POST", f"{V1}/campaigns/{{campaign_id}}/support", "C1", logged_in(200),
        lambda w, r: {"path": {"campaign_id": w.campaign["id"]}}),
    Row("DELETE", f"{V1}/campaigns/{{campaign_id}}/support", "C1", logged_in(200),
        lambda w, r: {"path": {"campaign_id": w.campaign["id"]}}),
    Row("POST", f"{V1}/campaigns/{{campaign_id}}/responses", "C1 targets A1 only", only({OFF}, 201),
        lambda w, r: {"path": {"campaign_id": w.campaign["id"]},
                      "json": {"stance": "decline", "statement": "Ce n'est pas dans mes compétences."}}),
    # public actors and commitments
    Row("POST", f"{V1}/actors", "", only({ADMIN}, 201), lambda w, r: {"json": _actor_body("Camille Matrice (fictive)")}),
    Row("GET", f"{V1}/actors", "", everyone(200), lambda w, r: {"params": {"country": "FR"}}),
    Row("GET", f"{V1}/actors/{{actor_id}}", "A1", everyone(200), lambda w, r: {"path": {"actor_id": w.a1["id"]}}),
    Row("POST", f"{V1}/commitments", "for A1", only(EDITORS, 201), lambda w, r: {"json": w.commitment_body()}),
    Row("POST", f"{V1}/commitments/{{commitment_id}}/status", "fresh commitment of A1", only(EDITORS, 200),
        lambda w, r: {"path": {"commitment_id": w.fresh_commitment()},
                      "json": {"status": "in_the_works", "evidence_url": "https://example.org/budget"}}),
    Row("GET", f"{V1}/commitments", "", everyone(200), lambda w, r: {"params": {"actor": w.a1["id"]}}),
    Row("GET", f"{V1}/commitments/{{commitment_id}}", "", everyone(200),
        lambda w, r: {"path": {"commitment_id": w.commitment_id}}),
    # notifications
    Row("GET", f"{V1}/me/notifications", "", logged_in(200)),
    Row("POST", f"{V1}/me/notifications/{{notification_id}}/read", "own", logged_in(200),
        lambda w, r: {"path": {"notification_id": w.notification.get(r, 1)}}),
    Row("POST", f"{V1}/me/notifications/{{notification_id}}/read", "someone else's", logged_in(404),
        lambda w, r: {"path": {"notification_id": w.bystander_notification}}),
    Row("POST", f"{V1}/me/notifications/read-all", "", logged_in(200)),
    Row("GET", f"{V1}/me/notification-preferences", "", logged_in(200)),
    Row("PUT", f"{V1}/me/notification-preferences", "", logged_in(200),
        lambda w, r: {"json": {"preferences": {"official_responded": "weekly"}}}),
    Row("GET", f"{V1}/unsubscribe/{{token}}", "valid link", everyone(200),
        lambda w, r: {"path": {"token": w.unsubscribe_token}}),
    Row("POST", f"{V1}/unsubscribe/{{token}}", "valid link", everyone(200),
        lambda w, r: {"path": {"token": w.unsubscribe_token}}),
    Row("GET", f"{V1}/admin/deliveries", "", only({ADMIN}, 200), lambda w, r: {"params": {"status": "sent"}}),
    # real-time stream and probes
    Row("GET", f"{V1}/stream", "", everyone(200), lambda w, r: {"params": {"campaign": w.campaign["id"]}, "stream": True}),
    Row("GET", "/healthz", "", everyone(200)),
    Row("GET", "/readyz", "", everyone(200)),
]


def _send(world, row, role):
    spec = row.build(world, role)
    client = world.clients[role]
    headers = dict(spec.get("headers", {}))
    if client.token:
        headers["Authorization"] = f"Bearer {client.token}"
    path = row.path.format(**spec.get("path", {}))
    response = client.http.request(row.method, f"{world.platform.url}{path}", headers=headers,
                                   json=spec.get("json"), params=spec.get("params"), timeout=15,
                                   stream=spec.get("stream", False))
    if spec.get("stream") and response.status_code == 200:
        response.close()  # an open SSE stream: the status is all we need
    return response


def _cases():
    for row in ROWS:
        for role in ROLES:
            marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
            yield pytest.param(row, role, id=f"{row.name} as {role}", marks=marks)


@pytest.mark.parametrize("row, role", list(_cases()))
def test_authorization(world, row, role):
    expected = row.expect[role]
    allowed = expected if isinstance(expected, frozenset) else {expected}
    response = _send(world, row, role)
    assert response.status_code in allowed, (
        f"{row.name} as {role}: expected {sorted(allowed)}, got {response.status_code}: "
        f"{'(stream)' if row.path.endswith('/stream') else response.text[:500]}")
    if response.status_code in (401, 403) and row.path.startswith(V1):
        assert response.json()["code"] == response.status_code  # the API's one error shape
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if row.check and response.status_code < 300:
        row.check(world, role, response)


def test_every_openapi_operation_has_a_row(platform):
    spec = requests.get(f"{platform.api}/openapi.json", timeout=10).json()
    operations = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops if method in ("get", "post", "put", "patch", "delete")}
    covered = {(row.path, row.method) for row in ROWS}
    assert operations - covered == set(), "operations without an authorization matrix row"
    assert covered - operations - PROBES == set(), "matrix rows for operations the API does not have"
    assert all(set(row.expect) == set(ROLES) for row in ROWS), "every row names every role"
    assert len({row.name for row in ROWS}) == len(ROWS), "row names are unique (they name the test cases)"


def test_registration_cannot_grant_roles(platform):
    """Roles come from the operator only: a registration naming them is refused, field by field."""
    body = {"email": f"{uuid.uuid4().hex[:12]}@example.org", "password": "a long enough password",
            "display_name": "Mallory", "country": "FR", "language": "fr",
            "roles": ["admin"], "moderated_questions": ["q"], "actor_id": "a"}
    response = requests.post(f"{platform.api}/accounts", json=body, timeout=15)
    assert response.status_code == 400, response.text
    assert {"roles", "moderated_questions", "actor_id"} <= response.json()["errors"]["json"].keys()
