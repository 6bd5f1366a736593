"""nameko glue shared by services: the database dependency (unit of work + outbox relay),
the ``rpc`` entrypoint that survives a broker outage, the ``ping`` health entrypoint, and
validated RPC input."""
import inspect
import logging
import socket
import sys
import time
from contextlib import contextmanager, nullcontext
from functools import partial
from struct import unpack_from

import eventlet
from amqp import Message as AmqpMessage, spec
from amqp.exceptions import PreconditionFailed, UnexpectedFrame
from eventlet import getcurrent
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection, Consumer as KombuConsumer, Exchange, Queue
from kombu.serialization import registry as serialization_registry
from nameko import config
from nameko import containers as _nameko_containers
from nameko.amqp.consume import Consumer
from nameko.constants import AMQP_URI_CONFIG_KEY, HEADER_PREFIX
from nameko.events import EventHandler
from nameko.messaging import decode_from_headers
from nameko.exceptions import (ContainerBeingKilled, IncorrectSignature, MalformedRequest, MethodNotFound,
                               UnserializableValueError, serialize)
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc, RpcConsumer, get_rpc_exchange
from marshmallow import ValidationError

from common import config as settings
from common.db import ServiceStore
from common.amqp_frames import ack_frame, publish_frames
from common.errors import ValidationFailed
from common.event_publisher import ConfirmedPublisher, FrameHolder
from common.observability import Observability
from common.outbox import OutboxRelay
from common.rpc_client import RpcClient

log = logging.getLogger(__name__)


def event_exchange(source: str) -> Exchange:
    """The exchange nameko's ``@event_handler(source, ...)`` binds to."""
    return Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


