"""The votes' lane (gateway/vote_lane.py) against Flask: every request below is sent to
the gateway with the lane and without it, and the two answers must be the same (status,
headers in order, body), with the same vote handed to the batch caller, the same rate
limits, the same RPC calls and the same access-log line. Each case also says who
answered: the lane (Flask's hooks never ran) or Flask.

No bus here: the batch caller, the rate limiter and the RPC client are stand-ins (the
real ones have their own tests; tests/e2e/test_voting.py votes through the real gateway,
broker and voting service).
"""
import json
import logging
import re
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from common import tokens
from common.rpc_client import BrokerUnavailable, RemoteError, RpcTimeout
from gateway.app import create_app
from gateway.batching import Overloaded, RetryAlone
from gateway.ratelimit import RateLimited
from gateway.vote_lane import VoteLane

PID = "6f1c0c1e-0000-4000-8000-00000000abcd"
PATH = f"/api/v1/proposals/{PID}/vote"
SID = "s" * 24
OK = {"proposal_id": PID, "key": "agree", "qualifications": ["realistic"], "trusted": True, "action": "cast"}
SECRET = "lane-test-secret-0123456789-0123456789"


class Caller:
    """Stands in for the app's BatchCaller of voting.vote_batch."""

    enabled = True

    def __init__(self):
        self.items, self.admissions, self.outcome = [], [], OK

    def call(self, item, timeout=None, admission=None):
        self.items.append(item)
        self.admissions.append(admission)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return dict(self.outcome, proposal_id=item["proposal_id"])


class Rpc:
    """Stands in for the RPC client (the single ``voting.vote`` call after RetryAlone)."""

    def __init__(self):
        self.calls, self.outcome = [], OK

    def call(self, service, method, *args, timeout=None, headers=None, **kwargs):
        self.calls.append((service, method, args, headers))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class Limiter:
    def admit(self, admissions):  # the batch caller stand-in asks nothing; enforce() would
        return [None for _ in admissions]


def make(lane: bool, **config):
    # not TESTING: an exception is answered as in production (Flask's 500), not raised to the test
    app = create_app({"VOTE_LANE": lane, "JWT_SECRET": SECRET, "SERVICES": ["voting"], **config})
    app.extensions["rpc"] = Rpc()
    app.extensions["ratelimit"] = Limiter()
    caller = app.extensions[("batcher", "voting", "vote_batch")] = Caller()
    app.flask_saw = []

    def _spy():  # first of the before_request hooks: runs for every request Flask answers
        from flask import request
        app.flask_saw.append(request.path)

    app.before_request_funcs.setdefault(None, []).insert(0, _spy)

    return app, caller


def token(sub="u-7", secret=SECRET, **extra):
    now = datetime.now(timezone.utc)
    claims = {"sub": sub, "iat": now, "exp": now + timedelta(minutes=5), "iss": tokens.ISSUER,
              "aud": tokens.AUDIENCE, "roles": ["citizen"], **extra}
    return jwt.encode(claims, secret, algorithm=tokens.ALGORITHM)


def body(**fields):
    return json.dumps({"key": "agree", "qualifications": ["realistic"], **fields}).encode()


GENERATED = re.compile(r"[0-9a-f]{32}")  # a request or session id the gateway made up


EXPIRES = re.compile(r"Expires=[^;]*; ")  # a date: the two answers may be a second apart


def gen(value):
    return EXPIRES.sub("", GENERATED.sub("<gen>", value)) if isinstance(value, str) else value


def normalized(resp):
    """(status, [(header, value)], body bytes, json), the ids the gateway made up replaced
    by a mark."""
    headers = [(name, gen(value) if name in ("X-Request-Id", "X-Session-Id", "Set-Cookie") else value)
               for name, value in resp.headers.items()]
    return resp.status, headers, gen(resp.get_data(as_text=True)), resp.get_json(silent=True)


def send(app, method="PUT", path=PATH, data=None, headers=None, content_type="application/json",
         query_string=None, cookies=None, environ=None):
    client = app.test_client(use_cookies=environ is None)  # a raw Cookie header in ``environ`` is kept
    for name, value in (cookies or {}).items():
        client.set_cookie(name, value)
    return client.open(path, method=method, data=body() if data is None else data, query_string=query_string,
                       headers=headers if headers is not None else {"X-Session-Id": SID, "X-Request-Id": "r-1"},
                       content_type=content_type, environ_overrides=environ)


