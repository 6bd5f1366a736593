"""Notifications on the real broker and PostgreSQL, with a real SMTP server in-process
(aiosmtpd, not a mock). Events are real envelopes (``common.events.make_envelope``)
published with pika on the source services' exchanges, like their outbox relays do; the
recipients of fan-outs come from small nameko services named like the real ones
("voting", "lobbying", "proposals"), serving in-memory lists over the real bus."""
import functools
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pika
import pytest
import sqlalchemy as sa
from nameko.rpc import rpc

from common import testing
from common.config import derive_database_url, sqlalchemy_url
from common.events import make_envelope
from common.migrations import upgrade
from common.rpc_client import RemoteError, pika_parameters
from services.notifications.service import NotificationsService

os.environ.setdefault("NOTIFICATIONS_SECRET", "test-notifications-secret-0123456789")
PUBLIC_URL = "http://civic.test"


from tests.smtp import SmtpServer  # noqa: E402


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# -- the service ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def notifications_url(pg_base_url):
    url = derive_database_url(pg_base_url, "notifications")
    upgrade("notifications", url)
    return url


def service_config(smtp, **overrides):
    return {
        "public_url": PUBLIC_URL,
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "from": "Civic <no-reply@civic.test>",
                 "timeout": 5},
        "sender_interval_seconds": 0.2, "scheduler_interval_seconds": 3600, "fanout_resume_interval_seconds": 0.5,
        "fanout_lease_seconds": 2, "backoff_base_seconds": 0.3, "backoff_factor": 2, "max_attempts": 5,
        **overrides,
    }


@pytest.fixture
def start(run_service, db_urls, notifications_url, smtp):
    def run(**overrides):
        return run_service(NotificationsService, {
            "DATABASE_URLS": {**db_urls, "notifications": notifications_url},
            "NOTIFICATIONS": service_config(smtp, **overrides)})

    return run


@pytest.fixture
def service(start):
    return start()


@pytest.fixture
def db(notifications_url):
    engine = sa.create_engine(sqlalchemy_url(notifications_url))
    yield engine
    engine.dispose()


# -- helpers -------------------------------------------------------------------------------------------------
def tag():
    return uuid.uuid4().hex[:8]


def publish(amqp_uri, source, event_type, data=None, envelope=None, timeout=10.0):
    """Publish like a service's outbox relay: the JSON envelope on ``<source>.events``,
    routing key = event type; retried until the notifications queue is bound."""
    envelope = envelope or make_envelope(source, event_type, data)
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.exchange_declare(f"{source}.events", exchange_type="topic", durable=True)
        channel.confirm_delivery()
        deadline = time.monotonic() + timeout
        while True:
            try:
                channel.basic_publish(
                    f"{source}.events", event_type, json.dumps(envelope).encode(),
                    pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                         delivery_mode=2, message_id=envelope["event_id"]),
                    mandatory=True)
                return envelope
            except pika.exceptions.UnroutableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        connection.close()


wait = functools.partial(testing.wait_until, timeout=15.0, interval=0.05)


def scalar(db, sql, **params):
    with db.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def register(amqp_uri, db, language="fr", country="FR", name=None):
    user_id = f"user-{tag()}"
    email = f"{user_id}@example.org"
    publish(amqp_uri, "accounts", "user_registered", {
        "user_id": user_id, "email": email.upper(), "display_name": name or f"Zoé {user_id[-4:]}",
        "country": country, "language": language})
    wait(lambda: scalar(db, "SELECT email FROM recipients WHERE user_id = :u", u=user_id) == email,
         what=f"recipient {user_id}")
    return user_id, email


def proposal_event(author_id, status="accepted", **extra):
    data = {"proposal_id": str(uuid.uuid4()), "question_id": str(uuid.uuid4()), "country": "FR", "language": "fr",
            "author_id": author_id, "content": "Il faut planter des <b>arbres</b> dans chaque cour d'école",
            "status": status, "original_content": None, "refusal_reason": None, "tags": [], "moderator_id": "mod-1",
            "created_at": datetime.now(timezone.utc).isoformat()}
    data.update(extra)
    return data


def inbox(rpc, user_id, **params):
    return rpc.notifications.list_notifications(user_id, params)


def remote_error(call, *args, **kwargs):
    with pytest.raises(RemoteError) as err:
        call(*args, **kwargs)
    return err.value