class Database(DependencyProvider):
    """Gives each worker ``self.db()`` -> a new ``UnitOfWork`` on the service's own database,
    and runs the outbox relay for the events it writes."""

    def __init__(self, service: str, metadata, relay: bool = True):
        self.service = service
        self.metadata = metadata
        self.relay_enabled = relay
        self.store = None
        self._publisher = None
        self._wake = None
        self._running = False
        self._relay_stopped = None  # sent when the relay loop has sent what was pending and ended
        self._stopping = None  # sent by stop(): cuts a linger short

    def setup(self):
        urls = config.get("DATABASE_URLS")
        if urls is not None and self.service not in urls:  # a config that lists databases must list this one
            raise RuntimeError(f"DATABASE_URLS has no database for the {self.service} service")
        self.store = ServiceStore(self.service, self.metadata, (urls or {}).get(self.service))
        amqp_uri = config.get(AMQP_URI_CONFIG_KEY) or settings.amqp_uri()
        self._publisher = ConfirmedPublisher(amqp_uri)
        self._exchanges = {}
        self.relay = OutboxRelay(self.store.engine, self.store.outbox, self._publish_many)
        self.poll_interval = float(config.get("OUTBOX_POLL_INTERVAL", 1.0))
        self.linger = float(config.get("OUTBOX_RELAY_LINGER", 0.05))

    def start(self):
        if self.relay_enabled and str(config.get("OUTBOX_RELAY", True)).lower() not in ("false", "0", "no"):
            self._running = True
            self._wake = Event()
            self._relay_stopped = Event()
            self._stopping = Event()
            self.container.spawn_managed_thread(self._relay_loop, identifier=f"{self.service}.outbox_relay")

    def stop(self):
        """Graceful: the relay sends the events still pending (a lingering pass included)
        before the store closes, so a redeploy does not leave them to the next instance."""
        self._running = False
        self.wake_relay()
        if self._stopping is not None and not self._stopping.ready():
            self._stopping.send(True)
        if self._relay_stopped is not None:
            with eventlet.Timeout(5, False):
                self._relay_stopped.wait()
        self._close()

    def kill(self):
        self._running = False
        self.wake_relay()
        self._close()

    def _close(self):
        if self._publisher is not None:
            self._publisher.close()
        if self.store:
            self.store.dispose()

    def wake_relay(self):
        if self._wake is not None and not self._wake.ready():
            self._wake.send(True)

    def _publish_many(self, messages):
        """The relay's rows as nameko events: exchange ``<source>.events``, routing key the
        event type, nameko's header prefix, ``message_id`` the event id."""
        batch, prefixed = [], {}
        for source, event_type, payload, headers, event_id in messages:
            exchange = self._exchanges.get(source)
            if exchange is None:
                exchange = self._exchanges[source] = event_exchange(source)
            # OutboxRelay gives the rows of one transaction the same dict: prefixed once (the
            # cache holds the dict too, so that its id cannot be reused within the call)
            held = prefixed.get(id(headers))
            if held is None:
                held = prefixed[id(headers)] = (headers, {f"{HEADER_PREFIX}.{k}": v for k, v in (headers or {}).items()})
            batch.append((exchange, event_type, payload, held[1], event_id))
        return self._publisher.publish_many(batch)

    def _relay_loop(self):
        backoff = 0.0
        next_purge = 0.0
        while self._running:
            if time.monotonic() >= next_purge:  # published rows are kept a week for inspection
                next_purge = time.monotonic() + 3600
                try:
                    self.relay.purge()
                except Exception as exc:  # pragma: no cover - retried next hour
                    log.warning("outbox purge for %s failed: %s", self.service, exc)
            self._wake = Event()  # fresh before scanning, so a wake-up during the scan is not lost
            try:
                # a short batch means the outbox is drained: no empty scan after every wake-up
                while self._running and self.relay.relay_batch() >= self.relay.batch_size:
                    pass
                backoff = 0.0
            except Exception as exc:  # broker or database down: keep the rows, retry with backoff
                backoff = min(max(backoff * 2, 0.5), 10.0)
                log.warning("outbox relay for %s failed (%s); retrying in %.1fs", self.service, exc, backoff)
                with eventlet.Timeout(backoff, False):
                    self._stopping.wait()  # a stop cuts the backoff short
                continue
            if not self._running:  # stopped during the scan or the purge: its wake-up went to the old event
                break
            woken = False
            with eventlet.Timeout(self.poll_interval, False):
                woken = self._wake.wait()
            if woken and self.linger > 0 and self._running:  # let concurrent transactions' events gather
                with eventlet.Timeout(self.linger, False):
                    self._stopping.wait()
        self._drain_on_stop()

    def _drain_on_stop(self, budget=4.0):
        """Send what is pending, for at most ``budget`` seconds (stop() waits 5)."""
        deadline = time.monotonic() + budget
        try:
            while self.relay.relay_batch() >= self.relay.batch_size and time.monotonic() < deadline:
                pass
        except Exception as exc:  # left in the outbox: the next instance sends them
            log.warning("outbox relay for %s stopping with events unsent (%s)", self.service, exc)
        finally:
            if self._relay_stopped is not None and not self._relay_stopped.ready():
                self._relay_stopped.send(True)

    def get_dependency(self, worker_ctx):
        headers = {"call_id_stack": list(worker_ctx.call_id_stack)}

        def unit_of_work():
            return self.store.unit_of_work(on_events=self.wake_relay, headers=headers)

        return unit_of_work


class ServiceRpc(DependencyProvider):
    """RPC to another service with a timeout (nameko 3's own proxy waits forever when the
    target is down). ``self.commitments.get_actors(ids)``; raises
    ``common.rpc_client.RemoteError`` / ``ServiceUnavailable`` like the gateway's client."""

    def __init__(self, target: str):
        self.target = target
        self.client = None

    def setup(self):
        amqp_uri = config.get(AMQP_URI_CONFIG_KEY) or settings.amqp_uri()
        self.client = RpcClient(amqp_uri, timeout=float(config.get("RPC_TIMEOUT", 5.0)),
                                pool_size=int(config.get("RPC_POOL_SIZE", 4)))

    def stop(self):
        if self.client:
            self.client.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        headers = {f"{HEADER_PREFIX}.call_id_stack": list(worker_ctx.call_id_stack)}
        return _ServiceProxy(self.client, self.target, headers)


class _ServiceProxy:
    """``proxy.method(*args)`` -> an RPC to the target service with the worker's call
    stack (one class for every worker: a class made per call is cyclic garbage)."""

    __slots__ = ("_client", "_target", "_headers")

    def __init__(self, client, target, headers):
        self._client, self._target, self._headers = client, target, headers

    def __getattr__(self, method):
        client, target, headers = self._client, self._target, self._headers
        return lambda *args, **kwargs: client.call(target, method, *args, headers=headers, **kwargs)


DEAD_LETTER_EXCHANGE = "civic.dead-letter"
DEAD_LETTER_QUEUE = "civic.dead-letter"


