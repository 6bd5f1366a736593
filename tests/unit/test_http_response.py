"""gateway/http_response.py: the same bytes as gunicorn's own response, in fewer writes."""
import os
import tempfile

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi

from gateway.http_response import JOIN_AT_MOST, CoalescingResponse, install


class _Req:
    def __init__(self, method="GET", version=(1, 1)):
        self.method, self.version = method, version

    def should_close(self):
        return False


class _Sock:
    """Records each write; ``sendfile`` writes the file's bytes as one write."""

    def __init__(self):
        self.writes = []

    def sendall(self, data):
        self.writes.append(bytes(data))

    def sendfile(self, f, offset=0, count=None):
        f.seek(offset)
        self.writes.append(f.read(count))

    def fileno(self):
        return -1

    @property
    def wire(self):
        return b"".join(self.writes)


def _serve(cls, status, headers, body, method="GET", version=(1, 1)):
    sock = _Sock()
    resp = cls(_Req(method, version), sock, Config())
    resp.start_response(status, headers)
    for chunk in body:
        resp.write(chunk)
    resp.close()
    return sock


def _no_date(wire: bytes) -> bytes:
    return b"\r\n".join(line for line in wire.split(b"\r\n") if not line.startswith(b"Date: "))


CASES = {
    "json with Content-Length": ("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")],
                                 [b'{"ok": true}'[:11]], "GET", (1, 1)),
    "chunked, several chunks": ("200 OK", [("Content-Type", "text/plain")], [b"abc", b"defgh", b"i"], "GET", (1, 1)),
    "chunked, empty first chunk": ("200 OK", [("Content-Type", "text/event-stream")], [b"", b"data: 1\n\n"],
                                   "GET", (1, 1)),
    "no body at all": ("200 OK", [("Content-Length", "0")], [], "GET", (1, 1)),
    "empty write then close": ("200 OK", [("Content-Length", "0")], [b""], "GET", (1, 1)),
    "HEAD": ("200 OK", [("Content-Length", "5")], [b"hello"], "HEAD", (1, 1)),
    "204": ("204 No Content", [], [b""], "DELETE", (1, 1)),
    "body longer than Content-Length": ("200 OK", [("Content-Length", "3")], [b"hello", b"more"], "GET", (1, 1)),
    "HTTP/1.0, no length": ("200 OK", [("Content-Type", "text/plain")], [b"ab", b"cd"], "GET", (1, 0)),
}


@pytest.mark.parametrize("case", CASES)
def test_same_bytes_as_gunicorn(case):
    status, headers, body, method, version = CASES[case]
    ours = _serve(CoalescingResponse, status, headers, body, method, version)
    stock = _serve(wsgi.Response, status, headers, body, method, version)
    assert _no_date(ours.wire) == _no_date(stock.wire)
    assert len(ours.writes) <= len(stock.writes)


def test_headers_and_small_body_in_one_write():
    sock = _serve(CoalescingResponse, "200 OK", [("Content-Length", "11")], [b'{"ok":true}'])
    assert len(sock.writes) == 1
    assert sock.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and sock.writes[0].endswith(b'\r\n\r\n{"ok":true}')
    # gunicorn's own: headers, then body
    assert len(_serve(wsgi.Response, "200 OK", [("Content-Length", "11")], [b'{"ok":true}']).writes) == 2


def test_a_large_first_chunk_is_not_copied_into_the_headers_write():
    body = b"x" * (JOIN_AT_MOST + 1)
    sock = _serve(CoalescingResponse, "200 OK", [("Content-Length", str(len(body)))], [body])
    assert len(sock.writes) == 2 and sock.writes[0].endswith(b"\r\n\r\n") and sock.writes[1] == body


def test_chunked_first_chunk_goes_with_the_headers_framed():
    sock = _serve(CoalescingResponse, "200 OK", [], [b"abc", b"de"])
    assert sock.writes[0].endswith(b"\r\n\r\n3\r\nabc\r\n")
    assert sock.writes[1:] == [b"2\r\nde\r\n", b"0\r\n\r\n"]


def test_headers_leave_at_the_first_write_even_without_body_bytes():
    """A stream whose first chunk is empty: the client gets its headers then, as with
    gunicorn, not at the next chunk."""
    sock = _Sock()
    resp = CoalescingResponse(_Req(), sock, Config())
    resp.start_response("200 OK", [("Content-Type", "text/event-stream")])
    resp.write(b"")
    assert sock.wire.startswith(b"HTTP/1.1 200 OK\r\n") and sock.wire.endswith(b"\r\n\r\n")


def test_sendfile_puts_the_headers_first():
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"static file body")
        f.flush()
        f.seek(0)
        sock = _Sock()
        resp = CoalescingResponse(_Req(), sock, Config())
        resp.start_response("200 OK", [("Content-Length", str(os.path.getsize(f.name)))])
        assert resp.sendfile(wsgi.FileWrapper(f)) is True
        resp.close()
    assert len(sock.writes) == 2
    assert sock.writes[0].startswith(b"HTTP/1.1 200 OK") and sock.writes[0].endswith(b"\r\n\r\n")
    assert sock.writes[1] == b"static file body"


def test_install_makes_gunicorn_build_it(monkeypatch):
    monkeypatch.setattr(wsgi, "Response", wsgi.Response)  # restored after the test
    install()
    resp, _ = wsgi.create(_FakeParsed(), _Sock(), ("127.0.0.1", 5), ("127.0.0.1", 8000), Config())
    assert isinstance(resp, CoalescingResponse)


class _FakeParsed(_Req):
    """What ``wsgi.create`` reads of a parsed request."""
    uri, path, query, fragment, scheme = "/healthz", "/healthz", "", "", "http"
    headers, body, trailers = [("HOST", "127.0.0.1:8000")], None, []
    _expected_100_continue = False
    proxy_protocol_info = None
    peer_addr = ("127.0.0.1", 5)