def token_of(message):
    url = str(message["List-Unsubscribe"]).strip("<>")
    assert url.startswith(f"{PUBLIC_URL}/api/v1/unsubscribe/")
    return urlsplit(url).path.rsplit("/", 1)[1]


def deliveries_to(db, address):
    with db.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM deliveries WHERE to_address = :a ORDER BY id"),
                            {"a": address}).mappings().all()


# -- the author hears about their proposal, in their language ------------------------------------------------
def test_refusal_mail_in_french_and_the_inbox(service, rpc, amqp_uri, db, smtp):
    user_id, email = register(amqp_uri, db, language="fr", name="Zoé <Exemple>")
    data = proposal_event(user_id, "refused", refusal_reason="off-topic")
    publish(amqp_uri, "proposals", "proposal_refused", data)

    [mail] = smtp.wait_for(email)
    assert mail["Subject"] == "Votre proposition n'a pas été retenue"
    assert mail["From"] == "Civic <no-reply@civic.test>" and mail["Content-Language"] == "fr"
    assert mail["To"].addresses[0].addr_spec == email
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert text.startswith("Bonjour Zoé <Exemple>,")
    assert "La raison : elle ne répond pas à la question posée." in text  # the reason in plain French words
    assert "off-topic" not in text
    assert "Il faut planter des <b>arbres</b>" in text
    assert "des &lt;b&gt;arbres&lt;/b&gt;" in html and "Zoé &lt;Exemple&gt;" in html  # user content escaped
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"{PUBLIC_URL}/api/v1/unsubscribe/{token_of(mail)}" in text

    page = inbox(rpc, user_id)
    assert page["total"] == 1 and page["unread_count"] == 1 and page["page"] == 1 and page["per_page"] == 20
    [item] = page["items"]
    assert item["kind"] == "proposal_refused" and item["read_at"] is None
    assert item["title"] == "Votre proposition n'a pas été retenue"
    assert "elle ne répond pas à la question posée" in item["body"]
    assert item["link"] == f"{PUBLIC_URL}/#/q/{data['question_id']}"  # the web client's page of the question
    assert f"{PUBLIC_URL}/#/q/{data['question_id']}" in text and f"{PUBLIC_URL}/#/settings" in text
    assert item["data"]["proposal_id"] == data["proposal_id"] and item["data"]["refusal_reason"] == "off-topic"

    # read / read-all, only for the owner
    assert remote_error(rpc.notifications.mark_read, "someone-else", item["id"]).exc_type == "NotFound"
    assert remote_error(rpc.notifications.mark_read, user_id, "not-a-number").exc_type == "NotFound"
    read = rpc.notifications.mark_read(user_id, item["id"])
    assert read["id"] == item["id"] and read["read_at"] is not None
    assert rpc.notifications.mark_read(user_id, str(item["id"]))["read_at"] == read["read_at"]  # idempotent
    assert inbox(rpc, user_id, unread=True) == {"items": [], "total": 0, "unread_count": 0, "page": 1, "per_page": 20}
    publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id))
    wait(lambda: inbox(rpc, user_id, unread=True)["total"] == 1, what="second notification")
    assert rpc.notifications.mark_all_read(user_id) == {"updated": 1}
    assert rpc.notifications.mark_all_read(user_id) == {"updated": 0}
    assert inbox(rpc, user_id)["total"] == 2

    err = remote_error(rpc.notifications.list_notifications, user_id, {"per_page": 101})
    assert err.exc_type == "ValidationFailed" and "per_page" in err.exc_args[0]


def test_a_redelivered_event_notifies_once(service, rpc, amqp_uri, db, smtp):
    user_id, email = register(amqp_uri, db, language="en", country="GB")
    envelope = make_envelope("proposals", "proposal_accepted", proposal_event(user_id, language="en", country="GB"))
    publish(amqp_uri, "proposals", "proposal_accepted", envelope=envelope)
    publish(amqp_uri, "proposals", "proposal_accepted", envelope=envelope)  # RabbitMQ redelivers
    [mail] = smtp.wait_for(email)
    assert mail["Subject"] == "Your proposal was accepted"

    # even when the handler's idempotency mark is lost (a crash between effects), the
    # unique (event, recipient) key keeps it to one notification and one mail
    with db.begin() as conn:
        conn.execute(sa.text("DELETE FROM processed_events WHERE event_id = :e"), {"e": envelope["event_id"]})
    publish(amqp_uri, "proposals", "proposal_accepted", envelope=envelope)
    wait(lambda: scalar(db, "SELECT count(*) FROM processed_events WHERE event_id = :e", e=envelope["event_id"]),
         what="the redelivery handled")
    time.sleep(1.0)  # several sender rounds
    assert len(smtp.to(email)) == 1
    assert inbox(rpc, user_id)["total"] == 1
    assert scalar(db, "SELECT count(*) FROM deliveries WHERE user_id = :u", u=user_id) == 1


