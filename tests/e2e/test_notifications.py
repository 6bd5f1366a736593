"""Notifications end to end: real services, the gateway, and a real SMTP server in the
test process. A refusal mail in French, a digest in German, the unsubscribe link, a
redelivered event, SMTP down then up."""
import functools
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pika
import pytest
import requests

from common import testing
from common.rpc_client import pika_parameters
from tests.e2e.conftest import Client
from tests.e2e.test_journey import _grant

pytestmark = pytest.mark.e2e


_wait = functools.partial(testing.wait_until, timeout=20, interval=0.1)


def _token(mail):
    return urlsplit(str(mail["List-Unsubscribe"]).strip("<>")).path.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def moderation(platform):
    admin = Client(platform).register()
    _grant(platform, admin.email, "admin")
    admin.login()
    now = datetime.now(timezone.utc)

    def question(country, language):
        return admin.post("/questions", json={
            "slug": f"n-{uuid.uuid4().hex[:8]}", "title": "Notifications", "country": country, "language": language,
            "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=9)).isoformat()}).json()

    return {"admin": admin, "fr": question("FR", "fr"), "de": question("DE", "de")}


def test_refusal_mail_in_french_inbox_and_redelivery(platform, smtp, moderation, client):
    author = client().register(display_name="Camille", language="fr").login()
    recorder = testing.EventRecorder(platform.amqp_uri, "proposals", ["proposal_refused"])
    try:
        proposal = author.post(f"/questions/{moderation['fr']['id']}/proposals",
                               json={"content": "Il faut interdire la publicité partout"}).json()["proposal"]
        refused = moderation["admin"].post(f"/proposals/{proposal['id']}/refuse", json={"reason": "partisan"})
        assert refused.status_code == 200
        [mail] = smtp.wait_for(author.email, timeout=20)
        text = mail.get_body(("plain",)).get_content()
        assert mail["Content-Language"] == "fr" and "Camille" in text
        assert "Il faut interdire la publicité partout" in text
        assert "partisan" in text.lower()  # the reason, in plain French words
        inbox = _wait(lambda: (lambda r: r if r["total"] else None)(author.get("/me/notifications").json()),
                      what="the inbox entry")
        assert inbox["unread_count"] == 1 and inbox["items"][0]["kind"] == "proposal_refused"

        # RabbitMQ redelivers the same event: no second notification, no second mail
        event = recorder.wait_for(lambda e: e["data"]["proposal_id"] == proposal["id"])
        connection = pika.BlockingConnection(pika_parameters(platform.amqp_uri))
        body = {k: v for k, v in event.items() if not k.startswith("_")}
        connection.channel().basic_publish("proposals.events", "proposal_refused", json.dumps(body).encode(),
                                           pika.BasicProperties(content_type="application/json", delivery_mode=2))
        connection.close()
        time.sleep(2)
        assert len(smtp.to(author.email)) == 1
        assert author.get("/me/notifications").json()["total"] == 1

        item = inbox["items"][0]
        assert author.post(f"/me/notifications/{item['id']}/read").json()["read_at"]
        assert author.get("/me/notifications", params={"unread": "true"}).json()["total"] == 0
        assert client().register().login().post(f"/me/notifications/{item['id']}/read").status_code == 404
        assert client().get("/me/notifications").status_code == 401
    finally:
        recorder.close()


def test_digest_in_german_and_the_unsubscribe_link(platform, smtp, moderation, client, operator):
    author = client().register(display_name="Jonas", country="DE", language="de").login()
    prefs = author.put("/me/notification-preferences", json={"preferences": {
        "proposal_accepted": "daily", "proposal_postponed": "daily"}})
    assert prefs.status_code == 200 and prefs.json()["preferences"]["proposal_accepted"] == "daily"
    bad = author.put("/me/notification-preferences", json={"preferences": {"proposal_accepted": "hourly"}})
    assert bad.status_code == 400
    ids = []
    for text in ("Man sollte mehr Bäume pflanzen", "Man sollte Radwege überall bauen"):
        ids.append(author.post(f"/questions/{moderation['de']['id']}/proposals", json={"content": text}).json()["proposal"]["id"])
    moderation["admin"].post(f"/proposals/{ids[0]}/accept", json={})
    moderation["admin"].post(f"/proposals/{ids[1]}/postpone")
    _wait(lambda: author.get("/me/notifications").json()["total"] == 2, what="two notifications")
    time.sleep(1)
    assert smtp.to(author.email) == []  # both wait for the digest
    assert operator.notifications.send_digests("daily")["mails"] >= 1
    [mail] = smtp.wait_for(author.email)
    assert mail["Content-Language"] == "de"
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Hallo Jonas") and "Bäume" in text and "Radwege" in text
    # the mail's links open the web client (served by the gateway at "/"), not the API
    assert "http://civic.test/#/inbox" in text and "http://civic.test/#/settings" in text
    assert f"http://civic.test/#/p/{ids[0]}" in text and "/api/v1/proposals" not in text
    page = requests.get(f"{platform.url}/", timeout=10)  # the path before the "#": the client's page
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]

    token = _token(mail)
    assert Client(platform).get(f"/unsubscribe/{token}").status_code == 200  # no login needed
    assert Client(platform).post(f"/unsubscribe/{token}x").status_code == 400
    prefs = author.get("/me/notification-preferences").json()["preferences"]
    assert prefs["proposal_accepted"] == prefs["proposal_postponed"] == "off"


def test_smtp_down_then_up_delivers_late_but_exactly_once(platform, smtp, moderation, client):
    author = client().register(display_name="Lou").login()
    smtp.stop()
    try:
        proposal = author.post(f"/questions/{moderation['fr']['id']}/proposals",
                               json={"content": "Il faut des bancs dans chaque parc"}).json()["proposal"]
        moderation["admin"].post(f"/proposals/{proposal['id']}/accept", json={})
        _wait(lambda: author.get("/me/notifications").json()["total"] == 1, what="the inbox entry")
        time.sleep(2)  # the first attempts fail while the server is down
    finally:
        smtp.start()
    smtp.wait_for(author.email, timeout=60)
    time.sleep(3)
    assert len(smtp.to(author.email)) == 1
