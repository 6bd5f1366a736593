"""The AMQP 0-9-1 frames of a publish (an RPC reply, an event) and of an ack, packed with
``struct``.

py-amqp frames a publish through its generic encoders (the method's arguments by a
format string, each of the fourteen basic properties looked up in turn): about 10 us of
the RPC service's reply, the largest piece of it after the system call. A reply only ever
carries four properties, so its frames are packed here directly: the same bytes
(tests/unit/test_amqp_frames.py compares them with py-amqp's), a fifth of the time. The
outbox relay's events (common/event_publisher.py) add headers, a priority and a message
id; the headers table is still encoded by py-amqp.
Pure code: no socket, no nameko.
"""
from struct import pack

from amqp.serialization import dumps

FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
FRAME_END = b"\xce"
FRAME_OVERHEAD = 8  # type, channel, size before the payload; the end octet after it
BASIC_CLASS, BASIC_PUBLISH, BASIC_ACK = 60, 40, 80
# property flags (the high bit first), in the order their values follow the flags
_CONTENT_TYPE, _CONTENT_ENCODING, _HEADERS, _DELIVERY_MODE = 1 << 15, 1 << 14, 1 << 13, 1 << 12
_PRIORITY, _CORRELATION_ID, _MESSAGE_ID = 1 << 11, 1 << 10, 1 << 7


def shortstr(value: str) -> bytes:
    data = value.encode()
    if len(data) > 255:
        raise ValueError(f"an AMQP short string is at most 255 bytes, not {len(data)}")
    return bytes((len(data),)) + data


def frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    return pack(">BHI", frame_type, channel, len(payload)) + payload + FRAME_END


def publish_frames(channel: int, exchange: str, routing_key: str, body: bytes, frame_max: int,
                   content_type: str | None = None, content_encoding: str | None = None,
                   delivery_mode: int | None = None, correlation_id: str | None = None,
                   headers: dict | None = None, priority: int | None = None,
                   message_id: str | None = None) -> bytes:
    """``basic.publish`` (not mandatory, not immediate), its content header and its body
    in frames of at most ``frame_max`` bytes, as one string of bytes. A property left None
    is not sent (as py-amqp leaves out a property whose value is None)."""
    flags, values = 0, []
    if content_type is not None:
        flags |= _CONTENT_TYPE
        values.append(shortstr(content_type))
    if content_encoding is not None:
        flags |= _CONTENT_ENCODING
        values.append(shortstr(content_encoding))
    if headers is not None:
        flags |= _HEADERS
        values.append(dumps("F", (headers,)))
    if delivery_mode is not None:
        flags |= _DELIVERY_MODE
        values.append(bytes((delivery_mode,)))
    if priority is not None:
        flags |= _PRIORITY
        values.append(bytes((priority,)))
    if correlation_id is not None:
        flags |= _CORRELATION_ID
        values.append(shortstr(correlation_id))
    if message_id is not None:
        flags |= _MESSAGE_ID
        values.append(shortstr(message_id))
    method = pack(">HHH", BASIC_CLASS, BASIC_PUBLISH, 0) + shortstr(exchange) + shortstr(routing_key) + b"\x00"
    header = pack(">HHQH", BASIC_CLASS, 0, len(body), flags) + b"".join(values)
    frames = [frame(FRAME_METHOD, channel, method), frame(FRAME_HEADER, channel, header)]
    chunk = frame_max - FRAME_OVERHEAD
    frames += [frame(FRAME_BODY, channel, body[i:i + chunk]) for i in range(0, len(body), chunk)]
    return b"".join(frames)


def ack_frame(channel: int, delivery_tag: int) -> bytes:
    """``basic.ack`` of one delivery (not ``multiple``)."""
    return frame(FRAME_METHOD, channel, pack(">HHQB", BASIC_CLASS, BASIC_ACK, delivery_tag, 0))