def test_digest_in_german_groups_several_notifications_into_one_mail(service, rpc, amqp_uri, db, smtp):
    user_id, email = register(amqp_uri, db, language="de", country="DE", name="Jonas")
    prefs = rpc.notifications.set_preferences(user_id, {"proposal_accepted": "daily", "proposal_postponed": "daily",
                                                        "proposal_emerged": "daily"})
    assert prefs["preferences"]["proposal_accepted"] == "daily"
    first = proposal_event(user_id, language="de", country="DE", content="Man sollte mehr Bäume pflanzen")
    second = proposal_event(user_id, "postponed", language="de", country="DE", content="Man sollte Radwege bauen")
    publish(amqp_uri, "proposals", "proposal_accepted", first)
    publish(amqp_uri, "proposals", "proposal_postponed", second)
    publish(amqp_uri, "voting", "proposal_emerged", {
        "proposal_id": first["proposal_id"], "question_id": first["question_id"], "author_id": user_id,
        "country": "DE", "language": "de", "trusted_votes": 1500, "top_score": 0.9, "top_score_lower_bound": 0.8,
        "agree_rate": 0.9})
    wait(lambda: inbox(rpc, user_id)["total"] == 3, what="three notifications")
    time.sleep(0.6)
    assert smtp.to(email) == []  # nothing sent before the digest

    assert rpc.notifications.send_digests("daily")["mails"] >= 1
    [mail] = smtp.wait_for(email)
    assert mail["Subject"] == "Ihre Tagesübersicht: 3 Neuigkeiten"
    assert mail["Content-Language"] == "de"
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Hallo Jonas,")
    assert "Ihre angenommenen Vorschläge (1)" in text and "Ihre zurückgestellten Vorschläge (1)" in text
    assert "Ihre herausragenden Vorschläge (1)" in text
    assert "„Man sollte mehr Bäume pflanzen“ ist veröffentlicht" in text
    assert "Man sollte Radwege bauen" in text
    assert "Man sollte mehr Bäume pflanzen“ findet breite Zustimmung" in text  # content from the proposal map
    assert mail["List-Unsubscribe"]

    rpc.notifications.send_digests("daily")
    time.sleep(0.6)
    assert len(smtp.to(email)) == 1  # once per period
    publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id, language="de", country="DE"))
    wait(lambda: inbox(rpc, user_id)["total"] == 4, what="a fourth notification")
    rpc.notifications.send_digests("daily")
    time.sleep(0.6)
    assert len(smtp.to(email)) == 1  # it waits for the next period's digest
    # the digest's one-click link turns off every kind that this digest carries
    assert rpc.notifications.unsubscribe(token_of(mail)) == {"kind": "digest_daily", "email": email}
    prefs = rpc.notifications.get_preferences(user_id)["preferences"]
    assert prefs["proposal_accepted"] == prefs["proposal_postponed"] == prefs["proposal_emerged"] == "off"
    assert prefs["campaign_milestone_reached"] == "off" and prefs["proposal_refused"] == "immediate"
    assert scalar(db, "SELECT count(*) FROM notifications WHERE user_id = :u AND digest IS NOT NULL "
                      "AND digest_id IS NULL", u=user_id) == 0  # the one waiting will not be mailed
    err = remote_error(rpc.notifications.send_digests, "hourly")
    assert err.exc_type == "ValidationFailed" and "frequency" in err.exc_args[0]


