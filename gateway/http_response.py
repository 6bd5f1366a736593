"""gunicorn's HTTP/1 response, with the headers held back and sent in the same write as
the first body bytes.

gunicorn writes a response's headers with one ``sendall`` and each body chunk with
another: two system calls and, on a kept-alive connection, two TCP segments for the
client to read for a small JSON answer (every vote). Profiled under the votes benchmark,
those sends were ~10 % of the gateway's CPU samples (docs/benchmarks.md, eighth pass).
Here the headers go out with the first body chunk (chunked framing applied to the chunk
alone), or alone when that write carries no body bytes (HEAD, 204, an empty chunk), at
``close`` when nothing was written, or before a ``sendfile`` (static files), which
writes to the socket itself. They never leave later than gunicorn would send them: it
sends them from the first ``write`` too.

Installed by gateway/gunicorn_conf.py (``install()``, in the master before the worker
class is loaded): gunicorn's ``wsgi.create`` builds ``gunicorn.http.wsgi.Response`` unless
a worker passes its own class, so the module attribute is replaced. HTTP/2's response class
(imported after) then derives from this one; it overrides ``send_headers``, ``_emit_body``
and ``close``, so nothing is held there. The ``gevent_pywsgi`` worker does not use it. gunicorn is pinned; ``send_headers``, ``_emit_body``
(documented there as the hook for subclasses), ``sendfile`` and ``close`` are what this
relies on, and tests/unit/test_http_response.py runs them on a recording socket.
"""
from __future__ import annotations

from gunicorn.http import wsgi

JOIN_AT_MOST = 64 * 1024  # first body bytes sent in the headers' write up to this size


class _Held:
    """Stands in for the socket while gunicorn writes the headers: keeps the bytes."""

    __slots__ = ("data",)

    def __init__(self):
        self.data = b""

    def sendall(self, data):
        self.data += data


class CoalescingResponse(wsgi.Response):
    _held: bytes | None = None
    _direct = False  # inside sendfile: the headers must be on the wire before the file

    def send_headers(self):
        if self.headers_sent or self._direct:
            return super().send_headers()
        sock, held = self.sock, _Held()
        self.sock = held
        try:
            super().send_headers()  # marks headers_sent: the worker's error paths stay right
        finally:
            self.sock = sock
        self._held = held.data

    def _flush_held(self) -> None:
        held, self._held = self._held, None
        if held:
            self.sock.sendall(held)

    def _emit_body(self, data):
        if self._held is None or len(data) > JOIN_AT_MOST:  # a large body is not copied to save one write
            self._flush_held()
            return super()._emit_body(data)
        held, self._held = self._held, None
        if self.chunked:
            data = b"%X\r\n%s\r\n" % (len(data), data)
        self.sock.sendall(held + data)

    def write(self, arg):
        super().write(arg)
        # no body bytes went out with the headers (an empty chunk, HEAD, 204, 304, a body
        # past Content-Length): they go alone, when gunicorn would have sent them
        self._flush_held()

    def sendfile(self, respiter):
        self._flush_held()
        self._direct = True
        try:
            return super().sendfile(respiter)
        finally:
            self._direct = False

    def close(self):
        if not self.headers_sent:
            self.send_headers()
        self._flush_held()
        super().close()


def install() -> None:
    wsgi.Response = CoalescingResponse
