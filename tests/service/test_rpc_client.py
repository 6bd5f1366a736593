"""common/rpc_client.py against the real RabbitMQ and a real (in-process) nameko service."""
import shutil
import subprocess
import threading
import time
import uuid

import eventlet
import pika
import pytest
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc as rpc_entrypoint

from common.errors import ValidationFailed
from common.testing import wait_until
from common.rpc_client import (
    BrokerUnavailable,
    RemoteError,
    RpcClient,
    RpcError,
    RpcTimeout,
    ServiceUnavailable,
    pika_parameters,
)

CALLS = []  # arguments EchoService.record was executed with (in this process)


class WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class EchoService:
    name = "echo"
    ctx = WorkerContext()

    @rpc_entrypoint
    def echo(self, x):
        return x

    @rpc_entrypoint
    def pair(self, a, b=None):
        return [a, b]

    @rpc_entrypoint
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return {"slept": seconds}

    @rpc_entrypoint(expected_exceptions=ValidationFailed)
    def fail(self):
        raise ValidationFailed({"field": "bad"})

    @rpc_entrypoint
    def record(self, x):
        CALLS.append(x)
        return x

    @rpc_entrypoint
    def call_stack(self):
        return list(self.ctx.call_id_stack)


@pytest.fixture
def echo(run_service):
    return run_service(EchoService)


@pytest.fixture
def client(amqp_uri):
    with RpcClient(amqp_uri, timeout=5) as client:
        yield client


def _consumers(amqp_uri, service):
    conn = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        return conn.channel().queue_declare(f"rpc-{service}", passive=True).method.consumer_count
    finally:
        conn.close()


class Stopwatch:
    """``with Stopwatch() as watch, pytest.raises(...): ...`` then ``watch.elapsed``."""

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.monotonic() - self.started
        return False


# --------------------------------------------------------------------------
# URI -> connection parameters (no broker needed)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("uri,host,port,vhost,user,password", [
    ("pyamqp://guest:guest@127.0.0.1:5672//", "127.0.0.1", 5672, "/", "guest", "guest"),
    ("pyamqp://guest:guest@127.0.0.1:5672/", "127.0.0.1", 5672, "/", "guest", "guest"),
    ("pyamqp://u:p@rabbit:5673/test-abc", "rabbit", 5673, "test-abc", "u", "p"),
    ("amqp://u%40x:p%2Fw@rabbit/%2Fprod", "rabbit", 5672, "/prod", "u@x", "p/w"),
    ("amqp://rabbit", "rabbit", 5672, "/", "guest", "guest"),
])
def test_pika_parameters_from_kombu_style_uri(uri, host, port, vhost, user, password):
    params = pika_parameters(uri, connect_timeout=1.5)
    assert (params.host, params.port, params.virtual_host) == (host, port, vhost)
    assert (params.credentials.username, params.credentials.password) == (user, password)
    assert params.socket_timeout == 1.5 and params.connection_attempts == 1


# --------------------------------------------------------------------------
# Round trips and remote errors
# --------------------------------------------------------------------------


