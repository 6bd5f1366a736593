"""Accounts: registration, tokens, the current user."""
from flask import g

from gateway import schemas
from gateway.blueprint import Blueprint
from gateway.auth import login_required
from gateway.rpc import call

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and authentication")


@blp.post("/accounts")
@blp.arguments(schemas.RegisterRequest)
@blp.response(201, schemas.User)
@blp.alt_response(400, schema=schemas.ApiError, description="a field is invalid (named in errors)")
@blp.alt_response(409, schema=schemas.ApiError, description="the e-mail is already registered")
def register(body):
    """Create a citizen account"""
    return call("accounts", "register", body)


@blp.post("/auth/token")
@blp.arguments(schemas.TokenRequest)
@blp.response(200, schemas.Token)
@blp.alt_response(401, schema=schemas.ApiError, description="wrong e-mail or password")
@blp.alt_response(429, schema=schemas.ApiError, description="too many failed attempts: wait Retry-After seconds",
                  headers=schemas.RETRY_AFTER)
def token(body):
    """Exchange e-mail and password for a bearer token (the anonymous session's votes follow)"""
    return call("accounts", "authenticate", dict(body, session_id=g.session_id))


@blp.get("/me")
@blp.response(200, schemas.User)
@blp.alt_response(401, schema=schemas.ApiError)
@blp.doc(security=[{"bearerAuth": []}])
@login_required
def me():
    """The logged-in account, with its roles"""
    return call("accounts", "get_user", g.claims["sub"])
