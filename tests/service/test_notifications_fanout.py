"""Fan-out to voters who agreed and to a campaign's supporters, on the real broker and
PostgreSQL. The recipient lists are served by small nameko services named "voting" and
"lobbying" that expose only ``voters`` / ``supporter_ids`` from in-memory lists (the bus
is real; only the edge is small), so thousands of recipients cost no setup, and every
RPC call is counted."""
import json
import math
import time
import uuid

import pytest
import sqlalchemy as sa
from nameko.rpc import rpc
from sqlalchemy.orm import Session

from common.config import sqlalchemy_url
from common.migrations import upgrade
from common.nameko_support import Database
from services.notifications import domain, persistence as store
from services.notifications.service import NotificationsService
from tests.service.test_notifications_service import (  # noqa: F401  (fixtures)
    db, notifications_url, publish, scalar, smtp, start, tag, wait)


class FakeVoting:
    name = "voting"
    voters_of = {}        # proposal_id -> sorted user ids who voted agree
    calls = []
    fail_once = set()     # (proposal_id, after) whose page fails once

    @rpc
    def voters(self, proposal_id, key="agree", after=None, limit=1000):
        FakeVoting.calls.append((proposal_id, key, after, limit))
        if (proposal_id, after) in FakeVoting.fail_once:
            FakeVoting.fail_once.discard((proposal_id, after))
            raise RuntimeError("voting database restarting")
        assert key == "agree"
        return [u for u in FakeVoting.voters_of.get(proposal_id, []) if after is None or u > after][:limit]


class FakeLobbying:
    name = "lobbying"
    supporters_of = {}
    calls = []

    @rpc
    def supporter_ids(self, campaign_id, after=None, limit=1000):
        FakeLobbying.calls.append((campaign_id, after, limit))
        return [u for u in FakeLobbying.supporters_of.get(campaign_id, []) if after is None or u > after][:limit]


@pytest.fixture
def edge(run_service):
    run_service(FakeVoting)
    run_service(FakeLobbying)


def engine_of(container):
    return next(d for d in container.dependencies if isinstance(d, Database)).store.engine


def count_writes(engine):
    """Counts INSERT statements into notifications and the transactions that made them."""
    stats = {"inserts": 0, "transactions": 0}

    def before(conn, cursor, statement, params, context, executemany):
        if "INSERT INTO NOTIFICATIONS" in statement.upper():  # alone, or in a WITH ... statement
            stats["inserts"] += 1
            conn.info["wrote_notifications"] = True

    def commit(conn):
        if conn.info.pop("wrote_notifications", False):
            stats["transactions"] += 1

    def rollback(conn):
        conn.info.pop("wrote_notifications", None)

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "commit", commit)
    sa.event.listen(engine, "rollback", rollback)
    return stats


def register_as(amqp_uri, db, user_id, language="en", country="GB"):
    email = f"{user_id}@example.org"
    publish(amqp_uri, "accounts", "user_registered", {"user_id": user_id, "email": email, "display_name": user_id,
                                                      "country": country, "language": language})
    wait(lambda: scalar(db, "SELECT count(*) FROM recipients WHERE user_id = :u", u=user_id), what="recipient")
    return email


def fanout(db, event_id):
    with db.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM fanouts WHERE event_id = :e"), {"e": event_id}).mappings().first()


