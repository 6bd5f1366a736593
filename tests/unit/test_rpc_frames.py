"""common.nameko_support._SerialFrames, _chunked_recv and _buffered_frames_first with a
recording transport (py-amqp's real framing; the socket is the only fake)."""
import socket
from types import SimpleNamespace

import eventlet
import pytest
from amqp import Message, spec
from amqp.exceptions import UnexpectedFrame
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from common.amqp_frames import frame
from common.nameko_support import RECV_CHUNK, _buffered_frames_first, _chunked_recv, _SerialFrames


class YieldingTransport:
    """Records each write; every write lets the other green threads run first, as a send
    on a full socket buffer would. ``fail`` makes writes time out."""

    def __init__(self):
        self.writes = []
        self.fail = False
        self.sock = SimpleNamespace(shutdowns=[], shutdown=lambda how: self.sock.shutdowns.append(how))

    def write(self, data):
        eventlet.sleep(0)
        if self.fail:
            raise socket.timeout("timed out")  # after part of the data, maybe
        self.writes.append(bytes(data))


def serial_frames():
    transport = YieldingTransport()
    connection = SimpleNamespace(frame_max=131072, bytes_sent=0, transport=transport)
    connection.frame_writer = frame_writer(connection, transport)
    return _SerialFrames(connection), transport


def frames_of(sig, args, content=None):
    """The bytes py-amqp writes for one method (what ``together`` must pack)."""
    transport = YieldingTransport()
    connection = SimpleNamespace(frame_max=131072, bytes_sent=0, transport=transport)
    eventlet.spawn(frame_writer(connection, transport), 1, 1, sig, args, content).wait()
    return b"".join(transport.writes)


PUBLISH_ARGS = dumps("Bssbb", (0, "nameko-rpc", "reply-key", False, False))
ACK_ARGS = dumps("Lb", (7, False))


def reply_and_ack(writes, pause=False):
    with writes.together():
        writes(1, 1, spec.Basic.Publish, PUBLISH_ARGS, Message(b'{"result": 1, "error": null}'))
        if pause:
            eventlet.sleep(0.01)
        writes(1, 1, spec.Basic.Ack, ACK_ARGS, None)


def test_a_reply_and_its_ack_leave_in_one_write():
    writes, transport = serial_frames()
    eventlet.spawn(reply_and_ack, writes).wait()
    expected = frames_of(spec.Basic.Publish, PUBLISH_ARGS, Message(b'{"result": 1, "error": null}')) + \
        frames_of(spec.Basic.Ack, ACK_ARGS)
    assert transport.writes == [expected]


def test_another_threads_frame_waits_for_the_block_and_never_lands_inside_it():
    writes, transport = serial_frames()
    block = eventlet.spawn(reply_and_ack, writes, True)
    eventlet.sleep(0)  # the block holds the writer and is paused between its two frames
    heartbeat = eventlet.spawn(writes, 8, 0, None, None, None)
    block.wait()
    heartbeat.wait()
    assert len(transport.writes) == 2
    assert transport.writes[0].startswith(b"\x01")  # the block's frames, whole
    assert transport.writes[1] == b"\x08\x00\x00\x00\x00\x00\x00\xce"  # then the heartbeat


def test_frames_packed_beforehand_join_the_block_in_order():
    writes, transport = serial_frames()
    packed = frames_of(spec.Basic.Publish, PUBLISH_ARGS, Message(b'{"result": 2, "error": null}'))

    def block():
        with writes.together():
            writes.add(packed)
            writes(1, 1, spec.Basic.Ack, ACK_ARGS, None)

    eventlet.spawn(block).wait()
    assert transport.writes == [packed + frames_of(spec.Basic.Ack, ACK_ARGS)]


def test_frames_packed_beforehand_only_go_into_a_block():
    writes, transport = serial_frames()
    with pytest.raises(RuntimeError):
        writes.add(b"\x01")
    with writes.together():
        other = eventlet.spawn(writes.add, b"\x01")
        with pytest.raises(RuntimeError):  # another green thread's block
            other.wait()
    assert transport.writes == []


