"""Auth at the edge: bearer JWTs verified locally (no RPC per request), and an anonymous
session id for callers without an account (header ``X-Session-Id`` or cookie ``sid``)."""
import functools
import re
import uuid
from typing import NamedTuple

from flask import current_app, g, request
from flask_smorest import abort
from werkzeug.http import dump_cookie

from common import tokens

SESSION_HEADER = "X-Session-Id"
SESSION_COOKIE = "sid"
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SESSION_MAX_AGE = 365 * 86400


def reject_nul():
    """before_request: NUL characters cannot be stored or compared by PostgreSQL; refuse
    them wherever they appear (path, query, JSON body) with a 400."""
    req = request._get_current_object()  # one context lookup, not one per attribute (every request)
    where = None
    query = req.query_string
    if "\x00" in req.path:
        where = "path"
    elif query and (b"\x00" in query or b"%00" in query):
        where = "query"
    elif req.content_length:
        body = req.get_data(cache=True)
        if b"\\u0000" in body or b"\x00" in body:
            where = "json"
    if where:
        abort(400, message="NUL characters are not allowed", errors={where: {"_schema": ["contains a NUL character"]}})


class BadAuthorization(Exception):
    """An ``Authorization`` header that is not a valid bearer token (a 401)."""

    def __init__(self, message: str, error: str | None = None):
        super().__init__(message)
        self.message, self.error = message, error


class Identity(NamedTuple):
    request_id: str
    claims: dict | None
    session_id: str
    new_session: bool


def identify(request_id: str | None, authorization: str | None, session: str | None, secret: str) -> Identity:
    """Who sends a request, from its ``X-Request-Id``, ``Authorization`` and anonymous
    session id (header, else cookie): what ``load_identity`` puts on ``g``, and what the
    votes' lane (gateway/vote_lane.py) reads without Flask. Raises ``BadAuthorization``."""
    claims = None
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BadAuthorization("Authorization must be 'Bearer <token>'")
        try:
            claims = tokens.decode(token.strip(), secret)
        except tokens.InvalidToken:
            raise BadAuthorization("invalid or expired token", "invalid_token") from None
    new_session = not (session and _SESSION_RE.match(session))
    return Identity(request_id or uuid.uuid4().hex, claims, uuid.uuid4().hex if new_session else session, new_session)


def load_identity():
    """before_request: set ``g.claims`` (None when anonymous) and ``g.session_id``."""
    headers, ctx = request.headers, g._get_current_object()
    ctx.request_id = headers.get("X-Request-Id") or uuid.uuid4().hex  # known to the 401's log line too
    ctx.claims = None
    try:
        who = identify(ctx.request_id, headers.get("Authorization", ""),
                       headers.get(SESSION_HEADER) or request.cookies.get(SESSION_COOKIE), current_app.config["JWT_SECRET"])
    except BadAuthorization as exc:
        abort(401, message=exc.message, headers=_challenge(exc.error))
    ctx.claims, ctx.session_id, ctx.new_session = who.claims, who.session_id, who.new_session


def session_headers(request_id: str, session_id: str | None, new_session: bool, path: str, secure: bool) -> list:
    """The headers every answer carries (its request id) and, for a new anonymous session
    on the API, the session id handed back (header and cookie): [(name, value)]."""
    out = [("X-Request-Id", request_id or "")]
    if new_session and session_id and path.startswith("/api/"):
        out.append((SESSION_HEADER, session_id))
        out.append(("Set-Cookie", dump_cookie(SESSION_COOKIE, session_id, max_age=SESSION_MAX_AGE, httponly=True,
                                              samesite="Lax", secure=secure)))
    return out


def store_session(response):
    """after_request: hand a new anonymous session id back (cookie and header)."""
    ctx = g._get_current_object()
    for name, value in session_headers(ctx.get("request_id", ""), ctx.get("session_id"), ctx.get("new_session"),
                                       request.path, current_app.config.get("SECURE_COOKIES", False)):
        if name == "Set-Cookie":
            response.headers.add(name, value)
        else:
            response.headers[name] = value
    return response


def _challenge(error=None):
    value = 'Bearer realm="civic"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def caller() -> dict | None:
    """Who is calling, as services expect it (None for anonymous)."""
    claims = g.get("claims")
    if not claims:
        return None
    return {
        "user_id": claims["sub"],
        "roles": claims.get("roles", ["citizen"]),
        "moderated_questions": claims.get("mq", []),
        "actor_id": claims.get("actor"),
    }


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not g.get("claims"):
            abort(401, message="login required", headers=_challenge())
        return view(*args, **kwargs)

    return wrapper
