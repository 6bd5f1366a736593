"""The services' ``rpc`` entrypoint (common.nameko_support.ResilientRpc) on the real broker:
replies published on the request's channel with its ack in one write, arguments checked
against a cached signature, workers spawned directly while the pool has room."""
import json
import threading
import uuid

import eventlet
import pika
import pytest
from nameko.extensions import DependencyProvider

from common import nameko_support
from common.nameko_support import rpc, rpc_reply
from common.rpc_client import RemoteError, RpcClient, pika_parameters
from common.testing import wait_until

SERVICE = "rpcserver_probe"
SEEN = []  # what ``record`` was called with, in this process
BIG = 3 * 1024 * 1024  # larger than a loopback socket's send buffer: a reply's writes yield


class Ctx(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class Probe:
    name = SERVICE
    ctx = Ctx()

    @rpc
    def echo(self, x, tag=None):
        return {"x": x, "tag": tag}

    @rpc
    def big(self, n, fill):
        return fill * n

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return seconds

    @rpc
    def unserializable(self):
        return object()

    @rpc
    def record(self, x):
        SEEN.append(x)
        return x

    @rpc
    def slow_record(self, seconds, x):
        SEEN.append(x)
        eventlet.sleep(seconds)
        return x

    @rpc
    def call_stack(self):
        return list(self.ctx.call_id_stack)


@pytest.fixture
def probe(run_service):
    return run_service(Probe)


@pytest.fixture
def client(amqp_uri):
    with RpcClient(amqp_uri, timeout=10, pool_size=16) as client:
        yield client


def _queue_depth(amqp_uri):
    conn = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        return conn.channel().queue_declare(f"rpc-{SERVICE}", passive=True).method.message_count
    finally:
        conn.close()


class RawRequester:
    """Publishes requests by hand, by nameko's route (``nameko-rpc``, routing key
    ``<service>.<method>``) or straight to the service's queue (``direct``: the method in
    ``type``, the reply queue's name as the reply address), and keeps the reply messages
    whole, with the exchange each came by."""

    def __init__(self, amqp_uri):
        self.conn = pika.BlockingConnection(pika_parameters(amqp_uri))
        self.ch = self.conn.channel()
        self.queue = self.ch.queue_declare("", exclusive=True).method.queue
        self.reply_to = str(uuid.uuid4())
        self.ch.queue_bind(self.queue, "nameko-rpc", routing_key=self.reply_to)
        self.replies = {}
        self.routes = {}  # correlation id -> the exchange its reply came by
        self.ch.basic_consume(self.queue, self._on_reply, auto_ack=True)

    def _on_reply(self, _ch, method, props, body):
        self.replies[props.correlation_id] = (props, body)
        self.routes[props.correlation_id] = method.exchange

    def send(self, method, body: bytes, reply=True, content_type="application/json", direct=False):
        cid = str(uuid.uuid4())
        if direct:
            exchange, routing_key, reply_to = "", f"rpc-{SERVICE}", self.queue
        else:
            exchange, routing_key, reply_to = "nameko-rpc", f"{SERVICE}.{method}", self.reply_to
        props = pika.BasicProperties(correlation_id=cid, content_type=content_type,
                                     reply_to=reply_to if reply else None, type=method if direct else None)
        self.ch.basic_publish(exchange, routing_key, body, props)
        return cid

    def reply(self, cid, timeout=10):
        wait_until(lambda: self.conn.process_data_events(0.05) or cid in self.replies, timeout=timeout,
                   what="the reply")
        return self.replies.pop(cid)

    def close(self):
        self.conn.close()


def in_threads(fn, n, timeout=60):
    """Runs ``fn(i)`` for i in range(n) on n threads; answers the exceptions they raised."""
    errors = []

    def run(i):
        try:
            fn(i)
        except Exception as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


@pytest.fixture
def raw(amqp_uri):
    requester = RawRequester(amqp_uri)
    yield requester
    requester.close()


def test_round_trip_with_args_kwargs_and_the_caller_context(probe, client):
    assert client.call(SERVICE, "echo", 1, tag="t") == {"x": 1, "tag": "t"}
    assert client.call(SERVICE, "echo", [1, "é"]) == {"x": [1, "é"], "tag": None}
    stack = client.call(SERVICE, "call_stack", headers={"nameko.call_id_stack": ["gateway.vote.abc"]})
    assert stack[0] == "gateway.vote.abc" and stack[1].startswith(f"{SERVICE}.call_stack.")


def test_the_reply_is_transient_json_with_the_request_correlation_id(probe, raw):
    cid = raw.send("echo", json.dumps({"args": ["a"], "kwargs": {}}).encode())
    props, body = raw.reply(cid)
    assert props.correlation_id == cid
    assert props.content_type == "application/json"
    assert props.delivery_mode in (None, 1)  # reply queues are not durable: nothing to write to disk
    assert json.loads(body) == {"result": {"x": "a", "tag": None}, "error": None}


def test_a_request_is_answered_by_the_route_it_came_by(probe, raw):
    """nameko's route (the topic exchange both ways) for nameko's clients; straight to the
    queue and straight back for ours (RabbitMQ's default exchange: no topic match)."""
    body = json.dumps({"args": ["a"], "kwargs": {"tag": "t"}}).encode()
    by_nameko, direct = raw.send("echo", body), raw.send("echo", body, direct=True)
    for cid, exchange in ((by_nameko, "nameko-rpc"), (direct, "")):
        props, reply = raw.reply(cid)
        assert json.loads(reply) == {"result": {"x": "a", "tag": "t"}, "error": None}
        assert raw.routes[cid] == exchange


def test_a_request_straight_to_the_queue_names_its_method_in_its_type(probe, raw):
    body = json.dumps({"args": [], "kwargs": {}}).encode()
    cid = raw.send("no_such_method", body, direct=True)
    error = json.loads(raw.reply(cid)[1])["error"]
    assert (error["exc_type"], error["value"]) == ("MethodNotFound", "no_such_method")
    cid = raw.send(None, body, direct=True)  # no method: nameko's own answer (which our client reads as such)
    error = json.loads(raw.reply(cid)[1])["error"]
    assert (error["exc_type"], error["value"]) == ("MethodNotFound", f"rpc-{SERVICE}")
    assert raw.routes[cid] == ""


def test_the_client_calls_the_service_straight_through_its_queue(probe, client, amqp_uri):
    """With the queue unbound from nameko-rpc, only the straight route reaches it."""
    assert client.call(SERVICE, "echo", 1)["x"] == 1
    conn = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        conn.channel().queue_unbind(f"rpc-{SERVICE}", "nameko-rpc", routing_key=f"{SERVICE}.*")
        assert client.call(SERVICE, "echo", 2)["x"] == 2
        with pytest.raises(RemoteError) as err:
            client.call(SERVICE, "no_such_method")
        assert err.value.exc_type == "MethodNotFound" and err.value.value == "no_such_method"
        assert SERVICE not in client._through_exchange
    finally:
        conn.channel().queue_bind(f"rpc-{SERVICE}", "nameko-rpc", routing_key=f"{SERVICE}.*")
        conn.close()


def test_a_request_larger_than_a_frame_reaches_the_service_whole(probe, client):
    big = "é" * 400_000  # 800 kB of UTF-8: many frames, sent as pika sends them
    assert client.call(SERVICE, "echo", big)["x"] == big


def test_every_request_is_acked(probe, client, amqp_uri):
    for i in range(50):
        assert client.call(SERVICE, "echo", i)["x"] == i
    probe.stop()  # a request still unacked would go back to the queue when the consumer closes
    assert _queue_depth(amqp_uri) == 0


def test_wrong_arguments_unknown_method_and_malformed_request_are_errors_and_the_service_lives_on(
        probe, client, raw):
    with pytest.raises(RemoteError) as err:
        client.call(SERVICE, "echo", 1, 2, 3)
    assert err.value.exc_type == "IncorrectSignature"
    assert "argument" in str(err.value)
    with pytest.raises(RemoteError) as err:
        client.call(SERVICE, "echo", nope=1)
    assert err.value.exc_type == "IncorrectSignature"
    with pytest.raises(RemoteError) as err:
        client.call(SERVICE, "no_such_method")
    assert err.value.exc_type == "MethodNotFound"
    cid = raw.send("echo", json.dumps({"kwargs": {}}).encode())
    assert json.loads(raw.reply(cid)[1])["error"]["exc_type"] == "MalformedRequest"
    assert client.call(SERVICE, "echo", "still fine")["x"] == "still fine"


def test_a_result_that_cannot_be_encoded_is_an_error_reply(probe, client):
    with pytest.raises(RemoteError) as err:
        client.call(SERVICE, "unserializable")
    assert err.value.exc_type == "UnserializableValueError"
    assert client.call(SERVICE, "echo", 1)["x"] == 1


def test_a_request_without_content_type_gets_an_error_reply_and_the_service_lives_on(probe, raw, client, amqp_uri):
    """kombu hands such a body over undecoded; the error reply goes out as JSON. (The
    reply was built from the request's content type, and a missing one killed the
    service, then the next one the request was redelivered to.)"""
    cid = raw.send("echo", json.dumps({"args": [1], "kwargs": {}}).encode(), content_type=None)
    props, body = raw.reply(cid)
    assert props.content_type == "application/json"
    assert json.loads(body)["error"]["exc_type"] == "MalformedRequest"
    assert client.call(SERVICE, "echo", 3)["x"] == 3
    probe.stop()
    assert _queue_depth(amqp_uri) == 0


def test_a_request_that_is_not_json_is_dropped_as_kombu_drops_it_and_the_service_lives_on(probe, raw, client,
                                                                                         amqp_uri):
    """kombu's way for a body its decoder refuses: logged and acked, not answered (it
    would only fail again)."""
    cid = raw.send("echo", b"{not json")
    assert client.call(SERVICE, "echo", "still fine")["x"] == "still fine"
    raw.conn.process_data_events(0.2)
    assert cid not in raw.replies
    probe.stop()
    assert _queue_depth(amqp_uri) == 0


def test_kombu_typed_json_arguments_are_decoded_as_kombu_decodes_them(probe, raw):
    """A nameko client's datetime travels as kombu's ``__type__`` object: the service sees a
    datetime (kombu's own JSON decoder reads the request) and answers it the same way."""
    stamp = {"__type__": "datetime", "__value__": "2026-11-25T10:00:00+00:00"}
    cid = raw.send("echo", json.dumps({"args": [stamp], "kwargs": {}}).encode())
    assert json.loads(raw.reply(cid)[1])["result"]["x"] == stamp


def test_a_worker_that_does_not_block_replies_before_the_consumer_reads_again(run_service, client, monkeypatch):
    """The spawned worker runs first: the consumer's next read (its system calls, the
    hub's round) comes after the reply instead of before it."""
    events = []
    chunked = nameko_support._chunked_recv

    def recording(recv):
        inner = chunked(recv)

        def recv_chunk(n, *flags):
            events.append("read")
            data = inner(n, *flags)
            events.append("request")
            return data

        return recv_chunk

    handle_result = nameko_support.ResilientRpcConsumer.handle_result

    def replying(self, message, result, exc_info):
        events.append("reply")
        return handle_result(self, message, result, exc_info)

    monkeypatch.setattr(nameko_support, "_chunked_recv", recording)
    monkeypatch.setattr(nameko_support.ResilientRpcConsumer, "handle_result", replying)
    run_service(Probe)
    for i in range(3):
        assert client.call(SERVICE, "echo", i)["x"] == i
    replies = [i for i, event in enumerate(events) if event == "reply"]
    assert len(replies) == 3
    assert all(events[i - 1] == "request" for i in replies), events


def test_a_reply_over_the_size_limit_is_an_error_and_the_request_is_acked(run_service, amqp_uri):
    """The broker would refuse it by closing the channel (the request's ack with it): the
    request would be redelivered, and refused again, forever."""
    container = run_service(Probe, {"RPC_MAX_REPLY_BYTES": 100_000})
    with RpcClient(amqp_uri, timeout=10) as client:
        assert client.call(SERVICE, "big", 90_000, "a") == "a" * 90_000
        with pytest.raises(RemoteError) as err:
            client.call(SERVICE, "big", 200_000, "a")
        assert err.value.exc_type == "ReplyTooLarge"
        assert "RPC_MAX_REPLY_BYTES" in str(err.value)
        assert client.call(SERVICE, "echo", 4)["x"] == 4
    container.stop()
    assert _queue_depth(amqp_uri) == 0


def test_a_request_without_reply_address_is_run_and_acked(probe, raw, client, amqp_uri):
    SEEN.clear()
    raw.send("record", json.dumps({"args": ["fire-and-forget"], "kwargs": {}}).encode(), reply=False)
    wait_until(lambda: SEEN == ["fire-and-forget"], timeout=5, what="the request run")
    assert client.call(SERVICE, "echo", 2)["x"] == 2
    probe.stop()
    assert _queue_depth(amqp_uri) == 0


def test_large_replies_written_concurrently_reach_every_caller_whole(probe, client):
    """A reply larger than a frame is packed, frame by frame, with its ack into one write
    (copies of py-amqp's reused frame buffer); replies larger than the socket's buffer are
    written in several sends, during which other workers' replies and acks must wait."""
    results = {}

    def call(i):
        fill = chr(ord("a") + i)
        results[i] = client.call(SERVICE, "big", BIG, fill) == fill * BIG
        results[100 + i] = client.call(SERVICE, "echo", i)["x"] == i  # small ones in between

    assert not in_threads(call, 8)
    assert len(results) == 16 and all(results.values())


def test_many_concurrent_callers_all_get_their_answers(probe, amqp_uri):
    """Requests keep arriving while workers publish replies: only the consumer loop may
    read the connection (a second reader, such as py-amqp's ``basic_publish`` checking
    for a blocked connection, would take frames from under it: requests lost, the
    service silent)."""
    wrong = []

    def caller(i):
        with RpcClient(amqp_uri, timeout=10, pool_size=1) as c:
            for j in range(40):
                if c.call(SERVICE, "slow", 0.001 * (j % 3)) != 0.001 * (j % 3):
                    wrong.append((i, j))

    assert not in_threads(caller, 16)
    assert not wrong


def test_calls_beyond_the_worker_pool_wait_for_a_worker_and_are_all_answered(run_service, amqp_uri):
    run_service(Probe, {"max_workers": 2})
    answers = []

    def call(i):
        with RpcClient(amqp_uri, timeout=10, pool_size=1) as c:
            answers.append(c.call(SERVICE, "slow", 0.2))

    assert not in_threads(call, 6, timeout=30)
    assert answers == [0.2] * 6


def test_a_call_in_flight_when_the_service_stops_is_answered_and_run_once(run_service, amqp_uri):
    """A graceful stop (a rolling deploy) lets the workers in flight reply and ack on the
    connection their request came on before it closes: the caller gets its answer, and
    the request is not requeued to run again elsewhere."""
    container = run_service(Probe)
    SEEN.clear()
    answers, errors = [], []

    def call():
        try:
            with RpcClient(amqp_uri, timeout=10, pool_size=1) as c:
                answers.append(c.call(SERVICE, "slow_record", 2.0, "in flight"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: SEEN == ["in flight"], timeout=5, what="the call started")
    container.stop()
    caller.join(15)
    assert not errors and answers == ["in flight"]
    assert SEEN == ["in flight"]
    assert _queue_depth(amqp_uri) == 0


def test_requests_arriving_while_the_service_stops_wait_in_the_queue(run_service, amqp_uri):
    container = run_service(Probe)
    SEEN.clear()
    with RpcClient(amqp_uri, timeout=10, pool_size=4) as client:
        slow = threading.Thread(target=lambda: client.call(SERVICE, "slow_record", 1.5, "first"))
        slow.start()
        wait_until(lambda: SEEN == ["first"], timeout=5, what="the first call started")
        stopping = threading.Thread(target=container.stop)
        stopping.start()
        eventlet.sleep(0.3)  # the consumer is cancelled; the first call is still running
        raw = RawRequester(amqp_uri)
        try:
            raw.send("record", json.dumps({"args": ["late"], "kwargs": {}}).encode())
            stopping.join(15)
            slow.join(15)
            assert SEEN == ["first"]  # the late request was not taken by the stopping service
            assert _queue_depth(amqp_uri) == 1  # it waits for the next instance
            run_service(Probe)
            wait_until(lambda: "late" in SEEN, timeout=10, what="the next instance running it")
        finally:
            raw.close()


# -- the reply, without a broker ---------------------------------------------------------------
def test_rpc_reply_encodes_the_result_once_like_nameko():
    result, exc_info, message = rpc_reply({"content_type": "application/json", "correlation_id": "c1"},
                                          {"a": [1, 2]}, None)
    assert (result, exc_info) == ({"a": [1, 2]}, None)
    assert json.loads(message.body) == {"result": {"a": [1, 2]}, "error": None}
    assert message.properties["correlation_id"] == "c1"
    assert message.properties["content_type"] == "application/json"
    assert message.properties["delivery_mode"] == 1


def test_rpc_reply_carries_the_error():
    try:
        raise ValueError("bad value")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    result, out_exc_info, message = rpc_reply({"content_type": "application/json"}, None, exc_info)
    error = json.loads(message.body)["error"]
    assert error["exc_type"] == "ValueError" and error["value"] == "bad value"
    assert out_exc_info is exc_info and result is None


def test_rpc_reply_without_a_known_content_type_is_json():
    for props in ({}, {"content_type": None}, {"content_type": "application/data"}):
        _, _, message = rpc_reply(props, {"a": 1}, None)
        assert message.properties["content_type"] == "application/json"
        assert json.loads(message.body) == {"result": {"a": 1}, "error": None}


def test_rpc_reply_over_the_limit_is_a_reply_too_large_error():
    result, exc_info, message = rpc_reply({"content_type": "application/json"}, "x" * 1000, None, max_bytes=500)
    assert result is None and exc_info[0].__name__ == "ReplyTooLarge"
    error = json.loads(message.body)["error"]
    assert error["exc_type"] == "ReplyTooLarge" and "1,0" in error["value"]
    _, exc_info, message = rpc_reply({"content_type": "application/json"}, "x" * 400, None, max_bytes=500)
    assert exc_info is None and json.loads(message.body)["result"] == "x" * 400


def test_rpc_reply_turns_an_unencodable_result_into_an_error():
    value = object()
    result, exc_info, message = rpc_reply({"content_type": "application/json"}, value, None)
    assert result is None and exc_info is not None
    assert json.loads(message.body)["error"]["exc_type"] == "UnserializableValueError"