def _dead_letter_undecodable(message, exc):
    log.error("undecodable message (%s) dead-lettered from %s", exc, message.delivery_info.get("routing_key"))
    message.reject(requeue=False)


class QueueMismatch(RuntimeError):
    """A service's queue exists with other arguments than the service declares."""


def declare_or_stop(service_name: str, *queues: Queue) -> None:
    """Declare ``queues`` (and their bindings) when the service is set up. A queue that
    exists with other arguments is refused by the broker (PRECONDITION_FAILED); found
    here, it stops the service with a message naming the queue. Found by nameko's
    consumer instead, it would be retried forever and the service never become ready."""
    amqp_uri = config.get(AMQP_URI_CONFIG_KEY) or settings.amqp_uri()
    with Connection(amqp_uri) as connection:
        for queue in queues:
            try:
                queue(connection.default_channel).declare()
            except PreconditionFailed as exc:
                raise QueueMismatch(
                    f"queue {queue.name} exists with other arguments than {service_name} declares "
                    f"({exc.reply_text}); it would never be consumed. Drain and delete it, then start the "
                    f"service again (deploy/OPERATIONS.md, 'Existing classic queues')") from None


class ReliableEventHandler(EventHandler):
    """An event handler whose failures are retried a bounded number of times, then parked.

    Its queue is a quorum queue with ``x-delivery-limit`` (``EVENT_DELIVERY_LIMIT``, 5) and
    a dead-letter exchange: a handler error requeues the event; past the limit (or at once
    for a message that cannot be decoded) it goes to the ``civic.dead-letter`` queue for
    operators instead of looping forever. Handlers must be idempotent (``first_delivery``).
    """

    def __init__(self, source_service, event_type, **kwargs):
        kwargs.setdefault("requeue_on_error", True)
        kwargs.setdefault("on_decode_error", _dead_letter_undecodable)
        super().__init__(source_service, event_type, **kwargs)

    def setup(self):
        super().setup()
        self.queue.queue_arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": int(config.get("EVENT_DELIVERY_LIMIT", 5)),
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.queue.name,
        }
        dlx = Exchange(DEAD_LETTER_EXCHANGE, type="topic", durable=True)
        declare_or_stop(self.container.service_name, Queue(DEAD_LETTER_QUEUE, exchange=dlx, routing_key="#",
                                                           durable=True, queue_arguments={"x-queue-type": "quorum"}),
                        self.queue)


reliable_handler = ReliableEventHandler.decorator


