"""A pooled, thread-safe client for nameko RPC over raw pika.

nameko's standalone client pays ~10 ms per call here; this one keeps a pool of
connections, each with its own exclusive reply queue, so a call is one publish and one
delivery: close to a raw pika round trip.

The route: a request goes straight to the service's queue ``rpc-<service>`` (RabbitMQ's
default exchange, the method in the message's ``type`` property) and the reply straight
to the caller's queue, which is how the platform's ``rpc`` entrypoint
(``common.nameko_support``) answers a request that came that way. nameko's own route,
the ``nameko-rpc`` topic exchange both ways (routing key ``<service>.<method>``), costs
the broker a topic match each way: up to a fifth of a round trip here, run to run. A service on nameko's
stock ``@rpc`` (or an older version of ours during a deploy) cannot dispatch a request
sent straight to its queue and answers ``MethodNotFound`` naming the queue, before
running anything: the client then calls it through ``nameko-rpc`` (its reply queue is
bound there under its own name) and keeps doing so for ``TOPIC_RECHECK`` seconds.

Guarantees:
- a call never waits longer than its timeout: it raises ``RpcTimeout``;
- a request that timed out is not executed later: it carries a TTL equal to the timeout;
- a service with no consumer on its queue fails fast with ``ServiceUnavailable``;
- an unreachable broker fails fast with ``BrokerUnavailable`` (and the pool reconnects);
- remote errors come back as ``RemoteError`` carrying nameko's ``exc_type``/``exc_args``.
"""
import json
import logging
import queue
import socket
import threading
import time
import uuid
from urllib.parse import unquote, urlsplit

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker

log = logging.getLogger(__name__)

RPC_QUEUE = "rpc-{}"  # nameko's RPC_QUEUE_TEMPLATE: a service's request queue
JOIN_AT_MOST = 131072  # bytes of a message's frames sent in one write
IDLE_CHECK = 30.0  # seconds idle after which a pooled channel runs pika's checks (heartbeat 60 s)
TOPIC_RECHECK = 60.0  # seconds a service that answered only through nameko-rpc is called that way


class RpcError(Exception):
    pass


class ServiceUnavailable(RpcError):
    """The service (or the broker) cannot answer now."""


class BrokerUnavailable(ServiceUnavailable):
    pass


class RpcTimeout(ServiceUnavailable):
    pass


class RemoteError(RpcError):
    def __init__(self, exc_type, value, exc_args=None, exc_path=None):
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value
        self.exc_args = exc_args or []
        self.exc_path = exc_path


def pika_parameters(amqp_uri: str, connect_timeout: float = 2.0) -> pika.ConnectionParameters:
    """Connection parameters from a kombu/nameko style URI (``pyamqp://u:p@host:5672//``
    means vhost ``/``, as in kombu)."""
    parts = urlsplit(amqp_uri)
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    vhost = unquote(path) if path else "/"
    return pika.ConnectionParameters(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5672,
        virtual_host=vhost,
        credentials=pika.PlainCredentials(unquote(parts.username or "guest"), unquote(parts.password or "guest")),
        socket_timeout=connect_timeout,
        blocked_connection_timeout=connect_timeout * 5,
        connection_attempts=1,
        heartbeat=60,
    )


def _one_write_per_message(connection):
    """pika writes each frame of a message (method, header, body) with a system call of
    its own; joined, a request is one write, and one wake-up of the broker's reader. The
    connection's frame count (statistics only) then counts a message as one frame. Not a
    large message: pika copies what is left of a buffer at each partial send."""
    impl = connection._impl
    output = impl._output_marshaled_frames

    def output_joined(frames):
        if len(frames) > 1 and sum(map(len, frames)) <= JOIN_AT_MOST:
            frames = [b"".join(frames)]
        output(frames)

    impl._output_marshaled_frames = output_joined


