"""A poison message ends in the dead-letter queue after a bounded number of tries,
instead of looping forever, and the handler keeps serving good events."""
import json
import time
import uuid

import pika
import pytest

from common import testing
from common.events import make_envelope
from common.nameko_support import DEAD_LETTER_QUEUE
from common.rpc_client import RemoteError, pika_parameters
from services.voting.service import VotingService

QUEUE = "evt-proposals-proposal_accepted--voting.on_proposal_accepted"


def _publish(amqp_uri, body: bytes, content_type="application/json"):
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    channel = connection.channel()
    channel.basic_publish("proposals.events", "proposal_accepted", body,
                          pika.BasicProperties(content_type=content_type, delivery_mode=2))
    connection.close()


def _dead_letters(amqp_uri, expected, timeout=20):
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    channel = connection.channel()
    found, deadline = [], time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        method, props, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        found.append((method.routing_key, props.headers or {}, body))
    connection.close()
    return found


@pytest.fixture(scope="module")
def amqp_uri():
    """A vhost of its own: this test declares voting's queues with a delivery limit of 3,
    and a quorum queue's arguments are fixed once declared (a later VotingService with the
    default 5 would be refused by the broker: PRECONDITION_FAILED)."""
    with testing.rabbitmq() as uri:
        yield uri


def test_poison_messages_are_dead_lettered_and_good_ones_still_flow(run_service, rpc, amqp_uri):
    run_service(VotingService, {"EVENT_DELIVERY_LIMIT": 3})
    _publish(amqp_uri, b"{not json")                                   # cannot be decoded
    _publish(amqp_uri, json.dumps({"event_id": str(uuid.uuid4()), "event_type": "proposal_accepted",
                                   "occurred_at": "2026-01-01T00:00:00+00:00", "data": {}}).encode())  # always fails
    dead = _dead_letters(amqp_uri, 2)
    assert len(dead) == 2, dead
    bodies = {body for _, _, body in dead}
    assert b"{not json" in bodies
    failing = next(headers for _, headers, body in dead if body != b"{not json")
    deaths = failing.get("x-death") or []
    assert deaths and deaths[0]["queue"] == QUEUE
    assert failing.get("x-delivery-count", 0) >= 3 or deaths[0].get("reason") == "delivery_limit"

    # the handler still works for a good event
    proposal_id = str(uuid.uuid4())
    good = make_envelope("proposals", "proposal_accepted", {
        "proposal_id": proposal_id, "question_id": str(uuid.uuid4()), "country": "FR", "language": "fr",
        "author_id": "a", "content": "Il faut survivre aux messages empoisonnés", "status": "accepted",
        "tags": [], "created_at": "2026-01-01T00:00:00+00:00"})
    _publish(amqp_uri, json.dumps(good).encode())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            rpc.voting.results(proposal_id)
            break
        except RemoteError as exc:
            assert exc.exc_type == "NotFound"
            time.sleep(0.1)
    else:
        pytest.fail("a good event after the poison ones was not handled")
    assert _dead_letters(amqp_uri, 1, timeout=1) == []  # nothing else was parked
