"""Publishing a batch of events to RabbitMQ with publisher confirms awaited once per batch.

The outbox relay (common/outbox.py) hands over up to a hundred rows at a time. nameko's
``Publisher`` confirms each message before the next one leaves (a broker round trip per
event); here the batch is published back to back on one confirm-mode channel, then the
broker's acks are read until every message of the batch is confirmed. Same messages as
nameko's publisher writes for an event (JSON, persistent, ``message_id``, headers), same
order (one channel), same guarantee: a message counts as sent only once the broker has
confirmed it. The frames of a batch's messages go to the socket in one write, not one
write per message (each write on a loopback or LAN socket is a system call and a wake-up
of the broker). They are packed by common/amqp_frames.py, byte for byte what kombu's
``Producer`` and py-amqp would write for the same message (tests/service/
test_event_publisher.py compares them), without their per-message layers; a payload given
as JSON text (the outbox row's) goes out as it is, not decoded and encoded again.

``publish_many`` never raises: it answers how many messages, counted from the first, the
broker confirmed, and the error that stopped the rest (None when all were confirmed), so
the relay marks exactly those rows and keeps the others. On any error the connection is
dropped and the next call opens a new one; a call that fails on a connection opened by an
earlier call (closed by a broker restart while idle) is retried once on a fresh one.
"""
from __future__ import annotations

import time

import kombu
from amqp import spec
from amqp.method_framing import frame_writer
from kombu.utils.json import dumps

from common.amqp_frames import publish_frames


class MessageNacked(Exception):
    """The broker refused to take responsibility for a message (basic.nack)."""


class ConfirmTimeout(Exception):
    """The broker did not confirm the batch in time."""


class FrameHolder:
    """Stands in for py-amqp's frame writer on a connection (``connection.frame_writer``,
    which every channel looks up at each send). ``direct`` is the writer py-amqp made when
    it connected; ``into_held`` frames the same way into the ``held`` list instead of the
    socket, so that frames made apart can reach the broker in one system call. Subclasses
    decide which frames are held and when they are written."""

    def __init__(self, connection):
        self.transport = connection.transport
        self.direct = connection.frame_writer
        self.into_held = frame_writer(connection, self)  # same framing, into ``write`` below
        self.held = None

    def write(self, data) -> None:  # the transport of ``into_held``: its buffer is reused
        self.held.append(bytes(data))


class _HeldPublishes(FrameHolder):
    """The publisher's connection: while holding, ``basic.publish`` frames (method, header
    and body) are held; any other frame (a declare, a channel or connection close, a
    heartbeat) writes what is held first, so the broker sees every frame in the order it
    was made."""

    def __call__(self, type_, channel, method_sig, args, content):
        if self.held is not None:
            if method_sig == spec.Basic.Publish:
                return self.into_held(type_, channel, method_sig, args, content)
            self.flush()
        return self.direct(type_, channel, method_sig, args, content)

    def hold(self) -> None:
        if self.held is None:
            self.held = []

    def flush(self) -> None:
        """Write what is held, in one write."""
        if self.held:
            held, self.held = self.held, []
            self.transport.write(b"".join(held))

    def release(self) -> None:
        self.flush()
        self.held = None

    def discard(self) -> None:
        self.held = None