def both(caplog, outcome=OK, rpc_outcome=OK, config=None, **request):
    """The same request through the app with the lane and without; returns both sides'
    (normalized answer, batch items, admissions, rpc calls, access lines, Flask saw it)."""
    out = []
    for lane in (True, False):
        app, caller = make(lane, **(config or {}))
        caller.outcome = outcome
        app.extensions["rpc"].outcome = rpc_outcome
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="civic.access"):
            resp = send(app, **request)
        lines = [(r.method, r.path, r.status, gen(r.request_id)) for r in caplog.records if r.name == "civic.access"]
        items = [dict(i, voter=dict(i["voter"], session_id=gen(i["voter"]["session_id"]))) for i in caller.items]
        admissions = [a._replace(limits=tuple((gen(k), n) for k, n in a.limits)) for a in caller.admissions]
        out.append({"answer": normalized(resp), "items": items, "admissions": admissions,
                    "rpc": app.extensions["rpc"].calls, "access": lines, "flask": bool(app.flask_saw)})
    lane, flask = out
    assert flask["flask"], "without the lane, Flask answers everything"
    for key in ("answer", "items", "admissions", "access"):
        assert lane[key] == flask[key], key
    assert [c[:3] for c in lane["rpc"]] == [c[:3] for c in flask["rpc"]]
    return lane


# -- ordinary votes: answered by the lane, as Flask would ----------------------------------------
def test_an_anonymous_vote_is_answered_by_the_lane_as_flask_would(caplog):
    lane = both(caplog)
    assert not lane["flask"]
    status, headers, raw, payload = lane["answer"]
    assert status == "200 OK" and payload == OK
    assert headers == [("Content-Type", "application/json"), ("Content-Length", str(len(json.dumps(OK,
                       separators=(",", ":"))) + 1)), ("X-Request-Id", "r-1")]
    assert lane["items"] == [{"voter": {"user_id": None, "session_id": SID}, "proposal_id": PID,
                              "data": {"key": "agree", "qualifications": ["realistic"]}}]
    assert lane["access"] == [("PUT", PATH, 200, "r-1")]


def test_a_new_session_gets_its_id_back_from_the_lane(caplog):
    lane = both(caplog, headers={})
    assert not lane["flask"]
    names = [h[0] for h in lane["answer"][1]]
    assert names == ["Content-Type", "Content-Length", "X-Request-Id", "X-Session-Id", "Set-Cookie"]
    assert dict(lane["answer"][1])["Set-Cookie"].startswith("sid=<gen>;")


def test_a_cookie_that_is_not_utf8_does_not_stop_the_lane(caplog):
    lane = both(caplog, headers={}, environ={"HTTP_COOKIE": "a=\xff; sid=" + SID})  # as gunicorn decodes it
    assert not lane["flask"] and lane["answer"][0] == "200 OK"
    assert lane["items"][0]["voter"]["session_id"] == SID


def test_the_session_cookie_and_a_proposal_key_are_read_by_the_lane(caplog):
    lane = both(caplog, headers={}, cookies={"sid": SID}, data=body(proposal_key="k" * 40))
    assert not lane["flask"]
    assert lane["items"][0]["voter"]["session_id"] == SID
    assert lane["items"][0]["data"]["proposal_key"] == "k" * 40


def test_a_logged_in_vote_is_answered_by_the_lane(caplog):
    lane = both(caplog, headers={"Authorization": f"Bearer {token()}", "X-Session-Id": SID})
    assert not lane["flask"]
    assert lane["items"][0]["voter"] == {"user_id": "u-7", "session_id": SID}
    assert lane["admissions"][0].limits[0][0] == "vote:user:u-7"


def test_the_client_address_behind_a_trusted_proxy_is_the_same(caplog):
    lane = both(caplog, config={"TRUSTED_PROXY_HOPS": 1},
                headers={"X-Session-Id": SID, "X-Forwarded-For": "203.0.113.9, 198.51.100.2"})
    assert not lane["flask"]
    assert lane["admissions"][0].limits[1][0] == "vote:ip:198.51.100.2"


