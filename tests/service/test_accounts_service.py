"""Accounts service on the real broker and PostgreSQL."""
import uuid

import pytest
import sqlalchemy as sa

from common import tokens
from common.rpc_client import RemoteError
from services.accounts.service import AccountsService


def _registration(**overrides):
    data = {
        "email": f"user-{uuid.uuid4().hex[:8]}@example.org",
        "password": "correct horse battery",
        "display_name": "Claire",
        "country": "FR",
        "language": "fr",
    }
    data.update(overrides)
    return data


@pytest.fixture
def accounts(run_service):
    run_service(AccountsService)


def test_register_stores_user_and_publishes_user_registered(accounts, rpc, events, db_urls):
    recorder = events("accounts", ["user_registered"])
    data = _registration(email="Mixed.Case@Example.org")
    user = rpc.accounts.register(data)

    assert user["email"] == "mixed.case@example.org"
    assert user["roles"] == ["citizen"]
    assert "password" not in user and "password_hash" not in user
    event = recorder.wait_for(lambda e: e["data"]["user_id"] == user["id"])
    assert event["event_type"] == "user_registered" and event["source"] == "accounts"
    assert event["data"]["email"] == "mixed.case@example.org"
    engine = sa.create_engine(db_urls["accounts"])
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE id = :i"), {"i": user["id"]}).scalar_one()
        published = conn.execute(
            sa.text("SELECT published_at FROM outbox WHERE event_id = :e"), {"e": event["event_id"]}).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert published is not None


def test_duplicate_email_is_a_conflict_and_writes_nothing(accounts, rpc, db_urls):
    data = _registration()
    rpc.accounts.register(data)
    with pytest.raises(RemoteError) as err:
        rpc.accounts.register(dict(data, email=data["email"].upper(), display_name="Other"))
    assert err.value.exc_type == "Conflict"
    engine = sa.create_engine(db_urls["accounts"])
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM users WHERE email = :e"), {"e": data["email"]}).scalar_one()
    engine.dispose()
    assert count == 1


@pytest.mark.parametrize("field,value", [
    ("password", "short"), ("email", "not-an-email"), ("country", "XX"), ("language", "xx"), ("display_name", "  "),
])
def test_bad_registration_names_the_field(accounts, rpc, field, value):
    with pytest.raises(RemoteError) as err:
        rpc.accounts.register(_registration(**{field: value}))
    assert err.value.exc_type == "ValidationFailed"
    assert field in err.value.exc_args[0]


def test_authenticate_issues_a_verifiable_token_with_roles(accounts, rpc):
    data = _registration()
    user = rpc.accounts.register(data)
    rpc.accounts.grant_role({"email": data["email"], "role": "moderator", "question_ids": ["q1", "q2"]})
    token = rpc.accounts.authenticate({"email": data["email"], "password": data["password"]})
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    claims = tokens.decode(token["access_token"])
    assert claims["sub"] == user["id"]
    assert claims["roles"] == ["citizen", "moderator"]
    assert claims["mq"] == ["q1", "q2"]


def test_wrong_password_and_unknown_email_look_the_same(accounts, rpc):
    data = _registration()
    rpc.accounts.register(data)
    errors = []
    for creds in ({"email": data["email"], "password": "wrong password!"},
                  {"email": "nobody-" + data["email"], "password": data["password"]}):
        with pytest.raises(RemoteError) as err:
            rpc.accounts.authenticate(creds)
        errors.append((err.value.exc_type, err.value.exc_args))
    assert errors[0] == errors[1] == ("Unauthorized", ["invalid e-mail or password"])


def test_repeated_failures_are_slowed_down_then_success_resets(accounts, rpc, db_urls):
    data = _registration()
    rpc.accounts.register(data)
    kinds = []
    for _ in range(6):
        with pytest.raises(RemoteError) as err:
            rpc.accounts.authenticate({"email": data["email"], "password": "wrong password!"})
        kinds.append(err.value.exc_type)
    assert kinds[:5] == ["Unauthorized"] * 5
    assert kinds[5] == "TooManyRequests"  # the 5th failure locked the account for a while
    # even the right password waits until the lock expires
    with pytest.raises(RemoteError) as err:
        rpc.accounts.authenticate({"email": data["email"], "password": data["password"]})
    assert err.value.exc_type == "TooManyRequests"
    assert int(err.value.exc_args[1]) >= 1
    engine = sa.create_engine(db_urls["accounts"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE login_failures SET locked_until = NULL WHERE email = :e"), {"e": data["email"]})
    engine.dispose()
    assert rpc.accounts.authenticate({"email": data["email"], "password": data["password"]})["access_token"]
    with pytest.raises(RemoteError) as err:  # the counter was reset by the success
        rpc.accounts.authenticate({"email": data["email"], "password": "wrong password!"})
    assert err.value.exc_type == "Unauthorized"


def test_grant_role_rules(accounts, rpc, events):
    recorder = events("accounts", ["roles_changed"])
    data = _registration()
    user = rpc.accounts.register(data)
    with pytest.raises(RemoteError) as err:
        rpc.accounts.grant_role({"email": data["email"], "role": "official"})
    assert err.value.exc_type == "ValidationFailed" and "actor_id" in err.value.exc_args[0]
    with pytest.raises(RemoteError) as err:
        rpc.accounts.grant_role({"email": data["email"], "role": "emperor"})
    assert err.value.exc_type == "ValidationFailed" and "role" in err.value.exc_args[0]
    with pytest.raises(RemoteError) as err:
        rpc.accounts.grant_role({"email": "nobody@example.org", "role": "admin"})
    assert err.value.exc_type == "NotFound"
    updated = rpc.accounts.grant_role({"user_id": user["id"], "role": "official", "actor_id": "actor-7"})
    assert updated["roles"] == ["citizen", "official"] and updated["actor_id"] == "actor-7"
    event = recorder.wait_for(lambda e: e["data"]["user_id"] == user["id"])
    assert event["data"]["actor_id"] == "actor-7"
    revoked = rpc.accounts.revoke_role({"user_id": user["id"], "role": "official"})
    assert revoked["roles"] == ["citizen"] and revoked["actor_id"] is None


def test_get_user_and_ping(accounts, rpc):
    user = rpc.accounts.register(_registration())
    assert rpc.accounts.get_user(user["id"])["email"] == user["email"]
    with pytest.raises(RemoteError) as err:
        rpc.accounts.get_user("no-such-id")
    assert err.value.exc_type == "NotFound"
    assert rpc.accounts.ping() == {"service": "accounts", "status": "ok"}
