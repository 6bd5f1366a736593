"""Auth at the edge: bearer JWTs verified locally (no RPC per request), and an anonymous
session id for callers without an account (header ``X-Session-Id`` or cookie ``sid``)."""
import functools
import re
import uuid

from flask import current_app, g, request
from flask_smorest import abort

from common import tokens

SESSION_HEADER = "X-Session-Id"
SESSION_COOKIE = "sid"
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


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


def load_identity():
    """before_request: set ``g.claims`` (None when anonymous) and ``g.session_id``."""
    headers, ctx = request.headers, g._get_current_object()
    ctx.request_id = headers.get("X-Request-Id") or uuid.uuid4().hex
    ctx.claims = None
    header = headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401, message="Authorization must be 'Bearer <token>'", headers=_challenge())
        try:
            ctx.claims = tokens.decode(token.strip(), current_app.config["JWT_SECRET"])
        except tokens.InvalidToken:
            abort(401, message="invalid or expired token", headers=_challenge("invalid_token"))
    sid = headers.get(SESSION_HEADER) or request.cookies.get(SESSION_COOKIE)
    ctx.new_session = not (sid and _SESSION_RE.match(sid))
    ctx.session_id = uuid.uuid4().hex if ctx.new_session else sid


def store_session(response):
    """after_request: hand a new anonymous session id back (cookie and header)."""
    ctx = g._get_current_object()
    response.headers["X-Request-Id"] = ctx.get("request_id", "")
    if ctx.get("new_session") and ctx.get("session_id") and request.path.startswith("/api/"):
        response.headers[SESSION_HEADER] = ctx.session_id
        response.set_cookie(SESSION_COOKIE, ctx.session_id, max_age=365 * 86400, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SECURE_COOKIES", False))
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