def test_fan_out_to_thousands_is_batched_resumable_and_exactly_once(start, edge, rpc, amqp_uri, db, smtp):
    container = start(fanout_lease_seconds=1)
    writes = count_writes(engine_of(container))
    prefix = f"fan-{tag()}"
    proposal_id, campaign_id = str(uuid.uuid4()), str(uuid.uuid4())
    voters = [f"{prefix}-{i:05d}" for i in range(3000)]
    supporters = [f"{prefix}-{i:05d}" for i in range(2000, 3500)]  # 1,000 of them also voted
    FakeVoting.voters_of[proposal_id] = voters
    FakeLobbying.supporters_of[campaign_id] = supporters
    FakeVoting.fail_once.add((proposal_id, voters[999]))  # the second page fails once: the fan-out stops there
    eager = register_as(amqp_uri, db, f"{prefix}-00005")
    rpc.notifications.set_preferences(f"{prefix}-00005", {"campaign_milestone_reached": "immediate"})
    register_as(amqp_uri, db, f"{prefix}-03400", language="de", country="DE")  # default: daily digest
    calls_before = len(FakeVoting.calls), len(FakeLobbying.calls)

    envelope = publish(amqp_uri, "lobbying", "campaign_milestone_reached", {
        "campaign_id": campaign_id, "proposal_id": proposal_id, "country": "FR", "title": "Des arbres partout",
        "milestone": 1000, "kind": "count", "supporters": 1000, "goal": 10000, "target_actor_ids": ["a1"]})
    event_id = envelope["event_id"]
    stalled = wait(lambda: (f := fanout(db, event_id)) and f["last_error"] and f, what="the failed page")
    assert "voting database restarting" in stalled["last_error"] and stalled["done_at"] is None
    assert stalled["pages"] == 1 and stalled["cursor"] == voters[999]  # the first page is kept
    done = wait(lambda: (f := fanout(db, event_id)) and f["done_at"] and f, timeout=30, what="the fan-out resumed")

    unique = len(set(voters) | set(supporters))
    assert unique == 3500
    assert scalar(db, "SELECT count(*) FROM notifications WHERE event_id = :e", e=event_id) == unique
    assert scalar(db, "SELECT count(DISTINCT user_id) FROM notifications WHERE event_id = :e", e=event_id) == unique
    assert done["written"] == unique and done["last_error"] is None

    voting_calls = FakeVoting.calls[calls_before[0]:]
    lobbying_calls = FakeLobbying.calls[calls_before[1]:]
    assert all(c[3] == 1000 for c in voting_calls) and all(c[2] == 1000 for c in lobbying_calls)
    assert len(voting_calls) == math.ceil(3000 / 1000) + 1 + 1  # 3 pages, the empty end, the failed try
    assert len(lobbying_calls) == math.ceil(1500 / 1000)  # a short page ends it
    assert writes["transactions"] == 5  # one per non-empty page: 3 voters' + 2 supporters'
    assert writes["inserts"] == 5  # one statement per page (inbox rows and deliveries), not one per recipient

    # e-mail follows each person's preference: queued as a delivery, sent by the sender
    [mail] = smtp.wait_for(eager)
    assert mail["Subject"] == '"Des arbres partout" reached 1,000 supporters'
    assert scalar(db, "SELECT count(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id "
                      "WHERE n.event_id = :e", e=event_id) == 1
    assert scalar(db, "SELECT digest FROM notifications WHERE event_id = :e AND user_id = :u",
                  e=event_id, u=f"{prefix}-03400") == "daily"
    page = rpc.notifications.list_notifications(f"{prefix}-03400", {})
    assert page["items"][0]["title"] == "„Des arbres partout“ hat 1.000 Unterstützende erreicht"

    # the same event again: nothing new, not even RPC calls
    calls_now = len(FakeVoting.calls), len(FakeLobbying.calls)
    again = publish(amqp_uri, "lobbying", "campaign_milestone_reached", envelope=envelope)
    time.sleep(1.0)
    assert scalar(db, "SELECT count(*) FROM notifications WHERE event_id = :e", e=again["event_id"]) == unique
    assert (len(FakeVoting.calls), len(FakeLobbying.calls)) == calls_now
    assert len(smtp.to(eager)) == 1

    with db.begin() as conn:  # keep these thousands out of the other tests' digests
        conn.execute(sa.text("UPDATE notifications SET digest = NULL WHERE event_id = :e"), {"e": event_id})


def test_commitment_status_change_reaches_voters_but_not_the_editor(start, edge, rpc, amqp_uri, db, smtp):
    start()
    prefix = f"csc-{tag()}"
    proposal_id = str(uuid.uuid4())
    editor = f"{prefix}-editor"
    FakeVoting.voters_of[proposal_id] = sorted([f"{prefix}-{i}" for i in range(5)] + [editor])
    follower = f"{prefix}-1"
    email = register_as(amqp_uri, db, follower, language="fr", country="FR")
    rpc.notifications.set_preferences(follower, {"commitment_status_changed": "immediate"})
    envelope = publish(amqp_uri, "commitments", "commitment_status_changed", {
        "commitment_id": str(uuid.uuid4()), "actor_id": "a1", "actor_name": "Camille Exemple",
        "proposal_id": proposal_id, "campaign_id": None, "country": "FR", "status": "kept",
        "previous_status": "in_the_works", "evidence_url": "https://example.org/loi", "note": "Adoptée",
        "changed_at": "2026-11-24T10:00:00+00:00", "changed_by": editor})
    wait(lambda: (f := fanout(db, envelope["event_id"])) and f["done_at"], what="fan-out done")
    with db.connect() as conn:
        users = set(conn.execute(sa.text("SELECT user_id FROM notifications WHERE event_id = :e"),
                                 {"e": envelope["event_id"]}).scalars())
    assert users == {f"{prefix}-{i}" for i in range(5)}  # the editor who rated it is not told
    [item] = rpc.notifications.list_notifications(follower, {})["items"]
    assert item["kind"] == "commitment_status_changed" and editor not in str(item)  # nor named
    assert item["link"] == "http://civic.test/#/actors/a1"  # the commitment's timeline, in the web client
    [mail] = smtp.wait_for(email)
    assert mail["Subject"] == "Engagement de Camille Exemple : tenu"
    assert "Source : https://example.org/loi" in mail.get_body(("plain",)).get_content()