# -- anything unusual: Flask answers ------------------------------------------------------------
@pytest.mark.parametrize("request_", [
    pytest.param({"headers": {"Authorization": "Bearer not-a-token", "X-Session-Id": SID}}, id="bad-token"),
    pytest.param({"headers": {"Authorization": f"Bearer {token(secret='another-secret-0123456789-01234567')}"}},
                 id="foreign-token"),
    pytest.param({"headers": {"Authorization": "Basic dTpw", "X-Session-Id": SID}}, id="basic-auth"),
    pytest.param({"data": b"{not json"}, id="bad-json"),
    pytest.param({"data": b'["agree"]'}, id="json-array"),
    pytest.param({"data": json.dumps({"qualifications": []}).encode()}, id="missing-key"),
    pytest.param({"data": body(key="maybe")}, id="unknown-key-value"),
    pytest.param({"data": body(colour="blue")}, id="unknown-field"),
    pytest.param({"data": body(proposal_key="a\u0000b")}, id="nul-in-body"),
    pytest.param({"data": b"\xff\xfe"}, id="not-utf8"),
    pytest.param({"data": b""}, id="empty-body"),
    pytest.param({"data": body(proposal_key="k" * 5000)}, id="large-body"),
    pytest.param({"data": b"\xef\xbb\xbf" + body()}, id="utf8-bom"),
    pytest.param({"data": body()[:-1] + b', "proposal_key": "\xed\xa0\x80"}'}, id="surrogate-bytes"),
    pytest.param({"data": b"[" * 2000 + b"]" * 2000}, id="deep-nesting"),
    pytest.param({"content_type": "text/plain"}, id="not-json-type"),
    pytest.param({"query_string": {"x": "1"}}, id="query-string"),
    pytest.param({"path": "/api/v1/proposals/a%00b/vote"}, id="nul-in-path"),
    pytest.param({"path": "/api/v1/proposals/caf\u00e9/vote"}, id="non-ascii-path"),
    pytest.param({"method": "DELETE"}, id="delete"),
    pytest.param({"path": f"/api/v1/proposals/{PID}/votes"}, id="another-path"),
])
def test_unusual_requests_are_left_to_flask(caplog, request_):
    lane = both(caplog, **request_)
    assert lane["flask"]


def test_batching_off_leaves_votes_to_flask(caplog):
    lane = both(caplog, config={"RPC_BATCH_MAX": 1})
    assert lane["flask"] and lane["answer"][0] == "200 OK"
    assert [c[:2] for c in lane["rpc"]] == [("voting", "vote")]


# -- every answer but the 200: made by Flask, after the lane sent the vote ----------------------------
@pytest.mark.parametrize("outcome", [
    pytest.param(RemoteError("NotFound", "no such proposal", ["no such proposal"]), id="404"),
    pytest.param(RemoteError("Conflict", "question closed", ["the question is closed"]), id="409"),
    pytest.param(RemoteError("ValidationFailed", "bad", [{"proposal_key": ["unknown key"]}]), id="400-fields"),
    pytest.param(RemoteError("TooManyRequests", "slow down", ["slow down", 7]), id="429-service"),
    pytest.param(RemoteError("KeyError", "boom", ["boom"]), id="502-unexpected"),
    pytest.param(RateLimited(12, "votes"), id="429-limit"),
    pytest.param(Overloaded("voting.vote_batch is 2.5s behind"), id="503-overloaded"),
    pytest.param(RpcTimeout("no answer in time"), id="503-timeout"),
    pytest.param(BrokerUnavailable("broker down"), id="503-broker"),
])
def test_refusals_are_made_by_flask_with_the_identity_the_lane_read(caplog, outcome):
    lane = both(caplog, outcome=outcome, headers={})  # a new session: its id must be the one sent
    status, headers, raw, payload = lane["answer"]
    assert not status.startswith("200")
    assert payload["code"] == int(status[:3])
    assert dict(headers)["X-Session-Id"] == "<gen>"
    assert lane["access"] == [("PUT", PATH, int(status[:3]), "<gen>")]
    assert len(lane["items"]) == 1  # sent once, never again by Flask
    assert lane["rpc"] == []


def test_a_new_sessions_refusal_carries_the_session_id_the_vote_was_sent_with():
    app, caller = make(True)
    caller.outcome = RateLimited(3, "votes")
    resp = send(app, headers={})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.headers["X-Session-Id"] == caller.items[0]["voter"]["session_id"]