class ConfirmedPublisher:
    def __init__(self, amqp_uri: str, confirm_timeout: float = 10.0, connect_timeout: float = 5.0):
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self._connection = None
        self._closed = False  # by close(): never reopened (a stopping service)

    # -- connection ---------------------------------------------------------------------
    def _open(self):
        connection = kombu.Connection(self.amqp_uri, connect_timeout=self.connect_timeout, heartbeat=0,
                                      transport_options={"confirm_publish": False})
        try:
            channel = connection.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            amqp_connection = connection.connection
            writes = amqp_connection.frame_writer = _HeldPublishes(amqp_connection)
        except BaseException:
            connection.release()
            raise
        self._connection, self._channel, self._writes = connection, channel, writes
        self._frame_max = amqp_connection.frame_max
        self._declared: set = set()
        self._sent = 0  # delivery tags of this channel: 1, 2, ... in publish order
        self._acked_upto = 0  # every tag <= this one is acked (acks with ``multiple``)
        self._acked: set = set()
        self._nacked: set = set()

    def close(self) -> None:
        self._closed = True
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - already broken: nothing left to release
                pass

    def _on_ack(self, tag, multiple):
        if multiple:
            self._acked_upto = max(self._acked_upto, tag)
        else:
            self._acked.add(tag)

    def _on_nack(self, tag, multiple):
        first = self._acked_upto + 1 if multiple else tag
        self._nacked.update(t for t in range(first, tag + 1) if t not in self._acked)

    def _is_acked(self, tag: int) -> bool:
        # a nacked tag stays refused even when a later ack with ``multiple`` covers it
        return (tag <= self._acked_upto or tag in self._acked) and tag not in self._nacked

    def _confirmed(self, first: int, last: int) -> tuple[int, bool]:
        """How many of tags first..last are acked in a row from ``first``; and whether
        every one of them has an answer (ack or nack)."""
        done = 0
        for tag in range(first, last + 1):
            if self._is_acked(tag):
                done += 1
            else:
                break
        answered = all(self._is_acked(t) or t in self._nacked for t in range(first + done, last + 1))
        return done, answered

    # -- publishing ---------------------------------------------------------------------
    def publish_many(self, messages) -> tuple[int, Exception | None]:
        """``messages``: [(exchange: kombu.Exchange, routing_key, payload, headers,
        message_id)], ``payload`` a JSON-serialisable value or its JSON text (str or
        bytes, sent as it is). Returns (confirmed, error): the first ``confirmed`` messages
        are with the broker; ``error`` is why the others (if any) are not."""
        messages = list(messages)
        if not messages:
            return 0, None
        reused = self._connection is not None
        done, error = self._publish(messages)
        if error is not None and done == 0 and reused and not isinstance(error, MessageNacked):
            done, error = self._publish(messages)  # an idle connection the broker dropped: once, afresh
        return done, error

    def _publish(self, messages) -> tuple[int, Exception | None]:
        if self._closed:
            return 0, ConnectionError("publisher closed")
        first = None
        try:
            if self._connection is None:
                self._open()
            first = self._sent + 1
            channel_id = self._channel.channel_id
            for exchange, routing_key, payload, headers, message_id in messages:
                self._writes.hold()
                if exchange.name not in self._declared:
                    exchange(self._channel).declare()  # written after what is held, then answered
                    self._declared.add(exchange.name)
                self._writes.held.append(
                    event_frames(channel_id, exchange.name, routing_key, payload, headers, message_id, self._frame_max))
                self._sent += 1
            self._writes.release()
            last = self._sent
            deadline = time.monotonic() + self.confirm_timeout
            done, answered = self._confirmed(first, last)
            while not answered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConfirmTimeout(f"{last - first + 1 - done} of {last - first + 1} messages not confirmed "
                                         f"within {self.confirm_timeout:.0f}s")
                self._connection.drain_events(timeout=remaining)
                done, answered = self._confirmed(first, last)
        except Exception as exc:  # noqa: BLE001 - reported to the relay with what got through
            if self._connection is not None:
                self._writes.discard()  # never sent, so never confirmed: the relay keeps them
            done = self._confirmed(first, self._sent)[0] if first is not None and self._sent >= first else 0
            self._drop()
            return done, exc
        self._acked = {t for t in self._acked if t > last}
        self._nacked = {t for t in self._nacked if t > last}
        if done < len(messages):
            return done, MessageNacked(f"the broker refused message {done + 1} of {len(messages)}")
        return done, None


def event_frames(channel_id: int, exchange: str, routing_key: str, payload, headers: dict | None,
                 message_id: str | None, frame_max: int) -> bytes:
    """The frames of one persistent event: what kombu's ``Producer(serializer="json")``
    writes for ``publish(payload, headers=..., message_id=..., delivery_mode=2)``. A
    ``payload`` that is JSON text (str or bytes) is the body as it is; anything else is
    written by kombu's json serializer."""
    if isinstance(payload, str):
        body = payload.encode()
    elif isinstance(payload, bytes):
        body = payload
    else:
        body = dumps(payload).encode()
    return publish_frames(channel_id, exchange, routing_key, body, frame_max, content_type="application/json",
                          content_encoding="utf-8", headers=headers or {}, delivery_mode=2, priority=0,
                          message_id=message_id)