def test_unsubscribe_link_works_without_login_and_stops_that_kind(service, rpc, amqp_uri, db, smtp):
    user_id, email = register(amqp_uri, db, language="fr")
    publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id))
    [mail] = smtp.wait_for(email)
    token = token_of(mail)
    assert token in mail.get_body(("html",)).get_content()

    assert rpc.notifications.unsubscribe(token) == {"kind": "proposal_accepted", "email": email}
    assert rpc.notifications.unsubscribe(token) == {"kind": "proposal_accepted", "email": email}  # idempotent
    prefs = rpc.notifications.get_preferences(user_id)
    assert prefs["preferences"]["proposal_accepted"] == "off"
    assert prefs["preferences"]["proposal_refused"] == "immediate"

    publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id))
    wait(lambda: inbox(rpc, user_id)["total"] == 2, what="the inbox still gets it")
    publish(amqp_uri, "proposals", "proposal_refused", proposal_event(user_id, "refused", refusal_reason="legal"))
    smtp.wait_for(email, 2)  # other kinds still arrive
    time.sleep(0.6)
    subjects = [m["Subject"] for m in smtp.to(email)]
    assert subjects == ["Votre proposition a été acceptée", "Votre proposition n'a pas été retenue"]

    for bad in ("", "garbage", token[:-3] + "xyz", token + "x"):
        err = remote_error(rpc.notifications.unsubscribe, bad)
        assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"token"}


def test_preferences_contract(service, rpc):
    user_id = f"user-{tag()}"
    prefs = rpc.notifications.get_preferences(user_id)
    assert prefs["frequencies"] == ["immediate", "daily", "weekly", "off"]
    assert "proposal_refused" in prefs["kinds"] and "target_interpellated" not in prefs["kinds"]
    assert prefs["preferences"]["proposal_refused"] == "immediate"
    assert prefs["preferences"]["campaign_milestone_reached"] == "daily"
    assert prefs["preferences"]["commitment_status_changed"] == "daily"
    changed = rpc.notifications.set_preferences(user_id, {"campaign_milestone_reached": "weekly",
                                                          "proposal_refused": "off"})
    assert changed["preferences"]["campaign_milestone_reached"] == "weekly"
    assert changed["preferences"]["proposal_refused"] == "off"
    assert rpc.notifications.get_preferences(user_id) == changed
    err = remote_error(rpc.notifications.set_preferences, user_id, {"spam": "daily", "proposal_accepted": "hourly"})
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"spam", "proposal_accepted"}
    assert rpc.notifications.get_preferences(user_id) == changed  # nothing applied
    assert rpc.notifications.ping() == {"service": "notifications", "status": "ok"}


# -- SMTP trouble --------------------------------------------------------------------------------------------
def test_smtp_down_then_up_delivers_late_but_exactly_once(service, rpc, amqp_uri, db, smtp):
    user_id, email = register(amqp_uri, db, language="en", country="GB")
    smtp.stop()
    try:
        publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id, language="en"))
        wait(lambda: any(d["attempts"] >= 2 for d in deliveries_to(db, email)), what="failed attempts")
        [pending] = deliveries_to(db, email)
        assert pending["status"] == "pending" and "Connection" in pending["last_error"]
        report = rpc.notifications.delivery_report({"status": "pending", "per_page": 100})
        row = next(i for i in report["items"] if i["id"] == pending["id"])
        assert row["to"] == email and row["kind"] == "proposal_accepted" and row["attempts"] >= 2
        assert row["next_attempt_at"] is not None and row["last_error"]
    finally:
        smtp.start()
    [mail] = smtp.wait_for(email, timeout=20)
    assert mail["Subject"] == "Your proposal was accepted"
    wait(lambda: deliveries_to(db, email)[0]["status"] == "sent", what="marked sent")
    time.sleep(1.0)
    assert len(smtp.to(email)) == 1
    [sent] = deliveries_to(db, email)
    assert sent["attempts"] >= 3 and sent["sent_at"] is not None and sent["last_error"] is None