def test_a_batch_that_failed_whole_is_sent_alone_once(caplog):
    lane = both(caplog, outcome=RetryAlone())
    assert lane["answer"][0] == "200 OK" and lane["answer"][3] == OK
    assert [(c[0], c[1], c[2]) for c in lane["rpc"]] == [
        ("voting", "vote", ({"user_id": None, "session_id": SID}, PID, {"key": "agree", "qualifications": ["realistic"]}))]
    assert lane["rpc"][0][3] == {"nameko.call_id_stack": ["gateway.r-1"]}


def test_a_batch_that_failed_whole_then_refused_alone(caplog):
    lane = both(caplog, outcome=RetryAlone(), rpc_outcome=RemoteError("Conflict", "closed", ["closed"]))
    assert lane["answer"][0] == "409 CONFLICT"


def test_an_unexpected_failure_is_flasks_500(caplog):
    lane = both(caplog, outcome=ZeroDivisionError("bug"))
    assert lane["answer"][0].startswith("500") and lane["answer"][3]["code"] == 500
    assert lane["access"] == [("PUT", PATH, 500, "r-1")]


def test_a_200_that_cannot_be_built_is_flasks_500(caplog):
    lane = both(caplog, outcome={"qualifications": 5})  # the Vote schema cannot dump it
    assert lane["answer"][0].startswith("500") and len(lane["items"]) == 1


def test_debug_mode_indents_the_answer_as_flask_does(caplog):
    lane = both(caplog, config={"DEBUG": True})
    assert not lane["flask"] and "\n  " in lane["answer"][2]


@pytest.mark.parametrize("setting", [{"SERVER_NAME": "civic.example"}, {"TRUSTED_HOSTS": ["civic.example"]},
                                     {"MAX_CONTENT_LENGTH": 1024}])
def test_the_lane_stays_off_while_flask_checks_it_would_skip_are_set(setting):
    assert not isinstance(create_app({"VOTE_LANE": True, **setting}).wsgi_app, VoteLane)


# -- the switch ---------------------------------------------------------------------------------
def test_vote_lane_is_on_by_default_and_can_be_turned_off(monkeypatch):
    monkeypatch.delenv("VOTE_LANE", raising=False)
    assert isinstance(create_app({"TESTING": True}).wsgi_app, VoteLane)
    monkeypatch.setenv("VOTE_LANE", "off")
    assert not isinstance(create_app({"TESTING": True}).wsgi_app, VoteLane)
    monkeypatch.setenv("VOTE_LANE", "maybe")
    with pytest.raises(ValueError, match="VOTE_LANE"):
        create_app({"TESTING": True})


def test_the_lanes_request_id_survives_the_services_log_filter():
    """One process may run services too (``make run`` does not, the tests do): their
    ``ContextFilter`` must not erase the request id the lane gives its access-log line,
    whatever the order of the filters."""
    from common.observability import ContextFilter
    from gateway.observability import RequestFilter

    for filters in ([ContextFilter(), RequestFilter()], [RequestFilter(), ContextFilter()]):
        record = logging.LogRecord("civic.access", logging.INFO, __file__, 1, "request", None, None)
        record.request_id = "r-9"
        for f in filters:
            assert f.filter(record)
        assert record.request_id == "r-9"
    bare = logging.LogRecord("civic.access", logging.INFO, __file__, 1, "request", None, None)
    ContextFilter().filter(bare)
    assert bare.request_id is None and bare.call_id_stack is None


def test_the_hooks_the_lane_stands_in_for_are_the_apps_hooks():
    """The lane does what these hooks do for the votes it answers. A hook added to the app
    (or one of these removed) fails here: the lane must then do the same, or leave votes to
    Flask; see gateway/vote_lane.py."""
    app = create_app({"VOTE_LANE": True})
    before = [f.__qualname__ for f in app.before_request_funcs.get(None, [])]
    after = [f.__qualname__ for f in app.after_request_funcs.get(None, [])]
    assert before == ["load_identity", "reject_nul", "init_observability.<locals>._start"]
    assert sorted(after) == sorted(["store_session", "init_observability.<locals>._record"])
    assert not app.teardown_request_funcs and not app.url_value_preprocessors
    assert set(app.blueprints) >= {"voting"} and not app.blueprints["voting"].before_request_funcs
