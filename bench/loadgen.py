"""An open-loop HTTP load generator (asyncio, one process, its own lean HTTP/1.1 client).

Requests follow a fixed arrival schedule: request i is due at ``t0 + i / rate`` and is
sent then, whether or not earlier requests have completed (no coordinated omission: a
slow server does not slow the generator down). Its latency is measured from its *due*
time, not from when it was actually sent, so time spent queued in the generator (all
connections busy, or the generator itself late) counts as latency, as a user would see
it. A request that has not completed ``timeout`` seconds after its due time is an error
("timeout"), with that timeout as its latency. After the schedule the generator waits for
the requests in flight (at most ``timeout``), so a run lasts ``duration + timeout`` at most.

The client, ``spec["client"]``: the generator shares the machine with what it measures,
and aiohttp cost ~0.32 ms of CPU per vote, ~15 % of the 2-core machine at 1,000 votes/s.
``"raw"`` (the default, ``RawClient``: asyncio Protocols, stdlib only) does only what the
benchmarks need: every request serialised to bytes before t0 (request line, Host, the
spec's headers, Content-Length, body); at most ``connections`` persistent HTTP/1.1
connections to the one host:port of the URLs, the last freed reused first, a request
waiting for a free one (the wait is latency); responses framed by Content-Length,
``Transfer-Encoding: chunked`` or the server's close, bodies counted and dropped;
``Connection: close`` retires a connection; a malformed or non-HTTP response is an error
("BadResponse"); a request on a reused connection that the server closes before any byte
of the answer (gunicorn closing an idle kept-alive connection as the request goes out)
is retried once on a new connection; on timeout its connection is closed. It does not do
TLS, redirects, proxies, cookies, compression, pipelining or more than one host (the
URLs of a spec must share scheme http, host and port; a host name is resolved once, to
its first address). ``"aiohttp"`` is the previous client (aiohttp.ClientSession), kept
to compare the two in the same run. ``main`` runs on uvloop when it is installed and
``spec.get("uvloop", True)``; uvloop's ``loop.time()`` counts whole milliseconds, so
every time here is read from ``time.monotonic()`` (the clock of asyncio's own loop).

Run as a separate process by the benchmarks:

    python -m bench.loadgen spec.json result.json

``spec.json``: {"kind": "votes", "api": "http://127.0.0.1:8000/api/v1", "rate": 1000,
"duration": 60, "first": 0, "proposals": [...], "run": "r1-", "secret": "...",
"connections": 600, "timeout": 10} (see ``build_requests``), or {"kind": "get",
"urls": [...], ...} for read benchmarks (URLs cycled); optional: "client": "raw" |
"aiohttp", "uvloop": true, "start_delay": 0.5 (s before t0), "poisson": false.

``result.json``: {"due": [seconds after t0], "latency": [s], "status": [HTTP status, or
0 for a client error / timeout], "sent_late": [s], "errors": {name: count}, "t0_wall":
unix time of t0, "schedule_end" and "finished" (s after t0), "cpu_seconds" (the
generator's, from start_delay before t0 to the end), "gc_pause_max", "gc_pause_total" (s), "client": "raw" |
"aiohttp", "loop": "uvloop" | "asyncio", ...}.
"""
from __future__ import annotations

import asyncio
import collections
import gc
import ipaddress
import json
import math
import os
import resource
import socket
import sys
import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

clock = time.monotonic  # asyncio's loop.time(); uvloop's counts whole milliseconds


def arrival_times(rate: float, duration: float, poisson: bool = False, seed: int = 0) -> list:
    """Due times (seconds from t0) of the requests of a run: evenly spaced at ``rate``
    per second for ``duration`` seconds (or Poisson arrivals at that mean rate)."""
    if rate <= 0 or duration <= 0:
        return []
    if not poisson:
        n = int(round(rate * duration))
        return [i / rate for i in range(n)]
    import random

    rng = random.Random(seed)
    out, t = [], rng.expovariate(rate)
    while t < duration:
        out.append(t)
        t += rng.expovariate(rate)
    return out


