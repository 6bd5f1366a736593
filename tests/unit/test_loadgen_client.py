"""bench/loadgen.py's raw HTTP/1.1 client, against small scripted asyncio servers on
127.0.0.1: the benchmarks' latencies and error counts are only as good as its keep-alive,
framing, retry and timeout handling. Each run is a few tenths of a second."""
import asyncio
import contextlib
import re
import socket

import pytest

from bench import loadgen
from bench.loadgen import RawClient, encode_request

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Stats:
    """What the server saw: connections opened, at most open at once, requests read per
    connection (in the order the connections came), connections the client closed."""

    def __init__(self):
        self.opened = self.open = self.max_open = self.client_closed = self.port = 0
        self.requests: list = []
        self.heads: list = []


async def read_request(reader) -> tuple | None:
    """(head, body) of the next request, None at the client's EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return head, body


@contextlib.asynccontextmanager
async def serving(handler):
    """``handler(reader, writer, stats, k)`` serves the k-th connection; yields (port, stats)."""
    stats = Stats()

    async def on_connection(reader, writer):
        k = stats.opened
        stats.opened += 1
        stats.open += 1
        stats.max_open = max(stats.max_open, stats.open)
        stats.requests.append(0)
        try:
            await handler(reader, writer, stats, k)
        except ConnectionError:
            pass
        finally:
            stats.open -= 1
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    stats.port = server.sockets[0].getsockname()[1]
    try:
        yield stats.port, stats
    finally:
        server.close()


async def next_request(reader, stats, k) -> bool:
    """Read one request; False (and counted) when the client closed the connection."""
    request = await read_request(reader)
    if request is None:
        stats.client_closed += 1
        return False
    stats.requests[k] += 1
    stats.heads.append(request[0])
    return True


def answering(response: bytes, delay: float = 0.0):
    """A handler answering every request with ``response`` (after ``delay``), kept alive."""
    async def handler(reader, writer, stats, k):
        while await next_request(reader, stats, k):
            if delay:
                await asyncio.sleep(delay)
            writer.write(response)
    return handler


def spec(port: int, n: int, rate: float = 200.0, **extra) -> dict:
    return {"kind": "get", "urls": [f"http://127.0.0.1:{port}/api/v1/x?page=2"], "rate": rate,
            "duration": n / rate, "connections": 1, "timeout": 1.0, "start_delay": 0.05, **extra}


def run_against(handler, n: int, **extra) -> tuple[dict, Stats]:
    async def scenario():
        async with serving(handler) as (port, stats):
            result = await loadgen.run(spec(port, n, **extra))
            await asyncio.sleep(0.05)  # the server sees the client's closes (and ends its handlers)
            return result, stats
    return asyncio.run(scenario())


# -- requests -------------------------------------------------------------------------------------
def test_requests_are_serialised_once_with_host_length_and_the_given_headers():
    host, port, payload = encode_request(
        "PUT", "http://127.0.0.1:8000/api/v1/proposals/7/vote", b'{"key": 3}',
        {"Content-Type": "application/json", "X-Session-Id": "s1", "Content-Length": "99", "Host": "other"})
    assert (host, port) == ("127.0.0.1", 8000)
    assert payload == (b"PUT /api/v1/proposals/7/vote HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
                       b"Content-Type: application/json\r\nX-Session-Id: s1\r\nContent-Length: 10\r\n\r\n"
                       b'{"key": 3}')
    assert encode_request("GET", "http://example.org/a b?q=1", None, {})[2] == \
        b"GET /a%20b?q=1 HTTP/1.1\r\nHost: example.org\r\n\r\n"
    with pytest.raises(ValueError):
        encode_request("GET", "https://example.org/", None, {})  # no TLS
    with pytest.raises(ValueError):
        encode_request("GET", "http://example.org/", None, {"X-A": "1\r\nX-B: 2"})
    with pytest.raises(ValueError):  # one host:port per run
        RawClient([("GET", "http://127.0.0.1:8000/a", None, {}), ("GET", "http://127.0.0.1:8001/a", None, {})], 10)


def test_run_rejects_an_unknown_client():
    with pytest.raises(ValueError):
        asyncio.run(loadgen.run(spec(1, 1, client="curl")))


# -- keep-alive, retries, the pool ------------------------------------------------------------------
def test_one_kept_alive_connection_serves_every_request():
    result, stats = run_against(answering(OK), 20)
    assert (result["client"], result["loop"], result["n"]) == ("raw", "asyncio", 20)
    assert result["status"] == [200] * 20 and result["errors"] == {}
    assert stats.opened == 1 and stats.requests == [20]
    assert set(stats.heads) == {b"GET /api/v1/x?page=2 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % stats.port}
    assert all(0 < lat < 0.5 for lat in result["latency"]) and len(result["due"]) == 20
    assert 0 < result["finished"] < 20 / 200 + 0.5 and result["cpu_seconds"] > 0
    assert stats.client_closed == 1  # closed at the end of the run


def test_a_kept_alive_connection_the_server_drops_is_retried_on_a_new_one():
    """The server answers the first request of a connection and closes it on the second
    unanswered (gunicorn closing an idle connection as a request goes out)."""
    async def handler(reader, writer, stats, k):
        if await next_request(reader, stats, k):
            writer.write(OK)
            await next_request(reader, stats, k)  # closed without an answer

    result, stats = run_against(handler, 5, rate=100)
    assert result["status"] == [200] * 5 and result["errors"] == {}
    assert stats.opened == 5 and stats.requests == [2, 2, 2, 2, 1]


def test_a_request_is_retried_once_and_only_on_a_reused_connection():
    """Only the very first request is ever answered: the second fails on its reused
    connection, then on the new one (no second retry); the third fails on a new one."""
    async def handler(reader, writer, stats, k):
        while await next_request(reader, stats, k):
            if sum(stats.requests) > 1:
                return
            writer.write(OK)

    result, stats = run_against(handler, 3, rate=50)
    assert result["status"] == [200, 0, 0] and result["errors"] == {"ServerDisconnected": 2}
    assert stats.opened == 3 and stats.requests == [2, 1, 1]
    assert all(lat < 0.5 for lat in result["latency"])  # failures carry the time they took


def test_connections_the_server_closes_while_idle_leave_the_pool_without_errors():
    async def handler(reader, writer, stats, k):
        if await next_request(reader, stats, k):
            writer.write(OK)
            await asyncio.sleep(0.03)  # keepalive: 30 ms, then closed; the requests are 100 ms apart

    result, stats = run_against(handler, 3, rate=10)
    assert result["status"] == [200] * 3 and result["errors"] == {}
    assert stats.opened == 3 and stats.requests == [1, 1, 1]


def test_connection_close_from_the_server_retires_the_connection():
    # the server keeps reading: a client that reused the connection would be answered
    result, stats = run_against(answering(OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")), 4)
    assert result["status"] == [200] * 4 and result["errors"] == {}
    assert stats.opened == 4 and stats.requests == [1, 1, 1, 1] and stats.client_closed == 4


def test_the_pool_never_holds_more_than_connections():
    # 30 requests in 0.1 s, each answered after 50 ms: ~15 wanted at once, 3 allowed
    result, stats = run_against(answering(OK, delay=0.05), 30, rate=300, connections=3)
    assert result["status"] == [200] * 30 and result["errors"] == {}
    assert stats.opened == 3 and stats.max_open == 3 and sum(stats.requests) == 30
    # the wait for a connection is latency: the last of the 10 rounds ends ~0.5 s after t0
    assert max(d + lat for d, lat in zip(result["due"], result["latency"])) >= 0.45


# -- responses ----------------------------------------------------------------------------------
async def write_in_pieces(writer, data: bytes, size: int, pause: float = 0.001) -> None:
    for at in range(0, len(data), size):
        writer.write(data[at:at + size])
        await writer.drain()
        await asyncio.sleep(pause)


def test_a_chunked_response_is_read_to_its_last_chunk():
    response = (b"HTTP/1.1 203 Non-Authoritative Information\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;name=value\r\nhello\r\n" + b"1A\r\n" + b"x" * 26 + b"\r\n0\r\nX-Trailer: 1\r\n\r\n")

    async def handler(reader, writer, stats, k):
        while await next_request(reader, stats, k):
            await write_in_pieces(writer, response, 3)

    result, stats = run_against(handler, 3, rate=20)
    # a client that stopped early would find the rest on the connection: a BadResponse or a new connection
    assert result["status"] == [203] * 3 and result["errors"] == {}
    assert stats.opened == 1 and stats.requests == [3]


def test_a_content_length_body_in_many_writes_is_read_whole():
    body = b"y" * 20_000
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + body

    async def handler(reader, writer, stats, k):
        while await next_request(reader, stats, k):
            await write_in_pieces(writer, response, 500, pause=0.002)  # 41 writes over >= 80 ms

    result, stats = run_against(handler, 3, rate=5)
    assert result["status"] == [200] * 3 and result["errors"] == {}
    assert stats.opened == 1 and stats.requests == [3]
    assert all(lat >= 0.08 for lat in result["latency"])  # done at the last byte, not at the head


def test_a_body_read_until_the_server_closes():
    async def handler(reader, writer, stats, k):
        if await next_request(reader, stats, k):
            await write_in_pieces(writer, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"z" * 3000, 1000)

    result, stats = run_against(handler, 2, rate=20)
    assert result["status"] == [200, 200] and result["errors"] == {}
    assert stats.opened == 2


def test_a_500_is_recorded_as_its_status():
    result, stats = run_against(answering(b"HTTP/1.1 500 INTERNAL SERVER ERROR\r\nContent-Length: 9\r\n\r\n"
                                          b"{\"a\": 1}\n"), 4)
    assert result["status"] == [500] * 4 and result["errors"] == {}
    assert stats.opened == 1 and stats.requests == [4]


@pytest.mark.parametrize("response", [b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
                                      b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
                                      b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_a_response_that_is_not_http_or_malformed_is_an_error(response):
    result, stats = run_against(answering(response), 3, rate=50)
    assert result["status"] == [0] * 3 and result["errors"] == {"BadResponse": 3}
    assert stats.opened == 3  # never reused


# -- failures -----------------------------------------------------------------------------------
def test_a_server_that_never_answers_times_out_and_its_connection_is_closed():
    async def handler(reader, writer, stats, k):
        await next_request(reader, stats, k)
        await next_request(reader, stats, k)  # until the client closes

    result, stats = run_against(handler, 2, rate=10, timeout=0.3)
    assert result["status"] == [0, 0] and result["errors"] == {"timeout": 2}
    assert result["latency"] == [0.3, 0.3]
    # the second request waited for the one connection: the first's, closed at its timeout
    assert stats.opened == 2 and stats.requests == [1, 1] and stats.client_closed == 2
    assert result["finished"] <= result["due"][-1] + 0.3 + 0.05


def test_connection_refused_is_counted_with_the_time_it_took():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed: nobody listens there
    result = asyncio.run(loadgen.run(spec(port, 4, rate=100, connections=2)))
    assert result["status"] == [0] * 4 and result["errors"] == {"ConnectionRefusedError": 4}
    assert all(lat < 0.5 for lat in result["latency"])
