"""Real-time stream (Server-Sent Events) of what public actors do.

One ``EventHub`` per gateway process subscribes to the platform's public events on
RabbitMQ (an exclusive queue, reconnecting by itself) and fans them out to the connected
clients. The same queue carries the proposals' moderation events, which never reach
clients: they go to the hub's listeners (the proposal content cache,
gateway/proposal_cache.py), with ``epoch`` telling them when a reconnection may have
lost some. Each client has a bounded queue: a client that cannot keep up is disconnected
(it reconnects with ``Last-Event-ID`` and replays from the hub's ring buffer), so a slow
client never slows the others or the bus.
"""
import collections
import json
import logging
import queue
import threading
import time

import pika

from common.rpc_client import pika_parameters
from gateway.extensions import once

log = logging.getLogger(__name__)

# (source service, event type) pairs the stream carries
STREAMED = (
    ("commitments", "commitment_made"),
    ("commitments", "commitment_status_changed"),
    ("lobbying", "campaign_started"),
    ("lobbying", "campaign_milestone_reached"),
    ("lobbying", "official_responded"),
    ("voting", "proposal_emerged"),
)
FILTERS = ("actor", "proposal", "campaign", "country")
# (source service, event type) pairs only the gateway itself listens to (``EventHub.listen``)
INTERNAL = (
    ("proposals", "proposal_accepted"),
    ("proposals", "proposal_refused"),
    ("proposals", "proposal_postponed"),
)


_INTERNAL = frozenset(INTERNAL)


def matches(event: dict, filters: dict) -> bool:
    """Every given filter must match the event's data (actor also matches campaign targets)."""
    data = event.get("data") or {}
    for name, wanted in filters.items():
        if not wanted:
            continue
        if name == "actor":
            if data.get("actor_id") != wanted and wanted not in (data.get("target_actor_ids") or []):
                return False
        elif data.get(f"{name}_id" if name != "country" else "country") != wanted:
            return False
    return True


def format_sse(event: dict) -> str:
    body = json.dumps({"event_id": event["event_id"], "event_type": event["event_type"],
                       "occurred_at": event.get("occurred_at"), "data": event.get("data")}, separators=(",", ":"))
    return f"id: {event['event_id']}\nevent: {event['event_type']}\ndata: {body}\n\n"


class Subscriber:
    def __init__(self, filters, maxsize):
        self.filters = filters
        self.queue = queue.Queue(maxsize=maxsize)
        self.overflowed = False

    def offer(self, event):
        if self.overflowed or not matches(event, self.filters):
            return
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.overflowed = True  # the stream ends; the client resumes from the buffer


class EventHub:
    def __init__(self, amqp_uri, buffer_size=10000, client_queue=1000):
        self.params = pika_parameters(amqp_uri)
        self.buffer = collections.deque(maxlen=buffer_size)
        self.client_queue = client_queue
        self.subscribers = set()
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self._thread = None
        self._stopping = False
        self.epoch = 0  # +1 at every (re)connection: events may have been missed before it
        self._listeners = {}  # event type -> [callable(event)]
        self._consuming = None  # (connection, channel, queue name) while consuming

    def listen(self, event_type, callback):
        """``callback(event)`` for every ``event_type`` event (one of INTERNAL), on the
        hub's thread: it must be quick and must not raise."""
        with self.lock:
            self._listeners.setdefault(event_type, []).append(callback)

    def start(self):
        with self.lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self._thread.start()

    def stop(self):
        self._stopping = True
        self.connected.clear()  # what it feeds (the proposal cache) must stop trusting it

    def _run(self):
        backoff = 0.5
        while not self._stopping:
            connection = None
            try:
                connection = pika.BlockingConnection(self.params)
                channel = connection.channel()
                queue_name = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
                for source, event_type in STREAMED + INTERNAL:
                    exchange = f"{source}.events"
                    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
                    channel.queue_bind(queue_name, exchange, routing_key=event_type)
                cancelled = []  # the broker cancels the consumer when its queue goes (deleted by hand...)
                channel.add_on_cancel_callback(cancelled.append)
                channel.basic_consume(queue_name, self._on_message, auto_ack=True)
                self._consuming = (connection, channel, queue_name)
                with self.lock:
                    self.epoch += 1
                self.connected.set()
                backoff = 0.5
                while not self._stopping:
                    connection.process_data_events(time_limit=1)
                    if cancelled or channel.is_closed:  # the connection lives on, but no event would come
                        raise ConnectionError("the broker cancelled the event stream's consumer or closed its channel")
            except Exception as exc:  # broker restarted or unreachable, consumer cancelled: reconnect
                self.connected.clear()
                log.warning("event stream lost the broker (%s); reconnecting in %.1fs", exc, backoff)
                self._close(connection)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
            else:
                self._close(connection)

    def _close(self, connection):
        self._consuming = None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - already broken: nothing left to close
                pass

    def _on_message(self, _channel, method, _props, body):
        try:
            event = json.loads(body)
        except ValueError:
            return
        if not isinstance(event, dict) or "event_id" not in event:
            return
        if (method.exchange.partition(".")[0], method.routing_key) in _INTERNAL:
            with self.lock:
                listeners = list(self._listeners.get(method.routing_key, ()))
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # a listener's bug must not cost the stream its connection
                    log.exception("event listener failed on %s", method.routing_key)
            return
        with self.lock:
            self.buffer.append(event)
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            subscriber.offer(event)

    def subscribe(self, filters, last_event_id=None):
        """Register a client; returns (subscriber, replay events, resync flag)."""
        subscriber = Subscriber(filters, self.client_queue)
        with self.lock:
            replay, resync = [], False
            if last_event_id:
                events = list(self.buffer)
                position = next((i for i, e in enumerate(events) if e["event_id"] == last_event_id), None)
                if position is None:
                    resync = True  # too old for the buffer: the client should reload its state
                else:
                    replay = [e for e in events[position + 1:] if matches(e, filters)]
            self.subscribers.add(subscriber)
        return subscriber, replay, resync

    def unsubscribe(self, subscriber):
        with self.lock:
            self.subscribers.discard(subscriber)


def event_hub(app) -> EventHub:
    """The app's hub (one per gateway process), started on first use."""
    found = once(app, "event_hub", lambda: EventHub(app.config["AMQP_URI"], app.config["STREAM_BUFFER"],
                                                    app.config["STREAM_CLIENT_QUEUE"]))
    found.start()
    return found
