"""The outbox relay dies between the commit and the publish: the event still arrives,
once, when the service comes back."""
import time
import uuid

import sqlalchemy as sa

from common import testing
from common.config import derive_database_url
from tests.e2e.conftest import Client


def test_event_committed_before_a_crash_is_relayed_once_after_restart(fault_platform):
    platform = fault_platform
    recorder = testing.EventRecorder(platform.amqp_uri, "accounts", ["user_registered"])
    engine = sa.create_engine(derive_database_url(platform.pg_base, "accounts"))
    try:
        platform.restart_service("accounts", OUTBOX_RELAY="false")  # commits happen, nothing is relayed
        email = f"{uuid.uuid4().hex[:8]}@example.org"
        created = Client(platform).post("/accounts", json={
            "email": email, "password": "a long enough password", "display_name": "Crash",
            "country": "FR", "language": "fr"})
        assert created.status_code == 201
        user_id = created.json()["id"]
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT event_id, published_at FROM outbox WHERE payload LIKE :u"),
                               {"u": f"%{user_id}%"}).one()
        assert row.published_at is None
        platform.kill_service("accounts")  # the crash: the row is committed, the event never left
        time.sleep(0.5)
        assert not recorder.matching(lambda e: e["data"]["user_id"] == user_id)

        platform.restart_service("accounts")
        event = recorder.wait_for(lambda e: e["data"]["user_id"] == user_id, timeout=15)
        assert event["event_id"] == row.event_id
        time.sleep(1.5)
        assert len(recorder.matching(lambda e: e["data"]["user_id"] == user_id)) == 1
        with engine.connect() as conn:
            published = conn.execute(sa.text("SELECT published_at FROM outbox WHERE event_id = :e"),
                                     {"e": row.event_id}).scalar_one()
        assert published is not None
    finally:
        recorder.close()
        engine.dispose()