def test_smtp_unreachable_stops_the_round_instead_of_failing_every_mail(notifications_url, smtp):
    """A round that cannot open an SMTP session reschedules the mail it tried and gives the
    others back at once: during an outage, mails do not burn their attempts (nor the
    sender its CPU) one after the other."""
    from collections import Counter

    from nameko import config
    from nameko.testing.services import worker_factory

    from common.db import ServiceStore
    from tests.smtp import free_port
    from services.notifications import persistence as store

    service_store = ServiceStore("notifications", store.metadata, notifications_url)
    prefix = f"down-{tag()}"
    long_ago = datetime(2000, 1, 1, tzinfo=timezone.utc)  # claimed before anything else due in this database
    with service_store.unit_of_work() as uow:
        store.insert_deliveries(uow.session, [{
            "dedupe_key": f"i:{prefix}:{i}", "to_address": f"{prefix}-{i}@example.org", "user_id": None,
            "kind": "target_interpellated", "language": "en", "notification_id": None, "digest_id": None,
            "context": {"data": {"campaign_title": "Trees", "actor_name": "A. Mayor"}, "link": None,
                        "display_name": "A. Mayor"},
            "target_key": prefix, "status": "pending", "attempts": 0, "last_error": None, "subject": None,
            "next_attempt_at": long_ago + timedelta(seconds=i), "created_at": long_ago, "sent_at": None}
            for i in range(3)])
    down = service_config(smtp)
    down["smtp"] = dict(down["smtp"], port=free_port())  # nothing listens there
    try:
        with config.patch({"NOTIFICATIONS": down}):
            worker = worker_factory(NotificationsService, db=service_store.unit_of_work)
            stats = worker._send_due()
        assert stats == Counter({"retry": 1, "unreachable": 1})
        with service_store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM deliveries WHERE target_key = :t ORDER BY dedupe_key"),
                                {"t": prefix}).mappings().all()
        now = datetime.now(timezone.utc)
        tried, *others = rows
        assert tried["attempts"] == 1 and "Connection" in tried["last_error"] and tried["status"] == "pending"
        assert tried["next_attempt_at"] > now  # rescheduled with backoff
        assert all(o["attempts"] == 0 and o["status"] == "pending" and o["last_error"] is None for o in others)
        assert all(o["next_attempt_at"] <= now for o in others)  # given back, not held by the claim's lease
    finally:
        with service_store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM deliveries WHERE target_key = :t"), {"t": prefix})
        service_store.dispose()


def test_hard_bounce_stops_mail_to_that_address(service, rpc, amqp_uri, db, smtp, events):
    failed = events("notifications", ["email_failed"])
    user_id, email = register(amqp_uri, db, language="fr")
    other_id, other_email = register(amqp_uri, db, language="fr")
    smtp.refuse[email] = "550 5.1.1 <%s>: no such user" % email
    try:
        publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id))
        publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(other_id))
        smtp.wait_for(other_email)  # one bad address does not hold the others back
        event = failed.wait_for(lambda e: e["data"]["to"] == email, timeout=15)
        assert event["data"]["kind"] == "proposal_accepted" and event["data"]["attempts"] == 1
        assert event["data"]["last_error"].startswith("hard bounce: 550")
        [bounced] = deliveries_to(db, email)
        assert bounced["status"] == "failed" and bounced["attempts"] == 1  # no retry of a hard bounce
        assert scalar(db, "SELECT count(*) FROM bounces WHERE email = :e", e=email) == 1
        report = rpc.notifications.delivery_report({"status": "failed", "per_page": 100})
        assert any(i["id"] == bounced["id"] and i["last_error"].startswith("hard bounce") for i in report["items"])
        assert report["counts"]["failed"] >= 1

        smtp.refuse.pop(email)  # even if the address would work again, we stopped writing to it
        publish(amqp_uri, "proposals", "proposal_refused", proposal_event(user_id, "refused", refusal_reason="test"))
        wait(lambda: inbox(rpc, user_id)["total"] == 2, what="the inbox still gets it")
        time.sleep(1.0)
        assert smtp.to(email) == []
        assert len(deliveries_to(db, email)) == 1
    finally:
        smtp.refuse.pop(email, None)


def test_temporary_failures_are_retried_then_recorded_as_failed(start, rpc, amqp_uri, db, smtp, events):
    start(max_attempts=3, backoff_base_seconds=0.2)
    failed = events("notifications", ["email_failed"])
    user_id, email = register(amqp_uri, db, language="en")
    smtp.refuse[email] = "451 4.3.0 try again later"
    try:
        publish(amqp_uri, "proposals", "proposal_accepted", proposal_event(user_id, language="en"))
        event = failed.wait_for(lambda e: e["data"]["to"] == email, timeout=20)
        assert event["data"]["attempts"] == 3 and "451" in event["data"]["last_error"]
        [row] = deliveries_to(db, email)
        assert row["status"] == "failed" and row["attempts"] == 3
        assert scalar(db, "SELECT count(*) FROM bounces WHERE email = :e", e=email) == 0  # not a hard bounce
        err = remote_error(rpc.notifications.delivery_report, {"status": "bogus"})
        assert err.exc_type == "ValidationFailed" and "status" in err.exc_args[0]
    finally:
        smtp.refuse.pop(email, None)