class _SerialFrames(FrameHolder):
    """The frame writer of the RPC consumer's connection, which the service's green
    threads share: the consumer loop (its heartbeats) and every worker
    (its reply and its ack). ``together()`` packs the frames its block makes into one
    write, so a reply and its ack reach the broker in one system call (and one wake-up of
    the broker) instead of two; other threads' frames wait for it, so they go before or
    after the block's, never in between. Outside a block a frame goes straight to
    py-amqp's writer, which writes one frame at a time. An error inside the block writes
    none of its frames."""

    def __init__(self, connection):
        super().__init__(connection)
        self.lock = Semaphore()
        self.holder = None

    def __call__(self, *frame):
        if self.holder is getcurrent():
            return self.into_held(*frame)
        with self.lock:
            try:
                return self.direct(*frame)
            except OSError:
                self._break()
                raise

    def _break(self):
        """A write that failed (a timeout included: the consumer loop's one-second read
        timeout is the socket's) may have sent part of a frame; anything written after it
        would be garbage to the broker. The socket is shut down: the consumer loop sees the
        connection closed and reconnects, and the unacked requests are redelivered."""
        sock = getattr(self.transport, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def add(self, frames: bytes):
        """Frames already packed, into the current ``together`` block."""
        if self.holder is not getcurrent():
            raise RuntimeError("add() outside this green thread's together() block")
        self.held.append(frames)

    @contextmanager
    def together(self):
        with self.lock:
            self.held, self.holder = [], getcurrent()
            try:
                yield
                data = b"".join(self.held)
            finally:  # on an error nothing of the block is written
                self.held = self.holder = None
            if data:
                try:
                    self.transport.write(data)
                except OSError:
                    self._break()
                    raise


RECV_CHUNK = 65536


def _chunked_recv(recv):
    """py-amqp reads exactly what a frame needs next: three system calls per frame (its
    header, its payload, its end octet), nine per request. Asked for more, its reader
    keeps the surplus for the next frames (``TCPTransport._read``): one call reads what
    has arrived. Only for a connection read by one thread, through ``drain_events`` (no
    readiness check on the socket, which would not see what is kept): the consumer loop.
    The surplus is bounded by the consumer's prefetch."""
    def recv_chunk(n, *flags):
        return recv(max(n, RECV_CHUNK), *flags)

    return recv_chunk


def _buffered_frames_first(connection):
    """py-amqp's ``blocking_read`` for a connection whose transport reads in chunks
    (:func:`_chunked_recv`): a frame already whole in the transport's buffer (a request's
    header and body frames come in the same chunk as its method frame) is taken from it
    directly, without the read's timeout handling and its three exact-size reads. A frame
    not yet whole is read as py-amqp reads it."""
    transport, read = connection.transport, connection.blocking_read

    def blocking_read(timeout=None):
        buffered = transport._read_buffer
        if len(buffered) > 7:
            frame_type, channel, size = unpack_from(">BHI", buffered)
            end = 7 + size
            if len(buffered) > end:
                if buffered[end] != 206:  # what py-amqp's read_frame raises
                    raise UnexpectedFrame(f"Received frame_end {buffered[end]:#04x} while expecting 0xce")
                transport._read_buffer = buffered[end + 1:]
                return connection.on_inbound_frame((frame_type, channel, buffered[7:end]))
        return read(timeout)

    return blocking_read


JSON_CONTENT_TYPE = "application/json"
_json_decoder = serialization_registry._decoders[JSON_CONTENT_TYPE]


class _JsonRequests(KombuConsumer):
    """kombu's consumer, which decodes a JSON body (every request the platform sends) with
    the decoder kombu's serializer registry holds for JSON, called directly, without the
    registry's layers around it (content-type and accept checks, error wrapping: 4.4 against
    3.5 us for a vote's request in a loop). Anything else (another content type, a body that does not decode, a
    message kombu finds errors in) goes kombu's way, its errors reported as kombu reports
    them."""

    def _receive_callback(self, raw):
        accept = self.accept
        if raw.body and raw.properties.get("content_type") == JSON_CONTENT_TYPE and accept is not None \
                and JSON_CONTENT_TYPE in accept and self.on_message is None:
            try:
                decoded = _json_decoder(raw.body)
                message = self.channel.message_to_python(raw)
            except Exception:  # kombu's way below: the same error, reported as kombu reports it
                pass
            else:
                message.accept = accept
                if not message.errors:
                    message._decoded_cache = decoded
                    return self.receive(decoded, message)
        return super()._receive_callback(raw)


class _RpcQueueConsumer(Consumer):
    """nameko's consumer for the RPC queue. On each (re)connection its py-amqp transport
    reads in chunks (:func:`_chunked_recv`), whole frames are taken from what it has read
    (:func:`_buffered_frames_first`), JSON requests are decoded by :class:`_JsonRequests`
    and its writes go through :class:`_SerialFrames`. ``cancel_deliveries()`` stops the
    deliveries but keeps the connection, on which the workers in flight still reply and
    ack."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cancelled = False
        self._live = None  # (channel, kombu consumers) of the current connection

    def get_consumers(self, consumer_cls, channel):
        """nameko's consumer, of the class :class:`_JsonRequests` (kombu's consumer with
        the same arguments)."""
        return super().get_consumers(partial(_JsonRequests, *consumer_cls.args, **consumer_cls.keywords), channel)

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        amqp_connection = connection.connection
        if not isinstance(amqp_connection.frame_writer, _SerialFrames):
            amqp_connection.frame_writer = _SerialFrames(amqp_connection)
            transport = amqp_connection.transport
            transport._quick_recv = _chunked_recv(transport._quick_recv)
            amqp_connection.blocking_read = _buffered_frames_first(amqp_connection)
        self._live = (channel, consumers)
        if self.cancelled:  # reconnected while stopping
            self.cancel_deliveries()
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def cancel_deliveries(self):
        """``basic.cancel`` without waiting for its answer (only the consumer loop reads
        the connection); a request delivered before the broker took the cancel is
        requeued, for another instance."""
        self.cancelled = True
        if self._live is None:
            return
        channel, consumers = self._live
        for consumer in consumers:
            for tag in list(consumer._active_tags.values()):
                try:
                    channel.send_method(spec.Basic.Cancel, "sb", (tag, True))
                except Exception as exc:  # the connection is gone: it delivers nothing more
                    log.debug("rpc consumer cancel not sent: %s", exc)

    def on_message(self, body, message):
        if self.cancelled:
            self.requeue_message(message)
            return
        super().on_message(body, message)


class ReplyTooLarge(Exception):
    """The reply would be larger than ``RPC_MAX_REPLY_BYTES``: the broker would refuse it."""


MAX_REPLY_BYTES = 15 * 1024 * 1024  # RabbitMQ 4 refuses messages over 16 MiB (max_message_size)


def rpc_reply(request_properties, result, exc_info, max_bytes=MAX_REPLY_BYTES):
    """nameko's reply to an RPC request: ``{"result", "error"}`` encoded like the request
    (JSON when the request names no known content type). A result that cannot be encoded
    becomes an ``UnserializableValueError`` (as in nameko), one over ``max_bytes`` a
    ``ReplyTooLarge`` error: the broker would refuse it by closing the channel, the
    request's included. Answers ``(result, exc_info, message)``; the message is transient
    (reply queues are not durable)."""
    serializer = serialization_registry.type_to_name.get(request_properties.get("content_type"), "json")
    # the registry's encoder for it, called directly (what kombu's dumps() calls)
    codec = serialization_registry._encoders[serializer]

    def encode(result, exc_info):
        error = serialize(exc_info[1]) if exc_info is not None else None
        body = codec.encoder({"result": result, "error": error})
        encoding = codec.content_encoding
        return codec.content_type, encoding, body.encode(encoding or "utf-8") if isinstance(body, str) else body

    try:
        content_type, encoding, body = encode(result, exc_info)
    except Exception:
        result, exc_info = None, (UnserializableValueError, UnserializableValueError(result), None)
        content_type, encoding, body = encode(None, exc_info)
    if len(body) > max_bytes:
        too_large = ReplyTooLarge(f"the reply is {len(body):,} bytes, over RPC_MAX_REPLY_BYTES ({max_bytes:,})")
        result, exc_info = None, (ReplyTooLarge, too_large, None)
        content_type, encoding, body = encode(None, exc_info)
    message = AmqpMessage(body, content_type=content_type, content_encoding=encoding,
                          correlation_id=request_properties.get("correlation_id"), delivery_mode=1)
    return result, exc_info, message


def reply_frames(channel, reply, exchange, routing_key):
    """The reply's ``basic.publish`` frames, for the request's channel (packed by
    ``common.amqp_frames``). Not py-amqp's ``basic_publish``, which first reads the
    connection (``drain_events(timeout=0)``, to notice a ``connection.blocked``): a second
    reader beside the consumer loop takes frames from under it, deliveries included (seen
    as requests never answered). The consumer loop reads every frame, ``connection.blocked``
    too."""
    props = reply.properties
    return publish_frames(channel.channel_id, exchange, routing_key, reply.body, channel.connection.frame_max,
                          props.get("content_type"), props.get("content_encoding"), props.get("delivery_mode"),
                          props.get("correlation_id"))


def ack_into(writer, message):
    """kombu's ``message.ack()`` (the same check, the same state afterwards), its frame packed
    directly (``common.amqp_frames``) into ``writer``'s ``together`` block: through py-amqp's
    generic method framing it took ~10 us of the ~160 us the service spent before a reply."""
    if message.acknowledged:
        raise message.MessageStateError(f"Message already acknowledged with state: {message._state}")
    writer.add(ack_frame(message.channel.channel_id, message.delivery_tag))
    message._state = "ACK"


class ResilientRpcConsumer(RpcConsumer):
    """nameko's RPC consumer with a cheaper reply, and a reply that cannot be sent (the
    broker is down or restarting) logged instead of raised.

    The reply: nameko opens a publisher for every reply (a pooled connection looked up
    per call, retry wrapper, publisher confirm awaited: a broker round trip), encodes the
    result twice, then acks the request. Here the reply is encoded once and published on
    the channel the request came from, and the reply and the ack leave in one write
    (:class:`_SerialFrames`). Same reply bytes and properties, except that it is
    transient: the caller's reply queue is not durable. The confirm bought nothing for a
    caller: a reply lost with the connection is a timeout on the caller's side either way
    (our RPC client turns it into a 503), and the request, not acked, is redelivered.

    Stock nameko lets a reply error escape the worker, which kills the whole container:
    one broker restart longer than the publisher's retry window and a service is gone for
    good. Here the service lives on and its consumer reconnects by itself; the request,
    never acked, is redelivered to a handler that is idempotent or refused by its TTL.

    A graceful stop lets the workers in flight answer before the connection closes
    (:meth:`stop`)."""

    consumer_cls = _RpcQueueConsumer

    def setup(self):
        super().setup()
        self.exchange_name = get_rpc_exchange().name
        self.max_reply_bytes = int(config.get("RPC_MAX_REPLY_BYTES", MAX_REPLY_BYTES))
        declare_or_stop(self.container.service_name, self.queue)

    _by_routing_key = None  # routing key -> entrypoint, made at the first request

    def register_provider(self, provider):
        self._by_routing_key = None
        super().register_provider(provider)

    def unregister_provider(self, provider):
        super().unregister_provider(provider)
        self._by_routing_key = None

    def get_provider_for_method(self, routing_key):
        """nameko formats and compares every entrypoint's key on each request."""
        providers = self._by_routing_key
        if providers is None:
            service = self.container.service_name
            providers = self._by_routing_key = {f"{service}.{p.method_name}": p for p in self._providers}
        provider = providers.get(routing_key)
        if provider is None:
            raise MethodNotFound(routing_key.split(".")[-1])
        return provider

    @staticmethod
    def _straight(message) -> bool:
        """Sent straight to the queue (RabbitMQ's default exchange), not through nameko-rpc."""
        return message.delivery_info.get("exchange") == ""

    def _routing_key(self, message):
        """``<service>.<method>`` by either route; None for a request sent straight to the
        queue that names no method."""
        if self._straight(message):
            method = message.properties.get("type")
            return f"{self.container.service_name}.{method}" if method else None
        return message.delivery_info.get("routing_key")

    def _called(self, message):
        """What a request called, for logs (its queue when it names no method)."""
        return self._routing_key(message) or message.delivery_info.get("routing_key")

    def handle_message(self, body, message):
        """Two routes in: nameko's (``nameko-rpc``, routing key ``<service>.<method>``) and
        straight to the queue (RabbitMQ's default exchange, the method in the ``type``
        property: ``common.rpc_client``'s, without a topic match each way). The reply
        leaves by the route the request came by."""
        try:
            routing_key = self._routing_key(message)
            if routing_key is None:  # what a stock nameko service says
                raise MethodNotFound(message.delivery_info.get("routing_key"))
            self.get_provider_for_method(routing_key).handle_message(body, message)
        except Exception:
            self.handle_result(message, None, sys.exc_info())

    def stop(self):
        """Graceful (a redeploy): no new request is taken, the workers in flight reply and
        ack on the connection their request came on, then it closes. nameko closed it at
        once, so a request still running lost its ack (it ran again elsewhere) and here
        its reply too. Called once per entrypoint; the container waits for its workers
        after the entrypoints stop anyway."""
        self.consumer.cancel_deliveries()
        self.container._worker_pool.waitall()
        super().stop()

    def handle_result(self, message, result, exc_info):
        reply_to = message.properties.get("reply_to")
        try:
            result, exc_info, reply = rpc_reply(message.properties, result, exc_info, self.max_reply_bytes)
            if exc_info is not None and exc_info[0] is ReplyTooLarge:
                log.warning("rpc reply to %s not sent: %s", self._called(message), exc_info[1])
        except Exception:  # not expected; acked unanswered rather than redelivered to fail again
            log.exception("rpc reply to %s could not be built", self._called(message))
            reply_to = None
        try:
            writer = message.channel.connection.frame_writer  # _SerialFrames, set at each connection
            with writer.together():
                if reply_to:  # a request without a reply address is only acked
                    exchange = "" if self._straight(message) else self.exchange_name
                    writer.add(reply_frames(message.channel, reply, exchange, reply_to))
                ack_into(writer, message)
        except Exception as exc:  # the broker connection: infrastructure, never the handler's result
            log.warning("rpc reply to %s not sent (%s: %s); the caller has timed out",
                        self._called(message), type(exc).__name__, exc)
        return result, exc_info