def test_frames_outside_a_block_are_written_as_they_come():
    writes, transport = serial_frames()
    eventlet.spawn(writes, 8, 0, None, None, None).wait()
    assert transport.writes == [b"\x08\x00\x00\x00\x00\x00\x00\xce"]


def test_an_error_inside_the_block_writes_none_of_its_frames_and_frees_the_writer():
    writes, transport = serial_frames()

    def failing():
        with writes.together():
            writes(1, 1, spec.Basic.Publish, PUBLISH_ARGS, Message(b"{}"))
            raise ConnectionError("boom")

    with pytest.raises(ConnectionError):
        eventlet.spawn(failing).wait()
    assert transport.writes == []
    eventlet.spawn(writes, 8, 0, None, None, None).wait()  # not left locked
    assert len(transport.writes) == 1


@pytest.mark.parametrize("in_block", [True, False])
def test_a_failed_write_shuts_the_socket_down(in_block):
    """A write that timed out may have sent part of a frame: nothing may follow it."""
    writes, transport = serial_frames()
    transport.fail = True
    with pytest.raises(socket.timeout):
        eventlet.spawn(reply_and_ack if in_block else writes, *((writes,) if in_block else (8, 0, None, None, None))).wait()
    assert transport.sock.shutdowns == [socket.SHUT_RDWR]


def test_chunked_recv_asks_for_a_chunk_at_least():
    asked = []

    def recv(n, *flags):
        asked.append((n, flags))
        return b""

    chunked = _chunked_recv(recv)
    chunked(7)
    chunked(RECV_CHUNK * 2)
    chunked(1, 0)
    assert asked == [(RECV_CHUNK, ()), (RECV_CHUNK * 2, ()), (RECV_CHUNK, (0,))]


def buffered_connection(buffered: bytes):
    """A connection whose transport has ``buffered`` read ahead; py-amqp's own read and the
    frame handler record what they are asked."""
    calls = []
    connection = SimpleNamespace(transport=SimpleNamespace(_read_buffer=buffered), frames=[])
    connection.blocking_read = lambda timeout=None: calls.append(("socket", timeout))
    connection.on_inbound_frame = lambda f: connection.frames.append(f) or True
    return connection, calls


def test_whole_frames_are_taken_from_the_read_ahead_one_per_call():
    header, body = frame(2, 1, b"\x00<" + bytes(12)), frame(3, 1, b'{"args": [], "kwargs": {}}')
    connection, socket_reads = buffered_connection(header + body + b"\x01\x00")
    read = _buffered_frames_first(connection)
    assert read(1.0) is True
    assert connection.frames == [(2, 1, b"\x00<" + bytes(12))]
    assert read(1.0) is True
    assert connection.frames[1] == (3, 1, b'{"args": [], "kwargs": {}}')
    assert connection.transport._read_buffer == b"\x01\x00" and socket_reads == []
    read(1.0)  # what is left is not a whole frame: py-amqp reads the socket
    assert socket_reads == [("socket", 1.0)] and len(connection.frames) == 2


@pytest.mark.parametrize("buffered", [b"", frame(1, 1, b"abcdef")[:-1], frame(1, 1, b"abcdef")[:5]])
def test_a_frame_not_whole_in_the_read_ahead_is_read_by_py_amqp(buffered):
    connection, socket_reads = buffered_connection(buffered)
    _buffered_frames_first(connection)(None)
    assert socket_reads == [("socket", None)] and connection.frames == []
    assert connection.transport._read_buffer == buffered


def test_a_frame_without_its_end_octet_is_refused_as_py_amqp_refuses_it():
    connection, _ = buffered_connection(frame(1, 1, b"abcdef")[:-1] + b"\x00")
    with pytest.raises(UnexpectedFrame):
        _buffered_frames_first(connection)(None)
