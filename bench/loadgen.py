"""An open-loop HTTP load generator (asyncio + aiohttp, one process).

Requests follow a fixed arrival schedule: request i is due at ``t0 + i / rate`` and is
sent then, whether or not earlier requests have completed (no coordinated omission: a
slow server does not slow the generator down). Its latency is measured from its *due*
time, not from when it was actually sent, so time spent queued in the generator (all
connections busy, or the generator itself late) counts as latency, as a user would see
it. A request that has not completed ``timeout`` seconds after its due time is an error
("timeout"), with that timeout as its latency. After the schedule the generator waits for
the requests in flight (at most ``timeout``), so a run lasts ``duration + timeout`` at most.

Run as a separate process by the benchmarks:

    python -m bench.loadgen spec.json result.json

``spec.json``: {"kind": "votes", "api": "http://127.0.0.1:8000/api/v1", "rate": 1000,
"duration": 60, "first": 0, "proposals": [...], "run": "r1-", "secret": "...",
"connections": 600, "timeout": 10} (see ``build_requests``), or {"kind": "get",
"urls": [...], ...} for read benchmarks (URLs cycled).

``result.json``: {"due": [seconds after t0], "latency": [s], "status": [HTTP status, or
0 for a client error / timeout], "sent_late": [s], "t0_wall": unix time of t0, ...}.
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


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
    import aiohttp

    requests = build_requests(spec)
    due = arrival_times(spec["rate"], spec["duration"], spec.get("poisson", False))[:len(requests)]
    requests = requests[:len(due)]
    timeout = float(spec.get("timeout", 10.0))
    n = len(requests)
    latency = [timeout] * n
    status = [0] * n
    late = [0.0] * n
    errors: dict = {}
    connector = aiohttp.TCPConnector(limit=int(spec.get("connections", 600)), ttl_dns_cache=None,
                                     force_close=False, enable_cleanup_closed=True)
    loop = asyncio.get_running_loop()
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                                    skip_auto_headers=("User-Agent",))

    async def one(i, method, url, body, headers, t_due):
        late[i] = loop.time() - t_due
        try:
            remaining = t_due + timeout - loop.time()
            async with asyncio.timeout(max(remaining, 0.001)):
                async with session.request(method, url, data=body, headers=headers) as resp:
                    await resp.read()
                    status[i] = resp.status
            latency[i] = loop.time() - t_due
        except (asyncio.TimeoutError, TimeoutError):
            errors["timeout"] = errors.get("timeout", 0) + 1
        except Exception as exc:  # connection refused / reset: counted, with the time it took
            latency[i] = loop.time() - t_due
            name = type(exc).__name__
            errors[name] = errors.get(name, 0) + 1

    # The generator's own pauses would be counted as the platform's latency. Python's full
    # collections walk every live object: the prepared requests are frozen out of them,
    # and a finished request's task is not kept (60,000 of them made the last collections
    # of a 60 s run pause the generator for 100-400 ms). The pauses left are reported.
    gc.freeze()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    # warm the connection pool a little (not measured): the first requests of a run
    # should not all pay a TCP connect
    t0 = loop.time() + float(spec.get("start_delay", 0.5))
    t0_wall = time.time() + (t0 - loop.time())
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    tasks = set()
    i = 0
    while i < n:
        now = loop.time()
        while i < n and t0 + due[i] <= now:
            method, url, body, headers = requests[i]
            task = asyncio.ensure_future(one(i, method, url, body, headers, t0 + due[i]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, t0 + due[i] - loop.time()))
    sent_done = loop.time()
    if tasks:
        await asyncio.wait(set(tasks))
    finished = loop.time()
    await session.close()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(pauses)
    gc.unfreeze()
    return {
        "n": n, "rate": spec["rate"], "duration": spec["duration"], "timeout": timeout,
        "due": due, "latency": latency, "status": status, "sent_late": late, "errors": errors,
        "t0_wall": t0_wall, "schedule_end": sent_done - t0, "finished": finished - t0,
        "cpu_seconds": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "gc_pause_max": pauses.longest, "gc_pause_total": pauses.total,
    }


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


def main(argv=None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    spec = json.loads(open(argv[0]).read())
    result = asyncio.run(run(spec))
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
