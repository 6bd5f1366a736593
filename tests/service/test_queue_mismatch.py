"""A service whose queue exists with other arguments (an event handler's classic queue
left by an older release, another EVENT_DELIVERY_LIMIT; an RPC queue given a length limit
by hand) stops at start with a message naming the queue, instead of a consumer that
retries forever and a pod never ready."""
import contextlib
import uuid

import eventlet
import pika
import pytest
from nameko import config
from nameko.containers import ServiceContainer

from common.nameko_support import QueueMismatch, reliable_handler, rpc
from common.rpc_client import pika_parameters


class Listener:
    name = f"mismatch{uuid.uuid4().hex[:6]}"

    @reliable_handler("src", "thing_happened")
    def on_thing(self, event):
        pass


def _queue_name():
    return f"evt-src-thing_happened--{Listener.name}.on_thing"


def _refused_start(amqp_uri, service_config, service_cls, queue, arguments=None) -> str:
    """Declare ``queue`` as another release would have, start ``service_cls``: the
    ``QueueMismatch`` message (the start must fail, not hang)."""
    conn = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        conn.channel().queue_declare(queue, durable=True, arguments=arguments)
        with config.patch(service_config):
            container = ServiceContainer(service_cls)
            with pytest.raises(QueueMismatch) as err:
                eventlet.with_timeout(20, container.start)
            with contextlib.suppress(Exception):
                container.kill()
        return str(err.value)
    finally:
        with contextlib.suppress(Exception):
            conn.channel().queue_delete(queue)
        conn.close()


def test_a_queue_declared_with_other_arguments_stops_the_service_at_start(amqp_uri, service_config):
    message = _refused_start(amqp_uri, service_config, Listener, _queue_name())  # classic, no dead-lettering
    assert _queue_name() in message and "Drain and delete it" in message


def test_a_queue_declared_alike_starts_the_service(amqp_uri, run_service):
    container = run_service(Listener)
    assert container.started
    conn = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        assert conn.channel().queue_declare(_queue_name(), passive=True).method.consumer_count == 1
    finally:
        conn.close()


class Answerer:
    name = f"mismatchrpc{uuid.uuid4().hex[:6]}"

    @rpc
    def ping(self):
        return "pong"


def test_an_rpc_queue_declared_with_other_arguments_stops_the_service_at_start(amqp_uri, service_config):
    queue = f"rpc-{Answerer.name}"
    assert queue in _refused_start(amqp_uri, service_config, Answerer, queue, {"x-max-length": 10})