# -- who hears what ------------------------------------------------------------------------------------------
def test_author_hears_of_campaigns_and_commitments_on_their_proposal(service, rpc, amqp_uri, db, smtp):
    author, email = register(amqp_uri, db, language="fr")
    accepted = proposal_event(author)
    publish(amqp_uri, "proposals", "proposal_accepted", accepted)
    smtp.wait_for(email)
    campaign_id = str(uuid.uuid4())
    publish(amqp_uri, "lobbying", "campaign_started", {
        "campaign_id": campaign_id, "proposal_id": accepted["proposal_id"], "creator_id": "someone-else",
        "title": "Des arbres dans les cours", "country": "FR", "goal": 1000, "target_actor_ids": ["a1"]})
    publish(amqp_uri, "lobbying", "campaign_started", {  # one the author started herself: nothing to tell
        "campaign_id": str(uuid.uuid4()), "proposal_id": accepted["proposal_id"], "creator_id": author,
        "title": "Ma propre campagne", "country": "FR", "goal": 1000, "target_actor_ids": ["a1"]})
    mails = smtp.wait_for(email, 2)
    assert mails[1]["Subject"] == "Une campagne a été lancée sur votre proposition"
    assert "Des arbres dans les cours" in mails[1].get_body(("plain",)).get_content()

    publish(amqp_uri, "commitments", "commitment_made", {  # through the campaign only: mapped to the proposal
        "commitment_id": str(uuid.uuid4()), "actor_id": "a1", "actor_name": "Camille Exemple", "proposal_id": None,
        "campaign_id": campaign_id, "country": "FR", "statement": "Je porterai cette mesure au budget",
        "status": "not_yet_rated", "made_at": datetime.now(timezone.utc).isoformat(), "source_url": None,
        "source_response_id": str(uuid.uuid4())})
    mails = smtp.wait_for(email, 3)
    assert mails[2]["Subject"] == "Un·e élu·e s'est engagé·e sur votre proposition"
    assert "Je porterai cette mesure au budget" in mails[2].get_body(("plain",)).get_content()
    time.sleep(0.6)
    items = inbox(rpc, author)["items"]
    assert [i["kind"] for i in items] == ["commitment_made", "campaign_started", "proposal_accepted"]
    # each opens its page in the web client; a commitment is shown on the official's page
    assert [i["link"] for i in items] == [f"{PUBLIC_URL}/#/actors/a1", f"{PUBLIC_URL}/#/campaigns/{campaign_id}",
                                          f"{PUBLIC_URL}/#/p/{accepted['proposal_id']}"]
    assert f"{PUBLIC_URL}/#/actors/a1" in mails[2].get_body(("plain",)).get_content()
    assert len(smtp.to(email)) == 3


class FakeProposals:
    """Stands for the proposals service at the edge: queue sizes for moderators."""

    name = "proposals"
    sizes = {}
    calls = []

    @rpc
    def queue_sizes(self, question_ids=None):
        FakeProposals.calls.append(list(question_ids or []))
        return {q: FakeProposals.sizes[q] for q in question_ids or [] if q in FakeProposals.sizes}

    @rpc
    def get_proposals(self, ids):
        return []


