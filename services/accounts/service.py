"""Accounts nameko service: thin entrypoints wiring the rules (domain) to storage (persistence)."""
from datetime import datetime, timedelta, timezone

import eventlet.tpool
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from nameko import config
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage
from sqlalchemy.exc import IntegrityError

from common import tokens
from common.contracts import dump, schema
from common.errors import EXPECTED, Conflict, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from common.nameko_support import Database, HealthMixin, load
from services.accounts import domain, persistence as store, schemas

_hasher = PasswordHasher()
# A real hash to verify against when the e-mail is unknown, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


def _now():
    return datetime.now(timezone.utc)


def _rules():
    return domain.AccountRules.from_mapping(config.get("ACCOUNTS"))


def _user_out(user: store.User) -> dict:
    data = {
        "id": user.id, "email": user.email, "display_name": user.display_name, "country": user.country,
        "language": user.language, "postcode": user.postcode, "actor_id": user.actor_id,
        "roles": domain.effective_roles(r.role for r in user.roles),
        "moderated_questions": sorted(m.question_id for m in user.moderated),
        "created_at": user.created_at,
    }
    return dump(schemas.UserOut, data)


def _validated(fn, *args):
    try:
        return fn(*args)
    except domain.ValidationFailed as exc:
        raise ValidationFailed(exc.fields) from None


class AccountsService(HealthMixin):
    name = "accounts"
    db = Database("accounts", store.metadata)

    @rpc(expected_exceptions=EXPECTED)
    def register(self, data):
        """Create a citizen account. Raises ValidationFailed (fields named) or Conflict."""
        raw = load(schema(schemas.RegisterIn), data)
        clean = _validated(domain.validate_registration, raw, _rules())
        password_hash = eventlet.tpool.execute(_hasher.hash, clean.pop("password"))
        try:
            with self.db() as uow:
                if store.user_by_email(uow.session, clean["email"]):
                    raise Conflict("an account with this e-mail already exists")
                user = store.User(password_hash=password_hash, **clean)
                uow.session.add(user)
                uow.session.flush()
                uow.emit("user_registered", dump(schemas.UserRegistered, {
                    "user_id": user.id, "email": user.email, "display_name": user.display_name,
                    "country": user.country, "language": user.language,
                }))
                out = _user_out(user)
        except IntegrityError:  # a concurrent registration won the unique constraint
            raise Conflict("an account with this e-mail already exists") from None
        return out

    @rpc(expected_exceptions=EXPECTED)
    def authenticate(self, data):
        """E-mail + password -> access token. Wrong credentials: Unauthorized (never says
        which part); repeated failures for one e-mail: TooManyRequests with retry_after."""
        creds = load(schema(schemas.AuthenticateIn), data)
        email = domain.normalize_email(creds["email"])
        rules = _rules()
        now = _now()
        with self.db() as uow:
            failure = store.login_failure(uow.session, email)
            wait = domain.retry_after(store.as_aware(failure.locked_until) if failure else None, now)
            if wait > 0:
                raise TooManyRequests("too many failed logins; try again later", int(wait) + 1)
            user = store.user_by_email(uow.session, email)
            hash_to_check = user.password_hash if user else _DUMMY_HASH
        ok = eventlet.tpool.execute(_verify, hash_to_check, creds["password"]) and user is not None
        with self.db() as uow:
            failure = store.login_failure(uow.session, email, for_update=True)
            if not ok:
                if failure is None:
                    failure = store.LoginFailure(email=email, failures=0)
                    uow.session.add(failure)
                failure.failures += 1
                delay = domain.throttle_delay(failure.failures, rules)
                failure.locked_until = now + timedelta(seconds=delay) if delay else None
            elif failure is not None:
                uow.session.delete(failure)
            if ok and creds.get("session_id"):
                uow.emit("session_authenticated", dump(schemas.SessionAuthenticated, 
                    {"user_id": user.id, "session_id": creds["session_id"]}))
        if not ok:
            raise Unauthorized("invalid e-mail or password")
        identity = domain.Identity(
            user_id=user.id, roles={r.role for r in user.roles},
            moderated_questions={m.question_id for m in user.moderated},
            actor_id=user.actor_id, language=user.language, country=user.country,
        )
        claims = domain.token_claims(identity, now, rules, tokens.ISSUER, tokens.AUDIENCE)
        return dump(schemas.TokenOut, {
            "access_token": tokens.encode(claims), "token_type": "bearer",
            "expires_in": rules.token_ttl_seconds, "user_id": user.id,
        })

    @rpc(expected_exceptions=EXPECTED)
    def get_user(self, user_id):
        with self.db() as uow:
            user = store.user_by_id(uow.session, user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            return _user_out(user)

    @rpc(expected_exceptions=EXPECTED)
    def grant_role(self, data):
        """Operator call: give a role (moderator with question ids, official with actor id)."""
        req = load(schema(schemas.GrantIn), data)
        _validated(domain.validate_grant, req["role"], req["question_ids"], req["actor_id"])
        with self.db() as uow:
            user = self._find(uow.session, req)
            if req["role"] != "citizen" and req["role"] not in {r.role for r in user.roles}:
                user.roles.append(store.UserRole(role=req["role"]))
            known = {m.question_id for m in user.moderated}
            for qid in req["question_ids"]:
                if qid not in known:
                    user.moderated.append(store.ModeratorQuestion(question_id=qid))
            if req["role"] == "official":
                user.actor_id = req["actor_id"]
            uow.session.flush()
            out = _user_out(user)
            uow.emit("roles_changed", {k: out[k] for k in ("roles", "moderated_questions", "actor_id")} | {"user_id": user.id})
        return out

    @rpc(expected_exceptions=EXPECTED)
    def revoke_role(self, data):
        req = load(schema(schemas.GrantIn), data)
        with self.db() as uow:
            user = self._find(uow.session, req)
            if req["role"] == "moderator" and req["question_ids"]:
                user.moderated = [m for m in user.moderated if m.question_id not in set(req["question_ids"])]
            else:
                user.roles = [r for r in user.roles if r.role != req["role"]]
                if req["role"] == "moderator":
                    user.moderated = []
                if req["role"] == "official":
                    user.actor_id = None
            uow.session.flush()
            out = _user_out(user)
            uow.emit("roles_changed", {k: out[k] for k in ("roles", "moderated_questions", "actor_id")} | {"user_id": user.id})
        return out

    @staticmethod
    def _find(session, req):
        if req.get("user_id"):
            user = store.user_by_id(session, req["user_id"])
        elif req.get("email"):
            user = store.user_by_email(session, domain.normalize_email(req["email"]))
        else:
            raise ValidationFailed({"email": "give email or user_id"})
        if user is None:
            raise NotFound("no such user")
        return user


def _verify(password_hash, password):
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
