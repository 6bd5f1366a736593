"""The gateway's event hub (gateway/stream.py) on the real RabbitMQ: events reach the
subscribed clients, and a consumer the broker cancels (its queue deleted under it) is
replaced, instead of leaving an open connection that delivers nothing."""
import contextlib
import json
import uuid

import pika

from common.rpc_client import pika_parameters
from common.testing import wait_until
from gateway.stream import EventHub


def _publish(amqp_uri, event_id):
    conn = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        channel = conn.channel()
        channel.exchange_declare("voting.events", exchange_type="topic", durable=True)
        channel.basic_publish("voting.events", "proposal_emerged", json.dumps(
            {"event_id": event_id, "event_type": "proposal_emerged", "data": {"proposal_id": "p1"}}))
    finally:
        conn.close()


def _next(subscriber):
    return subscriber.queue.get(timeout=5)["event_id"]


def test_a_consumer_cancelled_by_the_broker_is_replaced(amqp_uri):
    hub = EventHub(amqp_uri)
    hub.start()
    try:
        wait_until(hub.connected.is_set, what="the hub consuming")
        subscriber, _, _ = hub.subscribe({})
        first = uuid.uuid4().hex
        _publish(amqp_uri, first)
        assert _next(subscriber) == first
        epoch = hub.epoch
        connection, channel, queue = hub._consuming
        connection.add_callback_threadsafe(lambda: channel.queue_delete(queue))  # the broker cancels the consumer
        wait_until(lambda: hub.epoch > epoch and hub.connected.is_set(), what="a new consumer")
        assert hub._consuming[0] is not connection and not connection.is_open  # the old one closed
        second = uuid.uuid4().hex
        _publish(amqp_uri, second)
        assert _next(subscriber) == second
    finally:
        hub.stop()
        with contextlib.suppress(Exception):
            wait_until(lambda: hub._consuming is None, timeout=3)