def build_requests(spec: dict) -> list:
    """[(method, url, body bytes or None, headers)] in schedule order."""
    if spec["kind"] == "votes":
        from bench.datagen import VoteSchedule
        from services.voting.domain import proposal_key

        schedule = VoteSchedule(spec["proposals"], spec["run"], spec.get("per_session", 12))
        n = int(round(spec["rate"] * spec["duration"]))
        out = []
        for i in range(spec.get("first", 0), spec.get("first", 0) + n):
            session, proposal, key, quals = schedule.vote(i)
            body = {"key": key, "qualifications": list(quals)}
            if spec.get("trusted", True):
                body["proposal_key"] = proposal_key(spec["secret"], proposal, session, "sequence")
            out.append(("PUT", f"{spec['api']}/proposals/{proposal}/vote", json.dumps(body).encode(),
                        {"Content-Type": "application/json", "X-Session-Id": session}))
        return out
    if spec["kind"] == "get":
        # urls cycled; "sessions": "new" (a new anonymous session per request), a list of
        # session ids (cycled), or absent (no session header: the gateway makes one up)
        urls = spec["urls"]
        n = int(round(spec["rate"] * spec["duration"]))
        sessions = spec.get("sessions")
        out = []
        for i in range(n):
            headers = dict(spec.get("headers") or {})
            if sessions == "new":
                headers["X-Session-Id"] = f"{spec.get('run', 'g')}{i:016d}"
            elif isinstance(sessions, list) and sessions:
                headers["X-Session-Id"] = sessions[i % len(sessions)]
            out.append(("GET", urls[i % len(urls)], None, headers))
        return out
    raise ValueError(spec["kind"])


async def run(spec: dict) -> dict:
    client = spec.get("client", "raw")
    if client not in ("raw", "aiohttp"):
        raise ValueError(f"client: {client!r} (raw or aiohttp)")
    requests = build_requests(spec)
    due = arrival_times(spec["rate"], spec["duration"], spec.get("poisson", False))[:len(requests)]
    requests = requests[:len(due)]
    timeout = float(spec.get("timeout", 10.0))
    connections = int(spec.get("connections", 600))
    n = len(requests)
    latency = [timeout] * n
    status = [0] * n
    late = [0.0] * n
    errors: dict = {}
    loop = asyncio.get_running_loop()
    if client == "raw":
        raw = RawClient(requests, connections)  # serialised here, before t0
        await raw.resolve()
        requests = None  # only the bytes are kept
    else:
        raw = None
    # The generator's own pauses would be counted as the platform's latency. Python's full
    # collections walk every live object: the prepared requests are frozen out of them,
    # and a finished request's task is not kept (60,000 of them made the last collections
    # of a 60 s run pause the generator for 100-400 ms). The pauses left are reported.
    gc.freeze()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    t0 = clock() + float(spec.get("start_delay", 0.5))
    t0_wall = time.time() + (t0 - clock())
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    if raw is not None:
        sent_done, finished = await raw.run(due, t0, timeout, latency, status, late, errors)
    else:
        sent_done, finished = await _run_aiohttp(requests, due, t0, timeout, connections, latency, status,
                                                 late, errors)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(pauses)
    gc.unfreeze()
    return {
        "n": n, "rate": spec["rate"], "duration": spec["duration"], "timeout": timeout,
        "due": due, "latency": latency, "status": status, "sent_late": late, "errors": errors,
        "t0_wall": t0_wall, "schedule_end": sent_done - t0, "finished": finished - t0,
        "cpu_seconds": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "gc_pause_max": pauses.longest, "gc_pause_total": pauses.total,
        "client": client, "loop": loop_name(loop),
    }