class ResilientRpc(Rpc):
    """``@rpc`` with :class:`ResilientRpcConsumer`. Every entrypoint of a service must use
    this one (one consumer per service queue), so services import ``rpc`` from here.

    The arguments are checked against a signature computed once (nameko recomputes it
    with ``inspect.getcallargs`` on every call); same rule: a wrapper's own signature,
    ``IncorrectSignature`` with Python's message on a mismatch. Positional arguments
    alone, as the platform's callers send them, are checked by their count. While the
    pool has a free worker, the request's worker is spawned and run before the consumer
    reads the next frame."""

    rpc_consumer = ResilientRpcConsumer()

    def setup(self):
        super().setup()
        method = getattr(self.container.service_cls, self.method_name)
        self._signature = inspect.signature(method, follow_wrapped=False)
        self._positional_counts = _positional_counts(self._signature)

    def handle_message(self, body, message):
        pool = getattr(self.container, "_worker_pool", None)
        # balance: free slots less the threads already waiting for one (they go first)
        if pool is None or pool.sem.balance < 1:  # nameko's way: wait for a worker in a thread of its own
            return super().handle_message(body, message)
        try:
            args, kwargs = body["args"], body["kwargs"]
        except (KeyError, TypeError):
            raise MalformedRequest("Message missing `args` or `kwargs`") from None
        self.check_signature(args, kwargs)
        try:  # a free worker: spawning cannot block the consumer
            self.container.spawn_worker(self, args, kwargs, context_data=decode_from_headers(message.headers),
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.rpc_consumer.consumer.requeue_message(message)
            return
        # The worker runs now, until it replies or blocks, and the consumer after it: without
        # this the consumer would first go back to the connection, and its read's system calls
        # (a recv that would block, the socket's epoll registration) and the hub's round would
        # come before the reply instead of after it.
        eventlet.sleep(0)

    def check_signature(self, args, kwargs):
        counts = self._positional_counts
        if counts is not None and type(kwargs) is dict and not kwargs and type(args) is list \
                and counts[0] <= len(args) <= counts[1]:
            return
        try:
            self._signature.bind(None, *args, **kwargs)  # None: the unbound method's self
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None


rpc = ResilientRpc.decorator


def _positional_counts(signature):
    """``(least, most)`` positional arguments (after ``self``) that bind when no keyword
    argument is given, or None when that depends on more than their count (a required
    keyword-only parameter, no positional ``self``)."""
    kinds = inspect.Parameter
    params = list(signature.parameters.values())
    if not params or params[0].kind not in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD):
        return None  # no positional ``self``: binding decides
    params = params[1:]
    if any(p.kind is kinds.KEYWORD_ONLY and p.default is p.empty for p in params):
        return None
    positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    least = sum(1 for p in positional if p.default is p.empty)
    most = float("inf") if any(p.kind is kinds.VAR_POSITIONAL for p in params) else len(positional)
    return least, most