def test_round_trip(echo, client):
    value = {"text": "héllo", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    assert client.call("echo", "echo", value) == value
    assert client.echo.echo("x") == "x"
    assert client.echo.pair(1, b="two") == [1, "two"]
    assert client.call("echo", "pair", "a") == ["a", None]


def test_a_service_on_nameko_stock_rpc_is_called_through_nameko_rpc_and_runs_once(echo, amqp_uri, monkeypatch):
    """The client sends straight to the service's queue; nameko's stock entrypoint cannot
    dispatch that (``MethodNotFound`` naming the queue, before running anything), so the
    client calls it through ``nameko-rpc``, for ``TOPIC_RECHECK`` seconds, then tries the
    straight route again."""
    import common.rpc_client as rpc_client

    CALLS.clear()
    with RpcClient(amqp_uri, timeout=5) as client:
        assert client.echo.record("first") == "first"
        assert "echo" in client._through_exchange
        assert client.echo.record("second") == "second"  # straight through nameko-rpc now
        monkeypatch.setattr(rpc_client, "TOPIC_RECHECK", 0.0)
        client._through_exchange["echo"] = 0.0  # time to try the straight route again
        assert client.echo.record("third") == "third"
        assert client._through_exchange["echo"] > 0.0  # tried straight again, and fell back again
        with pytest.raises(RemoteError) as err:
            client.echo.no_such_method()
        assert (err.value.exc_type, err.value.value) == ("MethodNotFound", "no_such_method")
    assert CALLS == ["first", "second", "third"]


def test_a_pooled_channel_runs_pikas_checks_only_after_news_or_a_long_idle(echo, amqp_uri, monkeypatch):
    """Taking a channel from the pool costs a socket peek; pika's event loop (its
    heartbeat check included: a silently dead broker sends nothing) runs when the peek
    finds something or the channel has been idle longer than IDLE_CHECK."""
    import common.rpc_client as rpc_client

    with RpcClient(amqp_uri, timeout=5, pool_size=1) as client:
        assert client.echo.echo(1) == 1  # through nameko-rpc from now on: a stock service
        chan = list(client._idle.queue)[0]
        checks = []
        pump = chan.connection.process_data_events

        def counted(*args, **kwargs):
            if args == (0,):
                checks.append(1)
            return pump(*args, **kwargs)

        monkeypatch.setattr(chan.connection, "process_data_events", counted)
        assert client.echo.echo(2) == 2
        assert checks == []
        monkeypatch.setattr(rpc_client, "IDLE_CHECK", 0.0)
        assert client.echo.echo(3) == 3
        assert checks == [1]


def test_headers_reach_the_worker_context(echo, client):
    stack = client.call("echo", "call_stack", headers={"nameko.call_id_stack": ["gateway.req-77"]})
    assert stack[0] == "gateway.req-77"
    assert stack[-1].startswith("echo.call_stack.")


def test_remote_validation_failed_is_a_remote_error_with_its_fields(echo, client):
    with pytest.raises(RemoteError) as err:
        client.echo.fail()
    assert err.value.exc_type == "ValidationFailed"
    assert err.value.exc_args[0] == {"field": "bad"}
    assert err.value.value == "field: bad"
    assert err.value.exc_path.endswith("ValidationFailed")
    assert isinstance(err.value, RpcError) and not isinstance(err.value, ServiceUnavailable)


def test_unknown_method_is_method_not_found(echo, client):
    with pytest.raises(RemoteError) as err:
        client.echo.no_such_method(1)
    assert err.value.exc_type == "MethodNotFound"


def test_wrong_arguments_are_incorrect_signature(echo, client):
    with pytest.raises(RemoteError) as err:
        client.echo.echo(1, 2, 3)
    assert err.value.exc_type == "IncorrectSignature"
    assert client.echo.echo("still fine") == "still fine"


# --------------------------------------------------------------------------
# Timeouts
# --------------------------------------------------------------------------


def test_slow_call_times_out_and_the_late_reply_is_not_taken_for_the_next(echo, amqp_uri):
    with RpcClient(amqp_uri, timeout=5, pool_size=1) as client:  # one channel: every call reuses it
        with Stopwatch() as watch, pytest.raises(RpcTimeout):
            client.call("echo", "slow", 1.0, timeout=0.3)
        assert 0.3 <= watch.elapsed < 0.8
        assert client.echo.echo("right after") == "right after"  # while the slow worker still runs
        time.sleep(1.0)  # the late {"slept": 1.0} reply is now waiting on the channel
        assert client.echo.slow(0) == {"slept": 0}
        assert client.echo.echo("later") == "later"


def test_default_timeout_applies(echo, amqp_uri):
    with RpcClient(amqp_uri, timeout=0.4) as client:
        with Stopwatch() as watch, pytest.raises(RpcTimeout):
            client.echo.slow(2)
        assert 0.4 <= watch.elapsed < 0.9


def test_rpc_timeout_is_a_service_unavailable(echo, client):
    with pytest.raises(ServiceUnavailable):
        client.call("echo", "slow", 1, timeout=0.2)


def test_waiting_for_a_pooled_channel_counts_against_the_timeout(echo, amqp_uri):
    with RpcClient(amqp_uri, timeout=5, pool_size=1) as client:
        client.echo.echo("warm up")
        busy = threading.Thread(target=lambda: client.echo.slow(0.6))
        busy.start()
        time.sleep(0.1)  # the only channel is now busy for ~0.5 s more
        with Stopwatch() as watch, pytest.raises(ServiceUnavailable):
            client.call("echo", "slow", 2, timeout=0.8)
        busy.join()
        assert watch.elapsed < 0.8 + 0.25, f"took {watch.elapsed:.2f}s with a 0.8s timeout"


# --------------------------------------------------------------------------
# Fast failures
# --------------------------------------------------------------------------


def test_service_that_never_ran_is_unavailable_quickly(echo, client):
    for _ in range(3):  # first the queue check, then the cached answer
        with Stopwatch() as watch, pytest.raises(ServiceUnavailable) as err:
            client.call("nosuchservice", "anything", 1)
        assert watch.elapsed < 1.0
        assert type(err.value) is ServiceUnavailable
        assert "nosuchservice" in str(err.value)
    assert client.echo.echo("pool still works") == "pool still works"


def test_stopped_service_is_unavailable_quickly(echo, amqp_uri):
    with RpcClient(amqp_uri, timeout=5, liveness_ttl=0) as client:
        assert client.echo.echo(1) == 1
        echo.stop()
        # nameko's stop can return before the broker has dropped the consumer; a call made
        # in that window waits for its timeout (its message stays queued for the service)
        wait_until(lambda: _consumers(amqp_uri, "echo") == 0, timeout=5, what="the broker dropping the consumer")
        with Stopwatch() as watch, pytest.raises(ServiceUnavailable) as err:
            client.echo.echo(2)
        assert watch.elapsed < 1.0
        assert type(err.value) is ServiceUnavailable


def test_missing_broker_is_broker_unavailable_quickly():
    with RpcClient("pyamqp://guest:guest@127.0.0.1:1//", timeout=2, pool_size=2, connect_timeout=0.5) as client:
        for _ in range(4):  # more than pool_size: a failed connect must give its slot back
            with Stopwatch() as watch, pytest.raises(BrokerUnavailable) as err:
                client.echo.echo(1)
            assert watch.elapsed < 1.0
            assert isinstance(err.value, ServiceUnavailable)
            assert "broker" in str(err.value)


def test_pool_replaces_a_connection_it_closed(echo, amqp_uri):
    with RpcClient(amqp_uri, timeout=5, pool_size=1) as client:
        assert client.echo.echo(1) == 1
        for chan in list(client._idle.queue):
            chan.connection.close()
        assert client.echo.echo(2) == 2


def _close_from_the_broker(connection):
    """Have RabbitMQ close one client connection (as a broker restart or an idle cut would)."""
    exe = shutil.which("rabbitmqctl")
    if not exe:
        pytest.skip("rabbitmqctl is not available")
    port = connection._impl._transport._sock.getsockname()[1]
    listing = subprocess.run([exe, "list_connections", "pid", "name", "--no-table-headers", "-q"],
                             capture_output=True, text=True, timeout=30).stdout
    pids = [line.split()[0] for line in listing.splitlines() if f":{port} ->" in line]
    if not pids:
        pytest.skip("the broker in use is not the one rabbitmqctl manages")
    subprocess.run([exe, "close_connection", pids[0], "test: closed by the broker"],
                   capture_output=True, text=True, timeout=30, check=True)
    time.sleep(0.3)


def test_connection_closed_by_the_broker_is_replaced_before_the_call(echo, amqp_uri):
    with RpcClient(amqp_uri, timeout=5, pool_size=1) as client:
        assert client.echo.echo(1) == 1
        _close_from_the_broker(list(client._idle.queue)[0].connection)
        assert client.echo.echo(2) == 2


# --------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------


def test_concurrent_callers_each_get_their_own_answers(echo, amqp_uri):
    threads_n, calls_n = 20, 25
    wrong, errors = [], []

    with RpcClient(amqp_uri, timeout=10, pool_size=8) as client:  # fewer channels than threads

        def worker(t):
            for i in range(calls_n):
                value = f"{t}-{i}-{uuid.uuid4().hex}"
                try:
                    answer = client.echo.echo(value)
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(repr(exc))
                    continue
                if answer != value:
                    wrong.append((value, answer))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert wrong == []


# --------------------------------------------------------------------------
# Requests expire
# --------------------------------------------------------------------------


def test_timed_out_request_is_not_executed_when_the_service_comes_back(run_service, amqp_uri):
    stale, fresh = f"stale-{uuid.uuid4().hex}", f"fresh-{uuid.uuid4().hex}"
    container = run_service(EchoService)
    with RpcClient(amqp_uri, timeout=5, liveness_ttl=60) as client:  # still believes echo is up
        assert client.echo.record("warm up") == "warm up"
        container.stop()  # the durable rpc-echo queue stays, with no consumer
        with pytest.raises(RpcTimeout):
            client.call("echo", "record", stale, timeout=0.3)
        time.sleep(0.5)
        run_service(EchoService)
        assert client.echo.record(fresh) == fresh
        time.sleep(0.5)  # a stale request would have been delivered by now
    assert fresh in CALLS
    assert stale not in CALLS
