"""The gateway's edge behaviour without the bus: remote errors -> HTTP (gateway/errors.py),
request validation, bearer tokens, anonymous sessions, probes and the OpenAPI document.

The RPC client is replaced by a fake (app.extensions["rpc"]): what is under test here is
the gateway's own mapping, not the transport (see tests/service/test_rpc_client.py).
"""
import re
import threading
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from common import tokens
from common.rpc_client import BrokerUnavailable, RemoteError, RpcTimeout, ServiceUnavailable
from gateway.app import create_app
from services.accounts.domain import AccountRules, Identity, token_claims

SID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
USER = {
    "id": "u-1", "email": "claire@example.org", "display_name": "Claire", "country": "FR", "language": "fr",
    "postcode": None, "roles": ["citizen"], "moderated_questions": [], "actor_id": None,
    "created_at": "2024-03-01T12:00:00+00:00",
}
REGISTRATION = {"email": "claire@example.org", "password": "0123456789", "display_name": "Claire",
                "country": "FR", "language": "fr"}
CREDENTIALS = {"email": "claire@example.org", "password": "0123456789"}
EMPTY_PAGE = {"items": [], "total": 0, "page": 1, "per_page": 20}


class FakeRpc:
    """Stands in for common.rpc_client.RpcClient: records calls, answers from ``results``
    (a value, or an exception to raise) keyed by (service, method)."""

    def __init__(self):
        self.calls = []
        self.results = {}
        self.default = None
        self._lock = threading.Lock()

    def call(self, service, method, *args, timeout=None, headers=None, **kwargs):
        with self._lock:
            self.calls.append({"service": service, "method": method, "args": args, "timeout": timeout,
                               "headers": headers, "kwargs": kwargs})
        result = self.results.get((service, method), self.default)
        if isinstance(result, BaseException):
            raise result
        return result

    def methods(self):
        return [(c["service"], c["method"]) for c in self.calls]


@pytest.fixture
def fake():
    return FakeRpc()


@pytest.fixture
def app(fake):
    app = create_app({"SERVICES": ["accounts", "proposals"], "READY_TIMEOUT": 0.7, "TESTING": True})
    app.extensions["rpc"] = fake

    from flask import g

    @app.get("/api/v1/_test/session")
    def _session_probe():  # shows which anonymous session id the gateway settled on
        return {"session_id": g.session_id, "new": g.new_session}

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(app, *, now=None, secret=None, rules=AccountRules(), issuer=tokens.ISSUER, audience=tokens.AUDIENCE,
           **identity):
    values = {"user_id": "u-1", "roles": {"moderator"}, "moderated_questions": {"q1"}}
    values.update(identity)
    claims = token_claims(Identity(**values), now or datetime.now(timezone.utc), rules, issuer, audience)
    return {"Authorization": "Bearer " + tokens.encode(claims, secret or app.config["JWT_SECRET"])}


# --------------------------------------------------------------------------
# Remote errors -> HTTP
# --------------------------------------------------------------------------


def test_remote_validation_failed_is_400_naming_the_fields(client, fake):
    fake.results[("accounts", "register")] = RemoteError(
        "ValidationFailed", "email: bad; password: short",
        [{"email": "must be a valid e-mail address", "password": ["too short", "too common"]}])
    response = client.post("/api/v1/accounts", json=REGISTRATION)
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 400
    assert body["errors"]["json"] == {"email": ["must be a valid e-mail address"],
                                      "password": ["too short", "too common"]}
    assert fake.methods() == [("accounts", "register")]
    assert fake.calls[0]["args"] == (REGISTRATION,)


def test_remote_validation_failed_keeps_nested_field_errors(client, fake):
    fake.results[("accounts", "register")] = RemoteError(
        "ValidationFailed", "x", [{"address": {"city": ["required"]}}])
    response = client.post("/api/v1/accounts", json=REGISTRATION)
    assert response.status_code == 400
    assert response.get_json()["errors"]["json"] == {"address": {"city": ["required"]}}


@pytest.mark.parametrize("exc_args,expected", [
    (["not a mapping"], {"_schema": ["not a mapping"]}),
    ([], {}),
])
def test_remote_validation_failed_without_field_mapping(client, fake, exc_args, expected):
    fake.results[("accounts", "register")] = RemoteError("ValidationFailed", "v", exc_args)
    response = client.post("/api/v1/accounts", json=REGISTRATION)
    assert response.status_code == 400
    assert response.get_json()["errors"]["json"] == expected


@pytest.mark.parametrize("exc_type,status", [
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("NotFound", 404),
    ("Conflict", 409),
    ("IllegalTransition", 409),
    ("Locked", 409),
])
def test_remote_error_status(client, fake, exc_type, status):
    fake.results[("accounts", "authenticate")] = RemoteError(exc_type, "value text", [f"{exc_type} message"])
    response = client.post("/api/v1/auth/token", json=CREDENTIALS)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status
    assert body["message"] == f"{exc_type} message"
    assert "Retry-After" not in response.headers


