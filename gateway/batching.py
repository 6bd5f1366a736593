"""Concurrent calls of one RPC method coalesced into batch calls (votes under load).

``BatchCaller.call(item)`` is called by many requests at once (greenlets under gunicorn's
gevent workers, threads elsewhere). ``flushers`` background threads each wait for a
queued item, take everything queued behind it (up to ``max_batch``) and make one call of
the batch method with the list; the method answers one outcome per item, in order:
``{"result": ...}`` or ``{"error": {exc_type, value, exc_args}}``.

- No added latency when idle: while fewer than ``flushers`` batches are in flight, an item
  goes out at once, alone. Under load the items queue while the batches in flight return,
  and the next batch carries all of them: batch size follows load.
- Each item keeps its own deadline: a call waits at most ``timeout`` (then ``RpcTimeout``,
  a 503) and an item already past its deadline is not sent; a batch is sent with the
  earliest deadline of its items (the request message expires then: never run late).
- A batch that fails as a whole with a service error (not a per-item outcome) is not
  guessed at: each of its items raises ``RetryAlone`` and its request makes the single
  call instead. When the service does not know the batch method (an older version still
  running during a deploy), batching pauses for ``pause`` seconds.
- A service or broker that is down fails every item of the batch the way it fails a
  single call (``ServiceUnavailable``: 503).
- Overload is refused at the door: when the oldest queued item, or the oldest batch in
  flight, has waited more than ``max_wait`` seconds, the service is not keeping up (or
  not answering at all), and a new item fails at once with
  ``Overloaded`` (a 503 with Retry-After) instead of joining a queue its caller would time
  out in while the work it queued is still done (a timed-out vote may well be applied).
  The queue then drains and new items are taken again: what is accepted is answered
  within about ``max_wait`` plus one batch.
- Admission: an item may carry an ``admission`` (its rate limits); ``admit(admissions)``
  (gateway/ratelimit.py: one Redis round trip for the whole batch) is asked just before
  the batch goes out, and an item it refuses fails with the error it gives (a 429)
  without being sent. The limiter failing lets the items through.
- One flusher by default: the next batch leaves when the previous one is answered, so
  under load batches grow instead of multiplying (fewer, larger transactions in voting;
  measured in docs/benchmarks.md, 2026-11-25).

Threads start on first use, in the process that uses them (after gunicorn's fork).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid

from common.rpc_client import RemoteError, RpcTimeout, ServiceUnavailable

log = logging.getLogger(__name__)


class RetryAlone(Exception):
    """The batch failed as a whole: make this item's single call instead."""


class Overloaded(ServiceUnavailable):
    """The service is behind by more than ``max_wait``: refused without queueing."""


class _Pending:
    __slots__ = ("item", "deadline", "queued_at", "admission", "done", "result", "error")

    def __init__(self, item, deadline, queued_at, admission=None):
        self.item, self.deadline, self.queued_at, self.admission = item, deadline, queued_at, admission
        self.done = threading.Event()
        self.result = self.error = None

    def settle(self, result=None, error=None):
        self.result, self.error = result, error
        self.done.set()


