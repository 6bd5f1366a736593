"""Accepted proposals' public content, kept by each gateway process.

The ranked page and the voting sequence get their order from voting and their content
from proposals (``proposals.get_proposals``): two dependent RPC hops per page. An
accepted proposal's content changes only through moderation, and every moderation
publishes an event (``proposal_accepted``, ``proposal_refused``, ...); the gateway already
consumes the platform's events (gateway/stream.py), so it keeps the content it fetched and
drops an entry when its proposal's event arrives. A hot page then costs one hop.

Correctness rules:

- only what ``get_proposals`` answered is kept (accepted proposals): an unknown or not
  yet accepted id is asked again next time, so a newly accepted proposal shows at once;
- nothing is kept or served while the event consumer is disconnected, and everything is
  dropped when it reconnects (``EventHub.epoch``): events may have been missed meanwhile;
- an answer is not kept when any invalidation arrived while it was being fetched (it may
  predate that moderation); invalidations are rare, so this costs nothing in practice;
- every entry also expires after ``ttl`` seconds, a bound on staleness should an event
  ever be lost; the least recently used entries go beyond ``size``.

The staleness seen by a reader is normally the time between the moderation's commit and its
event reaching the gateway (the outbox relay's linger, ~50 ms), as with any read replica.
When an event is late without the gateway's consumer noticing a disconnection (the
proposals relay in backoff during a broker or database outage, a half-open connection not
yet detected by heartbeats), ``ttl`` is the bound.

Callers must not mutate the dicts they get: they are shared with later requests.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterable

#: the events that may change an accepted proposal's public content or status (a submission
#: creates a pending proposal, which ``get_proposals`` never returns: nothing to drop)
INVALIDATING = ("proposal_accepted", "proposal_refused", "proposal_postponed")


class ProposalCache:
    """``get_many(ids, fetch)``: {id: content} for the ids ``fetch`` knows, from memory
    where possible. ``feed`` is the event hub: ``connected`` (threading.Event), ``epoch``
    (int) and ``listen(event_type, callback)``."""

    def __init__(self, feed, size: int = 10_000, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 observe: Callable[[int, int], None] | None = None):
        self.feed = feed
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self.observe = observe or (lambda hits, misses: None)
        self._entries: collections.OrderedDict = collections.OrderedDict()  # id -> (expires, content)
        self._lock = threading.Lock()
        self._version = 0  # +1 per invalidation
        self._epoch = None  # the feed's epoch the entries belong to
        for event_type in INVALIDATING:
            feed.listen(event_type, self.on_event)

    def __len__(self) -> int:
        return len(self._entries)

    def on_event(self, event: dict) -> None:
        proposal_id = (event.get("data") or {}).get("proposal_id")
        with self._lock:
            self._version += 1
            if proposal_id is not None:
                self._entries.pop(str(proposal_id), None)

    def _live_epoch(self):
        """The feed's epoch if it is connected, else None (nothing may be trusted)."""
        return self.feed.epoch if self.feed.connected.is_set() else None

    def get_many(self, ids: Iterable[str], fetch: Callable[[list], list]) -> dict:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found: dict = {}
        epoch = self._live_epoch()
        with self._lock:
            if epoch != self._epoch:
                self._entries.clear()
                self._epoch = epoch
            version = self._version
            if epoch is not None:
                now = self.clock()
                for proposal_id in wanted:
                    entry = self._entries.get(proposal_id)
                    if entry is None:
                        continue
                    if entry[0] <= now:
                        del self._entries[proposal_id]
                        continue
                    self._entries.move_to_end(proposal_id)
                    found[proposal_id] = entry[1]
        missing = [i for i in wanted if i not in found]
        self.observe(len(found), len(missing))
        if not missing:
            return found
        fetched = {str(p["id"]): p for p in fetch(missing)}
        found.update(fetched)
        if epoch is not None and self.size > 0:
            with self._lock:
                if self._version == version and self._epoch == epoch and self._live_epoch() == epoch:
                    expires = self.clock() + self.ttl
                    for proposal_id, content in fetched.items():
                        self._entries[proposal_id] = (expires, content)
                        self._entries.move_to_end(proposal_id)
                    while len(self._entries) > self.size:
                        self._entries.popitem(last=False)
        return found


def for_app(app) -> ProposalCache | None:
    """The app's cache (one per gateway process, fed by its event hub); None when
    ``PROPOSAL_CACHE_SIZE`` is 0."""
    if app.config["PROPOSAL_CACHE_SIZE"] <= 0:
        return None
    from gateway.extensions import once
    from gateway.observability import PROPOSAL_CACHE
    from gateway.stream import event_hub

    def observe(hits, misses):
        if hits:
            PROPOSAL_CACHE.labels("hit").inc(hits)
        if misses:
            PROPOSAL_CACHE.labels("miss").inc(misses)

    return once(app, "proposal_cache", lambda: ProposalCache(
        event_hub(app), app.config["PROPOSAL_CACHE_SIZE"], app.config["PROPOSAL_CACHE_TTL"], observe=observe))