def test_remote_error_without_args_uses_its_value_as_message(client, fake):
    fake.results[("proposals", "get_proposal")] = RemoteError("NotFound", "no proposal p-1", [])
    response = client.get("/api/v1/proposals/p-1")
    assert response.status_code == 404
    assert response.get_json()["message"] == "no proposal p-1"
    assert fake.calls[0]["args"] == ("p-1", None)


@pytest.mark.parametrize("exc_args,retry_after", [
    (["too many failed logins", 30], "30"),
    (["too many failed logins", 1], "1"),
    (["too many failed logins", "7"], "7"),
    (["too many failed logins", 0], "1"),
    (["too many failed logins", "soon"], "1"),
    (["too many failed logins"], "1"),
])
def test_too_many_requests_is_429_with_retry_after(client, fake, exc_args, retry_after):
    fake.results[("accounts", "authenticate")] = RemoteError("TooManyRequests", "too many failed logins", exc_args)
    response = client.post("/api/v1/auth/token", json=CREDENTIALS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == retry_after
    assert response.get_json()["message"] == "too many failed logins"


@pytest.mark.parametrize("exc_type", ["ZeroDivisionError", "OperationalError", "MethodNotFound",
                                      "IncorrectSignature", None, "validationfailed"])
def test_unknown_remote_error_is_502_without_leaking_details(client, fake, exc_type):
    fake.results[("accounts", "authenticate")] = RemoteError(
        exc_type, "password=hunter2 at db.internal:5432", ["password=hunter2 at db.internal:5432"])
    response = client.post("/api/v1/auth/token", json=CREDENTIALS)
    assert response.status_code == 502
    assert response.is_json
    assert "hunter2" not in response.get_data(as_text=True)
    assert "db.internal" not in response.get_data(as_text=True)


@pytest.mark.parametrize("exc", [
    ServiceUnavailable("service accounts is not running"),
    RpcTimeout("accounts.authenticate did not answer within 5.0s"),
    BrokerUnavailable("message broker unavailable: AMQPConnectionError"),
])
def test_unavailable_is_503_json_with_retry_after(client, fake, exc):
    fake.results[("accounts", "authenticate")] = exc
    response = client.post("/api/v1/auth/token", json=CREDENTIALS)
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json()["code"] == 503
    assert response.get_json()["message"] == str(exc)
    assert int(response.headers["Retry-After"]) >= 1


def test_request_id_is_propagated_to_the_call_and_echoed(client, fake):
    fake.default = EMPTY_PAGE
    response = client.get("/api/v1/questions", headers={"X-Request-Id": "req-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "req-42"
    assert fake.calls[0]["headers"] == {"nameko.call_id_stack": ["gateway.req-42"]}
    generated = client.get("/api/v1/questions").headers["X-Request-Id"]
    assert generated and generated != "req-42"
    assert fake.calls[1]["headers"] == {"nameko.call_id_stack": [f"gateway.{generated}"]}


# --------------------------------------------------------------------------
# Request validation at the edge
# --------------------------------------------------------------------------


def test_body_field_of_wrong_type_is_400_naming_it(client, fake):
    response = client.post("/api/v1/accounts", json={"email": 1})
    assert response.status_code == 400
    errors = response.get_json()["errors"]["json"]
    assert "email" in errors and errors["email"] == ["Not a valid string."]
    assert {"password", "display_name", "country", "language"} <= set(errors)  # missing ones named too
    assert fake.calls == []


def test_single_bad_field_is_the_only_one_named(client, fake):
    response = client.post("/api/v1/accounts", json=dict(REGISTRATION, country=["FR"]))
    assert response.status_code == 400
    assert set(response.get_json()["errors"]["json"]) == {"country"}
    assert fake.calls == []


def test_unknown_body_field_is_400(client, fake):
    response = client.post("/api/v1/accounts", json=dict(REGISTRATION, roles=["admin"]))
    assert response.status_code == 400
    assert set(response.get_json()["errors"]["json"]) == {"roles"}
    assert fake.calls == []


@pytest.mark.parametrize("kwargs", [
    {"data": "not json", "content_type": "application/json"},
    {"json": [REGISTRATION]},
    {"json": "claire@example.org"},
])
def test_body_that_is_not_an_object_is_400(client, fake, kwargs):
    response = client.post("/api/v1/accounts", **kwargs)
    assert response.status_code == 400
    assert "json" in response.get_json()["errors"]
    assert fake.calls == []


def test_bad_query_parameter_is_400_naming_it(client, fake):
    response = client.get("/api/v1/questions?per_page=1000")
    assert response.status_code == 400
    assert set(response.get_json()["errors"]["query"]) == {"per_page"}
    assert fake.calls == []


def test_valid_body_reaches_the_service_as_sent(client, fake):
    fake.results[("accounts", "register")] = USER
    response = client.post("/api/v1/accounts", json=dict(REGISTRATION, postcode=None))
    assert response.status_code == 201
    assert response.get_json()["id"] == "u-1"
    assert fake.calls[0]["args"] == (dict(REGISTRATION, postcode=None),)


# --------------------------------------------------------------------------
# Bearer tokens
# --------------------------------------------------------------------------


def test_me_without_token_is_401_with_challenge(client, fake):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert fake.calls == []


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Token abc", "bearer-abc", "abc",
])
def test_malformed_authorization_is_401_with_challenge(client, fake, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert fake.calls == []


def _invalid_token(app, kind):
    now = datetime.now(timezone.utc)
    secret = app.config["JWT_SECRET"]
    claims = token_claims(Identity(user_id="u-1"), now, AccountRules(), tokens.ISSUER, tokens.AUDIENCE)
    good = tokens.encode(claims, secret)
    head, body, signature = good.split(".")
    makers = {
        "garbage": lambda: "not-a-jwt",
        "truncated": lambda: good[:-5],
        "tampered signature": lambda: f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",
        "expired": lambda: bearer(app, now=now - timedelta(hours=2))["Authorization"].split(" ", 1)[1],
        "wrong secret": lambda: tokens.encode(claims, "another-secret-0123456789abcdef0123456789"),
        "wrong issuer": lambda: tokens.encode(dict(claims, iss="someone-else"), secret),
        "wrong audience": lambda: tokens.encode(dict(claims, aud="other-api"), secret),
        "alg none": lambda: jwt.encode(claims, None, algorithm="none"),
        "no sub": lambda: tokens.encode({k: v for k, v in claims.items() if k != "sub"}, secret),
        "no exp": lambda: tokens.encode({k: v for k, v in claims.items() if k != "exp"}, secret),
        "HS512": lambda: jwt.encode(claims, secret, algorithm="HS512"),  # right key, algorithm not allowed
    }
    return makers[kind]()


@pytest.mark.parametrize("kind", ["garbage", "truncated", "tampered signature", "expired", "wrong secret",
                                  "wrong issuer", "wrong audience", "alg none", "no sub", "no exp", "HS512"])
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_invalid_token_is_401_invalid_token(app, client, fake, kind):
    token = _invalid_token(app, kind)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="civic", error="invalid_token"'
    assert response.get_json()["code"] == 401
    assert fake.calls == []


def test_valid_token_calls_get_user_with_the_subject(app, client, fake):
    fake.results[("accounts", "get_user")] = dict(USER, id="user-123", roles=["citizen", "moderator"])
    response = client.get("/api/v1/me", headers=bearer(app, user_id="user-123"))
    assert response.status_code == 200
    assert response.get_json()["id"] == "user-123"
    assert response.get_json()["roles"] == ["citizen", "moderator"]
    assert fake.methods() == [("accounts", "get_user")]
    assert fake.calls[0]["args"] == ("user-123",)


def test_token_expiring_soon_is_still_valid(app, client, fake):
    fake.results[("accounts", "get_user")] = USER
    now = datetime.now(timezone.utc) - timedelta(seconds=3590)  # 10 s left of a 1 h token
    assert client.get("/api/v1/me", headers=bearer(app, now=now)).status_code == 200


def test_caller_from_token_is_passed_to_services(app, client, fake):
    fake.default = {"groups": [], "lock_seconds": 300}
    headers = bearer(app, user_id="mod-1", roles={"moderator"}, moderated_questions={"q2", "q1"})
    response = client.get("/api/v1/moderation/queue?limit=5", headers=headers)
    assert response.status_code == 200
    assert fake.calls[0]["args"] == (
        {"user_id": "mod-1", "roles": ["citizen", "moderator"], "moderated_questions": ["q1", "q2"],
         "actor_id": None},
        {"limit": 5},
    )


def test_moderation_queue_without_token_is_401(client, fake):
    assert client.get("/api/v1/moderation/queue").status_code == 401
    assert fake.calls == []


# --------------------------------------------------------------------------
# Anonymous session id
# --------------------------------------------------------------------------


def test_new_session_id_is_returned_in_header_and_cookie(client):
    response = client.get("/api/v1/_test/session")
    sid = response.headers["X-Session-Id"]
    assert SID_RE.match(sid)
    assert response.get_json() == {"session_id": sid, "new": True}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"sid={sid};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=31536000" in cookie
    assert "Secure" not in cookie


def test_each_new_caller_gets_a_different_session(app):
    sids = {app.test_client().get("/api/v1/_test/session").headers["X-Session-Id"] for _ in range(5)}
    assert len(sids) == 5


def test_session_cookie_is_secure_when_configured(fake):
    app = create_app({"SERVICES": [], "SECURE_COOKIES": True})
    app.extensions["rpc"] = fake
    fake.default = EMPTY_PAGE
    assert "Secure" in app.test_client().get("/api/v1/questions").headers["Set-Cookie"]


@pytest.mark.parametrize("sid", ["a" * 16, "A" * 64, "abc_DEF-0123456789", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
def test_valid_session_header_is_kept(client, sid):
    response = client.get("/api/v1/_test/session", headers={"X-Session-Id": sid})
    assert response.get_json() == {"session_id": sid, "new": False}
    assert "X-Session-Id" not in response.headers
    assert "Set-Cookie" not in response.headers


def test_valid_session_cookie_is_kept(client):
    sid = "cookie_session_0123456789"
    client.set_cookie("sid", sid)
    response = client.get("/api/v1/_test/session")
    assert response.get_json() == {"session_id": sid, "new": False}
    assert "Set-Cookie" not in response.headers


def test_session_issued_once_is_then_reused_by_the_cookie(client):
    first = client.get("/api/v1/_test/session").headers["X-Session-Id"]
    second = client.get("/api/v1/_test/session")
    assert second.get_json() == {"session_id": first, "new": False}


@pytest.mark.parametrize("sid", ["bad!", "a" * 15, "a" * 65, "has space 0123456789", "semi;colon0123456789",
                                 "ünïcödé0123456789"])
def test_invalid_session_header_is_replaced(client, sid):
    response = client.get("/api/v1/_test/session", headers={"X-Session-Id": sid})
    new = response.headers["X-Session-Id"]
    assert new != sid and SID_RE.match(new)
    assert response.get_json() == {"session_id": new, "new": True}
    assert response.headers["Set-Cookie"].startswith(f"sid={new};")


def test_invalid_session_cookie_is_replaced(client):
    client.set_cookie("sid", "bad!")
    response = client.get("/api/v1/_test/session")
    new = response.headers["X-Session-Id"]
    assert new != "bad!" and SID_RE.match(new)


# --------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------


def test_healthz_is_200_and_sets_no_session(client, fake):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "X-Session-Id" not in response.headers and "Set-Cookie" not in response.headers
    assert fake.calls == []


def test_readyz_pings_every_configured_service(client, fake):
    fake.default = {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready" and body["broker"] == "ok"
    assert set(body["services"]) == {"accounts", "proposals"}
    assert sorted(fake.methods()) == [("accounts", "ping"), ("proposals", "ping")]
    assert all(c["timeout"] == 0.7 for c in fake.calls)


def test_readyz_is_503_naming_the_service_that_is_down(client, fake):
    fake.default = {"status": "ok"}
    fake.results[("proposals", "ping")] = ServiceUnavailable("service proposals is not running")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["services"]["accounts"]["status"] == "ok"
    assert body["services"]["proposals"]["status"] == "unavailable"
    assert body["broker"] == "ok"


def test_readyz_reports_the_broker(client, fake):
    fake.default = BrokerUnavailable("message broker unavailable: AMQPConnectionError")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["broker"] == "unavailable"


# --------------------------------------------------------------------------
# OpenAPI
# --------------------------------------------------------------------------


def _resolve(document, ref):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_openapi_document_is_valid_openapi_3(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert re.match(r"^3\.\d+\.\d+$", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    for ref in _refs(doc):
        _resolve(doc, ref)
    for path, item in doc["paths"].items():
        assert path.startswith("/api/v1/")
        operations = {k: v for k, v in item.items() if k in HTTP_METHODS}
        assert operations, path
        for method, op in operations.items():
            assert op["responses"], (path, method)
            declared = {p["name"] for p in item.get("parameters", []) + op.get("parameters", [])
                        if p.get("in") == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), (path, method)
            for requirement in op.get("security", []):
                assert set(requirement) <= set(doc["components"]["securitySchemes"])


def test_openapi_lists_the_public_paths_and_bearer_scheme(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, method in [("/api/v1/accounts", "post"), ("/api/v1/auth/token", "post"), ("/api/v1/me", "get"),
                         ("/api/v1/questions", "get"), ("/api/v1/questions", "post"),
                         ("/api/v1/moderation/queue", "get")]:
        assert method in doc["paths"].get(path, {}), (path, method)
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert doc["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/v1/moderation/queue"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in doc["paths"]["/api/v1/accounts"]["post"]
    register = doc["paths"]["/api/v1/accounts"]["post"]
    schema = _resolve(doc, register["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert {"email", "password", "display_name", "country", "language"} <= set(schema["required"])
    assert "429" in doc["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "_test" not in " ".join(doc["paths"])
