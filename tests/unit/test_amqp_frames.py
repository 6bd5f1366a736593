"""common.amqp_frames: the reply's frames are byte for byte what py-amqp writes."""
import itertools

import pytest
from amqp import Message, spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from common.amqp_frames import ack_frame, publish_frames, shortstr


class Recorder:
    def __init__(self):
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))


def py_amqp_publish(channel, exchange, routing_key, body, frame_max, **properties):
    recorder = Recorder()
    connection = type("Connection", (), {"frame_max": frame_max, "bytes_sent": 0})()
    args = dumps("Bssbb", (0, exchange, routing_key, False, False))
    frame_writer(connection, recorder)(1, channel, spec.Basic.Publish, args, Message(body, **properties))
    return b"".join(recorder.writes)


PROPERTIES = {"content_type": "application/json", "content_encoding": "utf-8", "delivery_mode": 1,
              "correlation_id": "9b1c8a7e-1234-4d5e-8f9a-0b1c2d3e4f50"}


@pytest.mark.parametrize("names", [c for n in range(5) for c in itertools.combinations(PROPERTIES, n)])
def test_every_combination_of_the_reply_properties(names):
    properties = {name: PROPERTIES[name] for name in names}
    body = b'{"result": {"x": "\xc3\xa9"}, "error": null}'
    assert publish_frames(3, "", "rpc.reply-gateway-1", body, 131072, **properties) == \
        py_amqp_publish(3, "", "rpc.reply-gateway-1", body, 131072, **properties)


@pytest.mark.parametrize("size", [0, 1, 4096, 131072 - 100, 131072 - 8, 131072 - 7, 131072, 3 * 131072 + 5])
@pytest.mark.parametrize("frame_max", [4096, 131072])
def test_bodies_of_every_size_are_split_as_py_amqp_splits_them(size, frame_max):
    body = bytes(i % 251 for i in range(size))
    ours = publish_frames(1, "nameko-rpc", "reply-key", body, frame_max, **PROPERTIES)
    assert ours == py_amqp_publish(1, "nameko-rpc", "reply-key", body, frame_max, **PROPERTIES)
    assert ours.endswith(b"\xce")


def test_delivery_mode_2_and_non_ascii_strings():
    properties = dict(PROPERTIES, delivery_mode=2, correlation_id="é" * 10)
    assert publish_frames(65535, "ex", "clé", b"{}", 131072, **properties) == \
        py_amqp_publish(65535, "ex", "clé", b"{}", 131072, **properties)


def test_a_short_string_is_at_most_255_bytes():
    assert shortstr("a" * 255)[0] == 255
    with pytest.raises(ValueError, match="255"):
        shortstr("é" * 128)  # 256 bytes


@pytest.mark.parametrize("headers", [{}, {"nameko.call_id_stack": ["gateway.vote.1", "voting.vote_batch.2"]},
                                     {"k": "é \"quoted\" \\", "n": 3, "flag": True}])
def test_an_events_headers_priority_and_message_id(headers):
    properties = dict(PROPERTIES, delivery_mode=2)
    del properties["correlation_id"]  # an event has none
    args = (2, "voting.events", "vote_cast", b'{"event_id": "e1"}', 131072)
    assert publish_frames(*args, headers=headers, priority=0, message_id="e1", **properties) == \
        py_amqp_publish(*args, application_headers=headers, priority=0, message_id="e1", **properties)
    assert publish_frames(*args, message_id="e1") == py_amqp_publish(*args, message_id="e1")
    assert publish_frames(*args, priority=9) == py_amqp_publish(*args, priority=9)


@pytest.mark.parametrize("channel, delivery_tag", [(1, 1), (7, 300), (65535, 2 ** 64 - 1)])
def test_an_ack_is_what_py_amqp_writes(channel, delivery_tag):
    recorder = Recorder()
    connection = type("Connection", (), {"frame_max": 131072, "bytes_sent": 0})()
    frame_writer(connection, recorder)(1, channel, spec.Basic.Ack, dumps("Lb", (delivery_tag, False)), None)
    assert ack_frame(channel, delivery_tag) == b"".join(recorder.writes)
