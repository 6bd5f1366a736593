"""Independent releases: a consumer written against an older contract and one written
against the current contract both work with the current producer (and a current
consumer copes with an older producer's events)."""
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pika
import pytest
from marshmallow import Schema, fields

from common.contracts import IncompatibleEvent, read_event
from common.events import make_envelope
from common.nameko_support import reliable_handler
from common.rpc_client import pika_parameters
from services.proposals.schemas import ProposalEvent
from services.proposals.service import ProposalsService

ADMIN = {"user_id": "contract-admin", "roles": ["citizen", "admin"]}
SEEN = {"legacy": [], "current": []}


class ProposalAcceptedV0(Schema):
    """What a consumer released before tags and original_content existed relied on."""

    proposal_id = fields.String(required=True)
    question_id = fields.String(required=True)
    content = fields.String(required=True)


class LegacyConsumer:
    name = "legacy_listener"

    @reliable_handler("proposals", "proposal_accepted")
    def on_accepted(self, event):
        SEEN["legacy"].append(read_event(ProposalAcceptedV0(), event))


class CurrentConsumer:
    name = "current_listener"

    @reliable_handler("proposals", "proposal_accepted")
    def on_accepted(self, event):
        SEEN["current"].append(read_event(ProposalEvent(), event))


def _wait(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_old_and_new_consumers_both_read_the_current_producer(run_service, rpc):
    run_service(ProposalsService)
    run_service(LegacyConsumer)
    run_service(CurrentConsumer)
    now = datetime.now(timezone.utc)
    question = rpc.proposals.create_question(ADMIN, {
        "slug": f"c-{uuid.uuid4().hex[:8]}", "title": "Contracts", "country": "FR", "language": "fr",
        "scope": "local", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat()})
    proposal = rpc.proposals.submit_proposal({"user_id": "u1", "roles": ["citizen"]}, question["id"],
                                             {"content": "Il faut versionner les contrats"})["proposal"]
    rpc.proposals.accept_proposal(ADMIN, proposal["id"], {"tags": ["api"]})
    assert _wait(lambda: any(d["proposal_id"] == proposal["id"] for d in SEEN["legacy"]))
    assert _wait(lambda: any(d["proposal_id"] == proposal["id"] for d in SEEN["current"]))
    legacy = next(d for d in SEEN["legacy"] if d["proposal_id"] == proposal["id"])
    current = next(d for d in SEEN["current"] if d["proposal_id"] == proposal["id"])
    assert set(legacy) == {"proposal_id", "question_id", "content"}  # the new fields are ignored
    assert current["tags"] == ["api"] and current["status"] == "accepted"


def test_a_current_consumer_reads_an_older_producer(run_service, amqp_uri):
    run_service(CurrentConsumer)
    old_data = {  # what proposals published before tags, original_content and moderator_id existed
        "proposal_id": str(uuid.uuid4()), "question_id": str(uuid.uuid4()), "country": "FR", "language": "fr",
        "author_id": "a", "content": "Il faut rester compatible", "status": "accepted",
        "created_at": "2026-01-01T00:00:00+00:00"}
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    connection.channel().basic_publish(
        "proposals.events", "proposal_accepted", json.dumps(make_envelope("proposals", "proposal_accepted", old_data)),
        pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()
    assert _wait(lambda: any(d["proposal_id"] == old_data["proposal_id"] for d in SEEN["current"]))
    read = next(d for d in SEEN["current"] if d["proposal_id"] == old_data["proposal_id"])
    assert read["content"] == "Il faut rester compatible" and "tags" not in read


def test_an_unknown_major_version_is_refused_not_misread():
    envelope = make_envelope("proposals", "proposal_accepted", {"proposal_id": "p"}, version=2)
    with pytest.raises(IncompatibleEvent):
        read_event(ProposalEvent(), envelope)
    with pytest.raises(IncompatibleEvent):  # a v1 event that breaks the contract
        read_event(ProposalAcceptedV0(), make_envelope("proposals", "proposal_accepted", {"proposal_id": "p"}))
