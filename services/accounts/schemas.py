"""The accounts RPC and event contract (marshmallow). Listed in this service's README."""
from marshmallow import Schema, fields, validate

from services.accounts.domain import ROLES


class RegisterIn(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    display_name = fields.String(required=True)
    country = fields.String(required=True)
    language = fields.String(required=True)
    postcode = fields.String(load_default=None, allow_none=True)


class AuthenticateIn(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True)
    session_id = fields.String(load_default=None, allow_none=True,
                               metadata={"description": "the anonymous session logging in (its votes follow)"})


class GrantIn(Schema):
    email = fields.String(load_default=None)
    user_id = fields.String(load_default=None)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    question_ids = fields.List(fields.String(), load_default=list)
    actor_id = fields.String(load_default=None, allow_none=True)


class UserOut(Schema):
    id = fields.String()
    email = fields.String()
    display_name = fields.String()
    country = fields.String()
    language = fields.String()
    postcode = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    moderated_questions = fields.List(fields.String())
    actor_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    user_id = fields.String()


# -- events (the ``data`` of the envelope, see common.events) -----------------------------
class UserRegistered(Schema):
    user_id = fields.String(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    country = fields.String(required=True)
    language = fields.String(required=True)


class RolesChanged(Schema):
    user_id = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    moderated_questions = fields.List(fields.String(), required=True)
    actor_id = fields.String(allow_none=True)


class SessionAuthenticated(Schema):
    user_id = fields.String(required=True)
    session_id = fields.String(required=True)


EVENTS = {"user_registered": UserRegistered, "roles_changed": RolesChanged,
          "session_authenticated": SessionAuthenticated}