def loop_name(loop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def _timer_delay(loop) -> Callable[[float], float]:
    """``delay -> delay`` for ``loop.call_later``: uvloop's timers round to the nearest
    millisecond and can fire up to 1 ms early (the wait is then taken again, a busy loop);
    asyncio's already round the epoll wait up."""
    if loop_name(loop) == "uvloop":
        return lambda delay: math.ceil(max(delay, 0.0) * 1000.0) / 1000.0
    return lambda delay: max(delay, 0.0)


async def _run_aiohttp(requests, due, t0, timeout, connections, latency, status, late, errors):
    """The previous client, aiohttp: one task per request. Returns (schedule end, finished)."""
    import aiohttp

    n = len(requests)
    connector = aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None,
                                     force_close=False, enable_cleanup_closed=True)
    loop = asyncio.get_running_loop()
    delay = _timer_delay(loop)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                                    skip_auto_headers=("User-Agent",))

    async def one(i, method, url, body, headers, t_due):
        late[i] = clock() - t_due
        try:
            remaining = t_due + timeout - clock()
            async with asyncio.timeout(max(remaining, 0.001)):
                async with session.request(method, url, data=body, headers=headers) as resp:
                    await resp.read()
                    status[i] = resp.status
            latency[i] = clock() - t_due
        except (asyncio.TimeoutError, TimeoutError):
            errors["timeout"] = errors.get("timeout", 0) + 1
        except Exception as exc:  # connection refused / reset: counted, with the time it took
            latency[i] = clock() - t_due
            name = type(exc).__name__
            errors[name] = errors.get(name, 0) + 1

    tasks = set()
    i = 0
    while i < n:
        now = clock()
        while i < n and t0 + due[i] <= now:
            method, url, body, headers = requests[i]
            task = asyncio.ensure_future(one(i, method, url, body, headers, t0 + due[i]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if i < n:
            await asyncio.sleep(delay(t0 + due[i] - clock()))
    sent_done = clock()
    if tasks:
        await asyncio.wait(set(tasks))
    finished = clock()
    await session.close()
    return sent_done, finished


# -- the raw client -------------------------------------------------------------------------------
def encode_request(method: str, url: str, body: bytes | None, headers: dict) -> tuple[str, int, bytes]:
    """(host, port, the request's bytes): HTTP/1.1, Host and Content-Length written here
    (the caller's own are dropped), no body framing other than Content-Length."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"{url}: only http:// URLs (no TLS)")
    if not parts.hostname:
        raise ValueError(f"{url}: no host")
    port = parts.port or 80
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}"]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding"):
            continue
        line = f"{name}: {value}"
        if "\r" in line or "\n" in line:
            raise ValueError(f"header {name!r}: a line break")
        lines.append(line)
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class _Request:
    """A request once sent: index, bytes, due time (monotonic), where it is."""

    __slots__ = ("conn", "done", "due", "i", "payload", "retried")

    def __init__(self, i: int, payload: bytes, due: float):
        self.i, self.payload, self.due = i, payload, due
        self.conn = None  # the _Connection it was written to
        self.done = False  # completed, failed or timed out: whoever still holds it lets go
        self.retried = False


# response parser states
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE = range(7)
_MAX_HEAD = 65536


class BadResponse(ValueError):
    """The server's answer is not HTTP/1.x or is malformed."""


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, its response parsed as it comes
    (the body is counted, not kept)."""

    __slots__ = ("buf", "client", "close", "got", "remaining", "req", "reused", "state", "status", "transport")

    def __init__(self, client: RawClient):
        self.client = client
        self.transport = None
        self.req = None
        self.reused = False  # has answered a request: a close before any byte may be a stale keep-alive
        self.got = False  # a byte of the current response arrived
        self.state = _HEAD
        self.remaining = 0
        self.buf = b""
        self.status = 0
        self.close = False

    def connection_made(self, transport):
        self.transport = transport
        self.client.conns.add(self)

    def start(self, req: _Request) -> None:
        self.req, req.conn = req, self
        self.got, self.state, self.buf = False, _HEAD, b""
        self.transport.write(req.payload)

    def data_received(self, data: bytes) -> None:
        if self.req is None:  # bytes nobody asked for: the connection cannot be trusted
            self.transport.abort()
            return
        self.got = True
        try:
            complete = self._feed(data)
        except (BadResponse, ValueError):
            req, self.req = self.req, None
            req.conn = None
            self.transport.abort()
            self.client.finish(req, 0, "BadResponse")
            return
        if complete:
            req, self.req = self.req, None
            req.conn = None
            self.reused = True
            if self.close:
                self.transport.close()
            self.client.finish(req, self.status, None)
            if not self.close:
                self.client.release(self)

    def connection_lost(self, exc):
        self.client.lost(self, exc)

    def _feed(self, data: bytes) -> bool:
        """Parse what arrived; True once the response is complete."""
        if self.buf:
            data, self.buf = self.buf + data, b""
        pos, n = 0, len(data)
        while True:
            state = self.state
            if state == _LENGTH or state == _CHUNK_DATA:
                take = min(self.remaining, n - pos)
                self.remaining -= take
                pos += take
                if self.remaining:
                    return False
                if state == _LENGTH:
                    return self._end(pos, n)
                self.state = _CHUNK_END
            elif state == _HEAD:
                end = data.find(b"\r\n\r\n", pos)
                if end < 0:
                    if n - pos > _MAX_HEAD or not b"HTTP/1.".startswith(data[pos:pos + 7]):
                        raise BadResponse("not an HTTP/1.x response")
                    self.buf = data[pos:]
                    return False
                self._head(data[pos:end])
                pos = end + 4
                if self.state is None:  # no body
                    return self._end(pos, n)
            elif state == _UNTIL_CLOSE:
                return False
            else:  # a line of the chunked framing
                end = data.find(b"\r\n", pos)
                if end < 0:
                    if n - pos > _MAX_HEAD:
                        raise BadResponse("chunk line too long")
                    self.buf = data[pos:]
                    return False
                line = data[pos:end]
                pos = end + 2
                if state == _CHUNK_SIZE:
                    size = line.split(b";", 1)[0].strip()
                    if not size or size.strip(b"0123456789abcdefABCDEF"):
                        raise BadResponse(f"chunk size {line[:20]!r}")
                    self.remaining = int(size, 16)
                    self.state = _CHUNK_DATA if self.remaining else _TRAILER
                elif state == _CHUNK_END:
                    if line:
                        raise BadResponse("chunk not followed by CRLF")
                    self.state = _CHUNK_SIZE
                elif not line:  # _TRAILER: the empty line ends the response
                    return self._end(pos, n)

    def _end(self, pos: int, n: int) -> bool:
        if pos < n:  # more than the response: nothing was pipelined, so the stream is out of step
            self.close = True
        return True

    def _head(self, head: bytes) -> None:
        """Status line and the headers that frame the body; sets the state (None: no body)."""
        lines = head.split(b"\r\n")
        first = lines[0]
        if not first.startswith(b"HTTP/1.") or len(first) < 12 or first[8:9] != b" " \
                or not first[9:12].isdigit() or first[12:13] not in (b"", b" "):
            raise BadResponse(f"status line {first[:40]!r}")
        status = int(first[9:12])
        length = None
        chunked = encoded = False
        close = first[5:8] == b"1.0"
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise BadResponse(f"header line {line[:40]!r}")
            name = name.lower()
            if name == b"content-length":
                value = value.strip()
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise BadResponse(f"Content-Length {value[:20]!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                encoded = True
                chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                if b"close" in tokens:
                    close = True
                elif b"keep-alive" in tokens:
                    close = False
        if 100 <= status < 200:
            if status == 101:
                raise BadResponse("101 Switching Protocols: nothing was asked to switch")
            self.state = _HEAD  # informational: the response follows
            return
        self.status, self.close = status, close
        if status in (204, 304) or self.req.payload.startswith(b"HEAD "):
            self.state = None
        elif encoded:
            if not chunked:  # another coding last: the body ends with the connection
                self.state, self.close = _UNTIL_CLOSE, True
            else:
                self.state = _CHUNK_SIZE
        elif length is not None:
            self.state, self.remaining = (_LENGTH, length) if length else (None, 0)
        else:
            self.state, self.close = _UNTIL_CLOSE, True


class RawClient:
    """The lean HTTP/1.1 client: a pool of at most ``connections`` kept-alive connections
    to one host:port, requests pre-serialised (see the module docstring)."""

    def __init__(self, requests: list, connections: int):
        if connections < 1:
            raise ValueError("connections: at least 1")
        self.payloads = []
        self.host = self.port = None
        for method, url, body, headers in requests:
            host, port, payload = encode_request(method, url, body, headers)
            if self.host is None:
                self.host, self.port = host, port
            elif (host, port) != (self.host, self.port):
                raise ValueError(f"{url}: one host:port per run ({self.host}:{self.port})")
            self.payloads.append(payload)
        self.address = self.host
        self.limit = connections
        self.open = 0  # connections open or being opened
        self.idle: dict = {}  # kept-alive connections, in the order they were freed (LIFO)
        self.waiting = collections.deque()  # requests waiting for a connection
        self.conns: set = set()  # every open connection
        self.tasks: set = set()  # connects in progress
        self.on_finish = None  # (req, status, error name or None)

    async def resolve(self) -> None:
        """The host's first address, once (not while the schedule runs)."""
        if self.host is None:
            return
        try:
            ipaddress.ip_address(self.host)
            return
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            self.address = infos[0][4][0]
        except OSError:  # every connect will fail and say so
            pass

    # -- the pool
    def send(self, req: _Request) -> None:
        while self.idle:
            conn = self.idle.popitem()[0]
            if not conn.transport.is_closing():  # else closed by the server: lost() is coming
                conn.start(req)
                return
        if self.open < self.limit:
            self.open += 1
            self._connect(req)
        else:
            self.waiting.append(req)

    def release(self, conn: _Connection) -> None:
        """A connection is free: to the oldest waiting request, or idle."""
        while self.waiting:
            req = self.waiting.popleft()
            if not req.done:
                conn.start(req)
                return
        conn.reused = True  # from now on the server may close it as idle (a retry's case)
        self.idle[conn] = None

    def lost(self, conn: _Connection, exc) -> None:
        self.conns.discard(conn)
        self.idle.pop(conn, None)
        req = conn.req
        if req is not None:
            conn.req = req.conn = None
            if conn.state == _UNTIL_CLOSE and exc is None:
                self.finish(req, conn.status, None)
            elif conn.state == _HEAD and not b"HTTP/1.".startswith(conn.buf[:7]):
                self.finish(req, 0, "BadResponse")
            elif conn.reused and not conn.got and not req.retried:
                # the server closed a kept-alive connection as the request went out: once
                # more, on a new connection, which takes this one's place in the pool
                req.retried = True
                self._connect(req)
                return
            else:
                self.finish(req, 0, type(exc).__name__ if exc is not None else "ServerDisconnected")
        self.open -= 1
        self._slot_free()

    def _slot_free(self) -> None:
        while self.waiting and self.open < self.limit:
            req = self.waiting.popleft()
            if not req.done:
                self.open += 1
                self._connect(req)

    def _connect(self, req: _Request) -> None:
        task = asyncio.get_running_loop().create_task(self._open(req))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open(self, req: _Request) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Connection(self), self.address, self.port)
        except Exception as exc:  # refused, unreachable...: counted, with the time it took
            self.open -= 1
            if not req.done:
                self.finish(req, 0, type(exc).__name__)
            self._slot_free()
            return
        if req.done:  # timed out meanwhile
            self.release(conn)
        else:
            conn.start(req)

    def finish(self, req: _Request, status: int, error: str | None) -> None:
        if not req.done:
            req.done = True
            self.on_finish(req, status, error)

    def abort(self, req: _Request) -> None:
        """``req`` timed out: its connection cannot be reused mid-response."""
        req.done = True
        conn = req.conn
        if conn is not None:
            conn.req = req.conn = None
            conn.transport.abort()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.conns):
            conn.transport.close()
        await asyncio.sleep(0)  # their connection_lost

    # -- the schedule
    async def run(self, due: list, t0: float, timeout: float, latency: list, status: list, late: list,
                  errors: dict) -> tuple[float, float]:
        """Send request i at ``t0 + due[i]``, time out what is not done ``timeout`` after its
        due time; returns (schedule end, finished). Timers, no task per request."""
        loop = asyncio.get_running_loop()
        delay = _timer_delay(loop)
        n = len(due)
        payloads = self.payloads
        flight = collections.deque()  # sent, in due order (so in deadline order), done ones dropped
        all_done = loop.create_future()
        state = {"i": 0, "left": n, "sent_done": None, "timer": None}

        def finished(req: _Request, code: int, error: str | None) -> None:
            latency[req.i] = clock() - req.due
            if error is None:
                status[req.i] = code
            else:
                errors[error] = errors.get(error, 0) + 1
            while flight and flight[0].done:
                flight.popleft()
            one_less()

        def one_less() -> None:
            state["left"] -= 1
            if state["left"] == 0 and not all_done.done():
                all_done.set_result(None)

        def expire() -> None:
            state["timer"] = None
            now = clock()
            while flight:
                req = flight[0]
                if not req.done:
                    if req.due + timeout > now:
                        state["timer"] = loop.call_later(delay(req.due + timeout - clock()), expire)
                        return
                    self.abort(req)  # latency stays the timeout
                    errors["timeout"] = errors.get("timeout", 0) + 1
                    one_less()
                flight.popleft()

        def tick() -> None:
            i, now = state["i"], clock()
            while i < n and t0 + due[i] <= now:
                req = _Request(i, payloads[i], t0 + due[i])
                late[i] = clock() - req.due
                flight.append(req)
                self.send(req)
                i += 1
            state["i"] = i
            if state["timer"] is None and flight:
                state["timer"] = loop.call_later(delay(flight[0].due + timeout - clock()), expire)
            if i < n:
                loop.call_later(delay(t0 + due[i] - clock()), tick)
            else:
                state["sent_done"] = clock()

        self.on_finish = finished
        if n:
            loop.call_later(delay(t0 + due[0] - clock()), tick)
            await all_done
        else:
            state["sent_done"] = clock()
        end = clock()
        if state["timer"] is not None:
            state["timer"].cancel()
        await self.close()
        return state["sent_done"], end


class GcPauses:
    """A ``gc.callbacks`` entry: the longest and the total time spent in collections."""

    def __init__(self):
        self.started = None
        self.longest = self.total = 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            pause = time.perf_counter() - self.started
            self.longest, self.total = max(self.longest, pause), self.total + pause


def execute(spec: dict) -> dict:
    """``run(spec)`` on uvloop when it is installed and ``spec.get("uvloop", True)``, else
    on asyncio's own loop (the result says which)."""
    if spec.get("uvloop", True):
        try:
            import uvloop
        except ImportError:
            uvloop = None
        if uvloop is not None:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(run(spec))
    return asyncio.run(run(spec))


def main(argv=None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    spec = json.loads(open(argv[0]).read())
    result = execute(spec)
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