def _debug_timing_only(logger, timed):
    """nameko times each worker's phases (``nameko.containers._log_time``) with a context
    manager that formats a DEBUG message and hands it to logging whether DEBUG is on or
    not: four per RPC, 2 us each. This one times only while DEBUG is on for ``logger``."""
    untimed = nullcontext()

    def log_time(msg, *args):
        return timed(msg, *args) if logger.isEnabledFor(logging.DEBUG) else untimed

    log_time.timed = timed
    return log_time


if not hasattr(_nameko_containers._log_time, "timed"):  # once, however often this module is reloaded
    _nameko_containers._log_time = _debug_timing_only(_nameko_containers._log, _nameko_containers._log_time)


class HealthMixin:
    """Adds the ``ping`` RPC used by the gateway's /readyz, and logs/metrics context."""

    observability = Observability()

    @rpc
    def ping(self):
        return {"service": self.name, "status": "ok"}


def load(schema, data, partial=False):
    """Validate RPC input against its marshmallow schema; errors name the fields."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed({"_schema": "expected an object"})
    try:
        loaded = schema.load(data, partial=partial)
    except ValidationError as err:
        raise ValidationFailed(_flatten(err.messages)) from None
    bad = _nul_fields(loaded)
    if bad:  # PostgreSQL cannot store NUL characters in text
        raise ValidationFailed({field: "must not contain NUL characters" for field in bad})
    return loaded


def _nul_fields(value, path=""):
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _nul_fields(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [f for i, v in enumerate(value) for f in _nul_fields(v, f"{path}.{i}" if path else str(i))]
    return []


def _flatten(messages):
    if isinstance(messages, dict):
        return {k: _flatten_value(v) for k, v in messages.items()}
    return {"_schema": _flatten_value(messages)}


def _flatten_value(value):
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value[0] if len(value) == 1 else value
    return value