class BatchCaller:
    def __init__(self, client, service: str, method: str, max_batch: int = 64, flushers: int = 1,
                 timeout: float = 5.0, pause: float = 60.0, observe=None, max_wait: float = 2.0, admit=None):
        self.client, self.service, self.method = client, service, method
        self.max_batch, self.flushers, self.timeout, self.pause = max(1, max_batch), max(1, flushers), timeout, pause
        self.observe = observe  # observe(outcome, seconds, size) after each batch call
        self.max_wait = max_wait  # 0: never refuse
        self.admit = admit  # admit([admission, ...]) -> [None or the exception refusing it, ...]
        self._queue: queue.Queue = queue.Queue()
        self._pid = None
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._flying: dict = {}  # batch in flight -> when it was sent

    @property
    def enabled(self) -> bool:
        return time.monotonic() >= self._paused_until

    def call(self, item, timeout: float | None = None, admission=None):
        """The item's result; raises its ``RemoteError``, ``ServiceUnavailable`` (incl.
        ``RpcTimeout``), ``RetryAlone`` (the item was admitted) or what ``admit`` refused
        it with."""
        self._start()
        timeout = self.timeout if timeout is None else timeout
        now = time.monotonic()
        behind = self.behind(now)
        if self.max_wait and behind > self.max_wait:
            raise Overloaded(f"{self.service}.{self.method} is {behind:.1f}s behind: try again shortly")
        pending = _Pending(item, now + timeout, now, admission)
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise RpcTimeout(f"{self.service}.{self.method} did not answer within {timeout:.1f}s")
        if pending.error is not None:
            raise pending.error
        return pending.result

    def behind(self, now: float | None = None) -> float:
        """How long the service has kept us waiting: the age of the oldest queued item or
        of the oldest batch sent and not answered yet (0 when neither)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            oldest = min(self._flying.values(), default=now)
        try:
            oldest = min(oldest, self._queue.queue[0].queued_at)
        except IndexError:
            pass
        return max(0.0, now - oldest)

    # -- background -----------------------------------------------------------------------
    def _start(self):
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue()  # a queue inherited through fork is not this process's
            for i in range(self.flushers):
                threading.Thread(target=self._run, name=f"batch-{self.service}.{self.method}-{i}", daemon=True).start()
            self._pid = os.getpid()

    def _run(self):
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            flight = object()
            with self._lock:
                self._flying[flight] = time.monotonic()
            try:
                self._flush(batch)
            except Exception:  # never lose a flusher; never leave a caller waiting
                log.exception("batch %s.%s failed", self.service, self.method)
                for p in batch:
                    if not p.done.is_set():
                        p.settle(error=RetryAlone())
            finally:
                with self._lock:
                    del self._flying[flight]

    def _admitted(self, live):
        """The items ``admit`` lets through; the others are settled with its refusal."""
        asking = [p for p in live if p.admission is not None]
        if not asking or self.admit is None:
            return live
        try:
            verdicts = self.admit([p.admission for p in asking])
        except Exception:  # a broken limiter must not stop the votes
            log.exception("admission check of %s.%s failed: items let through", self.service, self.method)
            return live
        refused = set()
        for p, error in zip(asking, verdicts):
            if error is not None:
                p.settle(error=error)
                refused.add(id(p))
        return [p for p in live if id(p) not in refused]

    def _unexpired(self, items, now):
        """The items whose callers still wait; the others are settled with ``RpcTimeout``."""
        live = []
        for p in items:
            if p.deadline - now < 0.005:  # its caller has given up (or is about to)
                p.settle(error=RpcTimeout(f"{self.service}.{self.method}: no answer in time"))
            else:
                live.append(p)
        return live

    def _flush(self, batch):
        live = self._admitted(self._unexpired(batch, time.monotonic()))
        now = time.monotonic()  # the admission check took a Redis round trip
        live = self._unexpired(live, now)
        if not live:
            return
        started, outcome = time.perf_counter(), "ok"
        try:
            outcomes = self.client.call(
                self.service, self.method, [p.item for p in live], timeout=min(p.deadline for p in live) - now,
                headers={"nameko.call_id_stack": [f"gateway.batch-{uuid.uuid4().hex[:12]}"]})
            if not isinstance(outcomes, list) or len(outcomes) != len(live):
                raise RemoteError("BadBatchReply", f"{len(live)} items sent, reply: {type(outcomes).__name__}")
        except ServiceUnavailable as exc:
            outcome = type(exc).__name__
            for p in live:
                p.settle(error=exc)
            return
        except RemoteError as exc:
            outcome = exc.exc_type or "RemoteError"
            if exc.exc_type == "MethodNotFound":
                self._paused_until = time.monotonic() + self.pause
                log.warning("%s has no %s: batching paused for %.0f s", self.service, self.method, self.pause)
            else:
                log.error("batch %s.%s of %d failed whole (%s): each retried alone", self.service, self.method,
                          len(live), exc)
            for p in live:
                p.settle(error=RetryAlone())
            return
        finally:
            if self.observe:
                self.observe(outcome, time.perf_counter() - started, len(live))
        for p, o in zip(live, outcomes):
            error = o.get("error") if isinstance(o, dict) else {"exc_type": "BadBatchReply", "value": repr(o)}
            if error:
                p.settle(error=RemoteError(error.get("exc_type"), error.get("value"), error.get("exc_args"),
                                           error.get("exc_path")))
            else:
                p.settle(result=o.get("result"))