def test_moderators_get_a_daily_summary_of_their_queue(service, run_service, rpc, amqp_uri, db, smtp):
    run_service(FakeProposals)
    q1, q2, q3 = (str(uuid.uuid4()) for _ in range(3))
    FakeProposals.sizes.update({q1: 4, q2: 0, q3: 9})
    publish(amqp_uri, "proposals", "question_created", {"id": q1, "slug": f"climat-{tag()}", "title": "Climat 2030",
                                                        "country": "FR", "language": "fr"})
    moderator, email = register(amqp_uri, db, language="fr")
    idle, idle_email = register(amqp_uri, db, language="fr")
    publish(amqp_uri, "accounts", "roles_changed", {"user_id": moderator, "roles": ["citizen", "moderator"],
                                                    "moderated_questions": [q1, q2], "actor_id": None})
    publish(amqp_uri, "accounts", "roles_changed", {"user_id": idle, "roles": ["citizen", "moderator"],
                                                    "moderated_questions": [q2], "actor_id": None})
    wait(lambda: scalar(db, "SELECT count(*) FROM recipients WHERE is_moderator AND user_id IN (:a, :b)",
                        a=moderator, b=idle) == 2, what="moderators known")
    wait(lambda: scalar(db, "SELECT title FROM questions WHERE id = :q", q=q1), what="question known")

    assert rpc.notifications.send_moderation_summaries()["notifications"] >= 1
    [mail] = smtp.wait_for(email)
    assert mail["Subject"] == "4 propositions à modérer"
    assert "Climat 2030 : 4" in mail.get_body(("plain",)).get_content()
    assert rpc.notifications.send_moderation_summaries() == {"notifications": 0}  # once a day
    time.sleep(0.6)
    assert len(smtp.to(email)) == 1 and smtp.to(idle_email) == []  # an empty queue is no news
    [item] = inbox(rpc, moderator)["items"]
    assert item["kind"] == "moderation_summary" and item["data"]["total"] == 4
    assert any(q1 in call for call in FakeProposals.calls)


# -- officials -----------------------------------------------------------------------------------------------
def interpellation(actor_id, emails, policy, country="FR", locale="fr", supporters=1000):
    return {"campaign_id": str(uuid.uuid4()), "proposal_id": str(uuid.uuid4()), "country": country,
            "actor_id": actor_id, "actor_name": "Camille Exemple", "contact_emails": emails, "locale": locale,
            "campaign_title": "Des arbres dans les cours", "pitch": "Plantons <vraiment> des arbres.",
            "proposal_content": "Il faut planter des arbres", "milestone": supporters, "supporters": supporters,
            "goal": 10000, "send_policy": policy}


def test_officials_are_written_to_in_their_window_and_under_the_hourly_cap(service, rpc, amqp_uri, db, smtp):
    actor_id = f"actor-{tag()}"
    first, second = f"{actor_id}@assemblee.example", f"cabinet-{actor_id}@assemblee.example"
    open_all_day = {"window_start_hour": 0, "window_end_hour": 24, "max_per_hour": 1}
    publish(amqp_uri, "lobbying", "target_interpellated",
            interpellation(actor_id, [first, first.upper(), second], open_all_day))
    [mail] = smtp.wait_for(first)
    assert mail["Subject"] == "1\u202f000 citoyen·nes vous demandent de vous engager : Des arbres dans les cours"
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Madame, Monsieur,") and "Plantons <vraiment> des arbres." in text
    assert "Plantons &lt;vraiment&gt; des arbres." in mail.get_body(("html",)).get_content()
    [row] = deliveries_to(db, second)  # one per hour for this actor: the second address waits
    assert row["status"] == "pending"
    next_hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert row["next_attempt_at"] >= next_hour - timedelta(seconds=1)
    assert len(deliveries_to(db, first)) == 1  # the same address twice is written to once

    # the official unsubscribes in one click: that address gets no more interpellations
    assert rpc.notifications.unsubscribe(token_of(mail)) == {"kind": "target_interpellated", "email": first}
    again = publish(amqp_uri, "lobbying", "target_interpellated", interpellation(actor_id, [first], open_all_day))
    wait(lambda: scalar(db, "SELECT count(*) FROM processed_events WHERE event_id = :e", e=again["event_id"]),
         what="handled")
    time.sleep(0.5)
    assert len(deliveries_to(db, first)) == 1

    # outside the window: scheduled for the next opening, local time (Berlin)
    berlin = ZoneInfo("Europe/Berlin")
    local_hour = datetime.now(berlin).hour
    start = (local_hour + 2) % 24
    closed_now = {"window_start_hour": start, "window_end_hour": min(start + 1, 24), "max_per_hour": 10}
    late = f"spaet-{actor_id}@bundestag.example"
    publish(amqp_uri, "lobbying", "target_interpellated",
            interpellation(f"{actor_id}-de", [late], closed_now, country="DE", locale="de"))
    [row] = wait(lambda: deliveries_to(db, late), what="scheduled delivery")
    when = row["next_attempt_at"].astimezone(berlin)
    assert (when.hour, when.minute) == (start, 0) and row["next_attempt_at"] > datetime.now(timezone.utc)
    assert row["language"] == "de" and smtp.to(late) == []