@pytest.fixture(params=["postgresql", "sqlite"])
def page_db(request, notifications_url, tmp_path):
    """The notifications schema on PostgreSQL (one statement per page) and on SQLite (the
    development database: two bulk inserts): a page must be written the same way."""
    url = notifications_url if request.param == "postgresql" else f"sqlite:///{tmp_path}/notifications.sqlite3"
    if request.param == "sqlite":
        upgrade("notifications", url)
    engine = sa.create_engine(sqlalchemy_url(url))
    yield engine
    engine.dispose()


def test_a_page_follows_preferences_bounces_and_languages_and_is_written_once(page_db):
    prefix = f"pg-{tag()}"
    u = {name: f"{prefix}-{name}" for name in ("immediate", "bounced", "off", "daily", "no-address", "unknown")}
    kind = "campaign_milestone_reached"
    with Session(page_db) as session, session.begin():
        for name, language in (("immediate", "en"), ("bounced", "fr"), ("off", "de"), ("daily", "fr"),
                               ("no-address", "en")):
            store.upsert_recipient(session, u[name], language=language, country="FR",
                                   email=None if name == "no-address" else f"{u[name]}@example.org")
        for name, frequency in (("immediate", "immediate"), ("bounced", "immediate"), ("off", "off"),
                                ("no-address", "immediate")):
            store.set_preferences(session, u[name], {kind: frequency})
        store.add_bounce(session, f"{u['bounced']}@example.org", "550 no such user")
    rules = domain.NotificationRules.from_mapping({"public_url": "http://civic.test"})
    context = {"campaign_id": "c-1", "proposal_id": "p-1", "campaign_title": "Des arbres <partout>",
               "milestone": 1000, "milestone_kind": "count", "supporters": 1000, "goal": 10000}
    link = rules.link("campaign", campaign_id="c-1")
    event_id = str(uuid.uuid4())
    page = list(u.values())

    def write(user_ids, texts=None):
        with Session(page_db) as session, session.begin():
            return NotificationsService._notify(None, session, event_id, kind, user_ids, context, link, rules,
                                                texts=texts)

    texts = {}
    assert write(page, texts) == (6, 1)  # everyone in the inbox; one immediate e-mail
    assert set(texts) == {"en", "fr", "de"}  # rendered once per language, kept for the next pages
    assert write(page, texts) == (0, 0)  # the same page again (redelivery, a crash before the cursor moved)
    assert write([u["daily"], u["immediate"], f"{prefix}-new"]) == (1, 0)  # overlapping pages: only the new one

    with page_db.connect() as conn:
        rows = {r.user_id: r for r in conn.execute(sa.text(
            "SELECT * FROM notifications WHERE event_id = :e"), {"e": event_id})}
        mails = conn.execute(sa.text(
            "SELECT d.* FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.event_id = :e"),
            {"e": event_id}).mappings().all()
    assert len(rows) == 7
    [mail] = mails
    assert mail["to_address"] == f"{u['immediate']}@example.org" and mail["user_id"] == u["immediate"]
    assert mail["dedupe_key"] == f"n:{rows[u['immediate']].id}" and mail["kind"] == kind
    assert mail["status"] == "pending" and mail["attempts"] == 0 and mail["language"] == "en"
    assert {user: r.digest for user, r in rows.items()} == {
        u["immediate"]: None, u["bounced"]: None, u["off"]: None, u["daily"]: "daily", u["no-address"]: None,
        u["unknown"]: None, f"{prefix}-new": None}  # bounced, off, no address, unknown: inbox only
    assert rows[u["daily"]].language == "fr" and rows[u["daily"]].title.startswith("« Des arbres <partout> »")
    assert rows[u["off"]].language == "de" and rows[u["unknown"]].language == "en"
    assert rows[u["immediate"]].title == '"Des arbres <partout>" reached 1,000 supporters'
    for r in rows.values():
        data = r.data if isinstance(r.data, dict) else json.loads(r.data)
        assert data == context and r.link == "http://civic.test/#/campaigns/c-1" and r.kind == kind
        assert r.read_at is None and r.digest_id is None and r.created_at is not None
