"""The votes' lane: ``PUT /api/v1/proposals/<id>/vote`` answered without Flask's request
machinery when the request is an ordinary one.

A vote is the platform's hottest request (figure 2 of docs/benchmarks.md: 1,000/s on two
cores). Under that load the gateway spent ~0.4 ms of CPU per vote in Flask itself (the
request and application contexts, URL matching, five hooks, webargs, flask-smorest's
response wrapper, the response object) out of ~0.9 ms, the largest share of the machine.
This WSGI middleware (``app.wsgi_app = VoteLane(app, app.wsgi_app)``, ``VOTE_LANE``, on by
default) serves an ordinary vote with the same parts the Flask view uses, called
directly:

- who is calling: ``auth.identify`` (request id, bearer token, anonymous session);
- the body: parsed as JSON and loaded with the view's own schema (``schemas.VoteRequest``);
- the vote: the app's batch caller of ``voting.vote_batch`` with the vote's rate limits
  (``rpc.batcher``, ``ratelimit.vote_admission``), as ``call_batched`` does;
- the answer: ``schemas.Vote`` dumped by the app's JSON provider, with the headers
  ``auth.session_headers`` gives, the latency metric and the access-log line
  (``observability.record_request``).

Anything else goes to Flask unchanged, the body put back first: another method or path, a
query string, a body that is not a small JSON object valid for the schema, a NUL anywhere,
an ``Authorization`` header that is not a valid bearer token, batching off or paused, or
anything the lane fails to read. Those requests then get Flask's answer (the same 400,
401, ...), which is what the view would have given. An answer that is not a 200 (the
service refused the vote, a 429, a 503, the batch failed and the vote is sent alone, or
the 200 could not be built) is made by Flask too, in a request context built for it with
the identity already read, through the same error mapping, handlers and ``after_request``
hooks: only the ordinary 200 is built here. tests/unit/test_vote_lane.py
sends every case through the app with and without the lane and compares the answers.

Not done here, so the lane is not installed while they would apply (``checks_it_skips``):
Flask's ``TRUSTED_HOSTS``, ``SERVER_NAME`` host matching and ``MAX_CONTENT_LENGTH``. Not
done for the votes it answers: Flask's ``request_started``/``request_finished`` signals
and any ``before_request``/``after_request`` hook added to the app later than the ones
above (a new hook that must apply to votes goes in the lane as well: a test lists the
app's hooks and fails when one is added).
"""
from __future__ import annotations

import io
import json
import re
import time

from flask import g
from marshmallow import ValidationError
from werkzeug.sansio.http import parse_cookie

from common import contracts
from gateway import auth, schemas
from gateway.api.voting import vote_alone
from gateway.observability import record_request
from gateway.ratelimit import address_of, vote_admission
from gateway.rpc import batch_failed, batcher

ENDPOINT = "voting.vote"  # the Flask view the lane answers for (gateway/api/voting.py)
MAX_BODY = 4096  # a vote is ~150 bytes; anything larger is Flask's to judge


def checks_it_skips(app) -> list:
    """The Flask settings that would refuse requests the lane answers (it builds no URL
    adapter and reads the body itself): the lane is not installed while any is set."""
    return [name for name in ("TRUSTED_HOSTS", "SERVER_NAME", "MAX_CONTENT_LENGTH") if app.config.get(name)]


class VoteLane:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        # the view's own route (its one variable, the proposal id, as Flask's default converter reads it)
        self.route = next(r.rule for r in app.url_map.iter_rules() if r.endpoint == ENDPOINT and "PUT" in r.methods)
        head, _, tail = self.route.partition("<proposal_id>")
        self.path = re.compile(f"{re.escape(head)}([^/]+){re.escape(tail)}")
        self.request_schema = contracts.schema(schemas.VoteRequest)
        self.response_schema = contracts.schema(schemas.Vote)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "PUT" or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        match = self.path.fullmatch(path)
        if match is None or not path.isascii() or "\x00" in path:
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            vote = self._read(environ)
        except Exception:  # noqa: BLE001 - whatever the lane cannot read, Flask judges
            vote = None
        if vote is None:
            return self.wsgi_app(environ, start_response)
        data, who, caller = vote
        proposal_id = match.group(1)
        app = self.app
        voter = {"user_id": who.claims["sub"] if who.claims else None, "session_id": who.session_id}
        try:
            ip = address_of(environ.get("HTTP_X_FORWARDED_FOR"), environ.get("REMOTE_ADDR"),
                            app.config.get("TRUSTED_PROXY_HOPS", 0))
            result = caller.call({"voter": voter, "proposal_id": proposal_id, "data": data},
                                 admission=vote_admission(voter["user_id"], voter["session_id"], app, ip))
            payload = (app.json.dumps(self.response_schema.dump(result), **self._json_args()) + "\n").encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
            headers += auth.session_headers(who.request_id, who.session_id, who.new_session, path,
                                            app.config.get("SECURE_COOKIES", False))
            record_request("PUT", self.route, path, 200, time.perf_counter() - started, who.request_id)
        except Exception as exc:  # noqa: BLE001 - every other answer is Flask's to make
            return self._in_flask(environ, start_response, who, started, voter, proposal_id, data, exc)
        start_response("200 OK", headers)
        return [payload]

    def _json_args(self) -> dict:
        """What Flask's JSON provider passes for a response (``jsonify``): indented in debug
        mode or when ``compact`` is False, compact otherwise."""
        provider = self.app.json
        compact = getattr(provider, "compact", None)
        if (compact is None and self.app.debug) or compact is False:
            return {"indent": 2}
        return {"separators": (",", ":")}

    def _read(self, environ):
        """(loaded vote, identity, batch caller) of an ordinary vote; otherwise None, with
        the body (if read) put back for Flask."""
        if (environ.get("CONTENT_TYPE") or "").partition(";")[0].strip().lower() != "application/json":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= MAX_BODY or environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        caller = batcher("voting", "vote_batch", self.app)
        if caller is None:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again if the vote goes there
        if len(body) != length or b"\x00" in body or b"\\u0000" in body:
            return None
        try:
            raw = json.loads(body.decode("utf-8"))  # as webargs reads it: strict UTF-8, then JSON
            if not isinstance(raw, dict):
                return None
            data = self.request_schema.load(raw)
        except (ValueError, ValidationError):  # not UTF-8, not JSON, not a valid vote
            return None
        session = environ.get("HTTP_X_SESSION_ID")
        if not session and environ.get("HTTP_COOKIE"):
            session = parse_cookie(environ["HTTP_COOKIE"]).get(auth.SESSION_COOKIE)  # as request.cookies does
        try:
            who = auth.identify(environ.get("HTTP_X_REQUEST_ID"), environ.get("HTTP_AUTHORIZATION"), session,
                                self.app.config["JWT_SECRET"])
        except auth.BadAuthorization:
            return None
        return data, who, caller

    def _in_flask(self, environ, start_response, who, started, voter, proposal_id, data, exc):
        """Any answer but the ordinary 200, made by Flask as the view would make it."""
        app = self.app
        with app.request_context(environ):
            g.request_id, g.claims, g.session_id, g.new_session = who
            g.started = started
            try:
                try:  # what call_batched does with a failed batched call, and the view with a result
                    result = batch_failed("voting", "vote_batch", exc, lambda: vote_alone(voter, proposal_id, data))
                    rv = app.json.response(self.response_schema.dump(result))
                except Exception as error:  # what Flask's full_dispatch_request does
                    rv = app.handle_user_exception(error)
                response = app.finalize_request(rv)
            except Exception as error:
                response = app.handle_exception(error)
            return response(environ, start_response)