class _Channel:
    """One connection + channel + reply queue, used by one thread at a time."""

    def __init__(self, params, exchange):
        self.connection = pika.BlockingConnection(params)
        _one_write_per_message(self.connection)
        self._sock = self.connection._impl._transport._sock  # non-blocking
        self.channel = self.connection.channel()
        self.exchange = exchange
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        declared = self.channel.queue_declare(f"rpc.reply-gateway-{uuid.uuid4()}", exclusive=True, auto_delete=True)
        self.reply_queue = declared.method.queue
        # the reply address is the queue's name: a reply comes straight to it, or through
        # nameko's exchange, where it is bound under that name
        self.channel.queue_bind(self.reply_queue, exchange, routing_key=self.reply_queue)
        self.replies = {}
        self.returned = set()
        self.channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)
        self.channel.add_on_return_callback(self._on_return)
        self.last_used = time.monotonic()

    def _on_reply(self, _ch, _method, props, body):
        self.replies[props.correlation_id] = body

    def _on_return(self, _ch, _method, props, _body):
        self.returned.add(props.correlation_id)

    @property
    def usable(self):
        return self.connection.is_open and self.channel.is_open

    def _has_incoming(self) -> bool:
        """Has the broker sent anything (or closed the socket) since the last call?"""
        try:
            self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"" when closed: also news
            return True
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):  # broken, or a socket that cannot peek (TLS): pika finds out
            return True

    def refresh(self) -> bool:
        """Read what the broker sent while the channel was idle (heartbeats, a close after
        a broker restart, late replies); True when the channel is still usable."""
        # one system call; pika's event loop only when there is something to read, or
        # when its heartbeat check may be due (a silently dead broker sends nothing)
        if self._has_incoming() or time.monotonic() - self.last_used > IDLE_CHECK:
            self.connection.process_data_events(0)
        self.replies.clear()
        return self.usable

    def consumer_count(self, service):
        result = self.channel.queue_declare(RPC_QUEUE.format(service), passive=True)
        return result.method.consumer_count

    def call(self, service, method, body, headers, timeout, direct=True):
        """``direct``: straight to the service's queue, the method in ``type``; otherwise
        through nameko's exchange, routing key ``<service>.<method>``."""
        correlation_id = str(uuid.uuid4())
        deadline = time.monotonic() + timeout
        self.replies.clear()  # one call at a time per channel: anything here is a late reply
        if direct:
            exchange, routing_key, message_type = "", RPC_QUEUE.format(service), method
        else:
            exchange, routing_key, message_type = self.exchange, f"{service}.{method}", None
        self.channel.basic_publish(
            exchange,
            routing_key,
            body,
            pika.BasicProperties(
                reply_to=self.reply_queue,
                correlation_id=correlation_id,
                content_type="application/json",
                content_encoding="utf-8",
                headers=headers,
                expiration=str(max(1, int(timeout * 1000))),
                type=message_type,
            ),
            mandatory=True,  # no such queue (or binding): returned, not dropped
        )
        try:
            while True:
                reply = self.replies.pop(correlation_id, None)
                if reply is not None:
                    return reply
                if correlation_id in self.returned:
                    raise ServiceUnavailable(f"no service bound for {service}.{method}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RpcTimeout(f"{service}.{method} did not answer within {timeout:.1f}s")
                self.connection.process_data_events(time_limit=min(remaining, 0.5))
        finally:
            self.returned.discard(correlation_id)
            self.last_used = time.monotonic()

    def close(self):
        try:
            if self.connection.is_open:
                self.connection.close()
        except Exception:  # pragma: no cover - best effort
            pass


class RpcClient:
    """Thread-safe nameko RPC client: ``client.call("accounts", "register", data)`` or
    ``client.accounts.register(data)``."""

    def __init__(self, amqp_uri, timeout=5.0, pool_size=16, exchange="nameko-rpc",
                 connect_timeout=2.0, liveness_ttl=2.0, context=None):
        self.params = pika_parameters(amqp_uri, connect_timeout)
        self.timeout = timeout
        self.exchange = exchange
        self.pool_size = pool_size
        self.liveness_ttl = liveness_ttl
        self._idle = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._liveness = {}  # service -> (checked_at, has_consumers)
        self._through_exchange = {}  # service -> until when it is called through nameko-rpc
        self._lock = threading.Lock()
        self._closed = False

    # -- pool -------------------------------------------------------------
    def _acquire(self, timeout):
        if not self._slots.acquire(timeout=timeout):
            raise ServiceUnavailable("RPC client pool exhausted")
        while True:
            try:
                chan = self._idle.get_nowait()
            except queue.Empty:
                break
            try:
                if chan.usable and chan.refresh():
                    return chan
            except (AMQPError, OSError):
                pass
            chan.close()  # closed by the broker (e.g. restarted): replace it
        try:
            return _Channel(self.params, self.exchange)
        except (AMQPError, OSError) as exc:
            self._slots.release()
            raise BrokerUnavailable(f"message broker unavailable: {exc.__class__.__name__}") from None

    def _release(self, chan, broken=False):
        if broken or self._closed:
            chan.close()
        else:
            self._idle.put(chan)
        self._slots.release()

    # -- calls ------------------------------------------------------------
    def _service_alive(self, chan, service):
        now = time.monotonic()
        cached = self._liveness.get(service)
        if cached and now - cached[0] < self.liveness_ttl:
            return cached[1]
        try:
            alive = chan.consumer_count(service) > 0
        except ChannelClosedByBroker:  # queue does not exist: the service never started
            alive = None
        self._liveness[service] = (now, bool(alive))
        return alive

    def call(self, service, method, *args, timeout=None, headers=None, **kwargs):
        timeout = self.timeout if timeout is None else timeout
        now = time.monotonic()
        deadline = now + timeout  # one budget for the pool wait and the call(s)
        body = json.dumps({"args": list(args), "kwargs": kwargs}, default=str).encode()
        direct = self._through_exchange.get(service, 0.0) <= now
        payload = self._round_trip(service, method, body, headers, deadline, direct)
        error = payload.get("error")
        if error and direct and error.get("exc_type") == "MethodNotFound" \
                and error.get("value") == RPC_QUEUE.format(service):
            # it dispatches on nameko's routing key only, and said so before running anything
            log.info("%s answers only through %s: calling it that way", service, self.exchange)
            self._through_exchange[service] = time.monotonic() + TOPIC_RECHECK
            if time.monotonic() >= deadline:
                raise RpcTimeout(f"{service}.{method} did not answer within {timeout:.1f}s")
            payload = self._round_trip(service, method, body, headers, deadline, direct=False)
            error = payload.get("error")
        if error:
            raise RemoteError(error.get("exc_type"), error.get("value"), error.get("exc_args"), error.get("exc_path"))
        return payload.get("result")

    def _round_trip(self, service, method, body, headers, deadline, direct):
        """One request and its reply (decoded), within ``deadline``."""
        timeout = deadline - time.monotonic()
        chan = self._acquire(max(timeout, 0.0))
        broken = False
        try:
            alive = self._service_alive(chan, service)
            if alive is None:
                broken = True  # the passive declare closed the channel
                raise ServiceUnavailable(f"service {service} is not running")
            if not alive:
                raise ServiceUnavailable(f"service {service} is not running")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RpcTimeout(f"{service}.{method}: no connection free within {timeout:.1f}s")
            raw = chan.call(service, method, body, headers or {}, remaining, direct)
        except RpcTimeout:
            self._liveness.pop(service, None)  # re-check the service before the next call
            raise
        except ServiceUnavailable:
            raise
        except (AMQPError, OSError) as exc:
            broken = True
            raise BrokerUnavailable(f"message broker unavailable: {exc.__class__.__name__}") from None
        finally:
            self._release(chan, broken)
        return json.loads(raw)

    def __getattr__(self, service):
        if service.startswith("_"):
            raise AttributeError(service)
        return _ServiceProxy(self, service)

    def close(self):
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _ServiceProxy:
    def __init__(self, client, service):
        self._client = client
        self._service = service

    def __getattr__(self, method):
        def call(*args, **kwargs):
            return self._client.call(self._service, method, *args, **kwargs)

        return call
