"""Fixed-window rate limits kept in Redis, shared by every gateway process.

Used against flooding, per anonymous session (or account) and per client IP: votes, and
the similar-proposals search a draft runs while it is typed (a full-text query each).
A request's limits are an ``Admission`` (its counter keys, their limits, the window). The
counters of many requests are counted together in one round trip to Redis (one Lua script
call: ``INCR`` each key, ``EXPIRE`` it when new), so the vote batches of
gateway/batching.py check the limits of all their votes at once (``RateLimiter.admit``).
The script needs every key on one Redis (no Redis Cluster sharding of these keys).

If Redis is unreachable the limiter lets requests through and logs it: it protects the
platform, it must not take voting down with it.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import time
from typing import NamedTuple

import redis
from flask import current_app, request
from flask_smorest import abort

log = logging.getLogger(__name__)

_HIT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, tonumber(ARGV[i])) end
  counts[i] = n
end
return counts
"""


class Admission(NamedTuple):
    """What one request counts against: ``limits`` [(key, limit)] over ``window`` seconds;
    ``what`` names the requests in the 429's message."""
    limits: tuple
    window: int
    what: str = "requests"


class RateLimited(Exception):
    """Over a limit: retry in ``wait`` seconds (a 429 with Retry-After)."""

    def __init__(self, wait: int, what: str = "requests"):
        super().__init__(f"too many {what}; try again in {wait} s")
        self.wait = wait


class RateLimiter:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self._hit = self.client.register_script(_HIT)
        self._down_until = 0.0

    def hit_batch(self, admissions) -> list:
        """Count one hit on each limit of each admission, all in one round trip to Redis;
        returns, per admission, the seconds to wait (0 when every one of its limits allows
        it). A hit over the limit still counts (a flood stays refused)."""
        admissions = list(admissions)
        if not admissions or time.monotonic() < self._down_until:
            return [0] * len(admissions)
        now = time.time()
        keys, ttls = [], []
        for a in admissions:
            bucket = int(now // a.window)
            for key, _ in a.limits:
                keys.append(f"rl:{key}:{bucket}")
                ttls.append(a.window + 1)
        try:
            counts = self._hit(keys=keys, args=ttls)
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable (%s); letting requests through for 5 s", exc)
            self._down_until = time.monotonic() + 5
            return [0] * len(admissions)
        waits, at = [], 0
        for a in admissions:
            over = any(count > limit for count, (_, limit) in zip(counts[at:at + len(a.limits)], a.limits))
            at += len(a.limits)
            waits.append(max(1, int((int(now // a.window) + 1) * a.window - now) + 1) if over else 0)
        return waits

    def hit_many(self, limits, window: int) -> int:
        """One request's hits (``[(key, limit)]``); the seconds to wait, 0 when allowed."""
        return self.hit_batch([Admission(tuple(limits), window)])[0]

    def admit(self, admissions) -> list:
        """For gateway/batching.py: per admission, None (allowed) or ``RateLimited``."""
        admissions = list(admissions)
        return [RateLimited(wait, a.what) if wait else None for a, wait in zip(admissions, self.hit_batch(admissions))]


def client_ip() -> str:
    """The client address; behind a trusted proxy set TRUSTED_PROXY_HOPS."""
    return address_of(request.headers.get("X-Forwarded-For", ""), request.remote_addr,
                      current_app.config.get("TRUSTED_PROXY_HOPS", 0))


def address_of(forwarded_for: str | None, remote_addr: str | None, hops: int) -> str:
    """The client address: the peer's, or with ``hops`` trusted proxies in front, the
    address the outermost of them saw (``X-Forwarded-For``, counted from the right)."""
    if hops:
        forwarded = [p.strip() for p in (forwarded_for or "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return remote_addr or "unknown"


@functools.lru_cache(maxsize=4096)  # parsed once per address seen recently, not per request
def ip_key(address: str) -> str:
    """The client's address as a rate-limit key: IPv6 by /64 (one subscriber usually holds
    a whole /64 and could rotate through it), IPv4 as is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # an IPv4 client seen through an IPv6 socket
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def client_key(user_id: str | None, session_id: str | None) -> str:
    """Accounts and anonymous sessions counted apart: a session id is chosen by the
    client, and user ids are public (authors), so a session named after a user id must
    not spend that user's budget."""
    return f"user:{user_id}" if user_id else f"session:{session_id}"


def _per_client(name: str, user_id, session_id, per_client: str, per_ip: str, window: str, what: str,
                app=None, ip: str | None = None):
    app = app or current_app
    if app.extensions.get("ratelimit") is None:
        return None
    cfg = app.config
    return Admission(((f"{name}:{client_key(user_id, session_id)}", cfg[per_client]),
                      (f"{name}:ip:{ip_key(client_ip() if ip is None else ip)}", cfg[per_ip])), cfg[window], what)


def vote_admission(user_id: str | None, session_id: str | None, app=None, ip: str | None = None) -> Admission | None:
    """The limits a vote counts against (per account or session, per IP); None when no
    limiter is set. ``app`` and ``ip`` when called outside a request context
    (gateway/vote_lane.py)."""
    return _per_client("vote", user_id, session_id, "VOTE_RATE_PER_VOTER", "VOTE_RATE_PER_IP", "VOTE_RATE_WINDOW",
                       "votes", app, ip)


def similar_admission(user_id: str | None, session_id: str | None) -> Admission | None:
    """The limits a similar-proposals search counts against (per account or session, per IP)."""
    return _per_client("similar", user_id, session_id, "SIMILAR_RATE_PER_CLIENT", "SIMILAR_RATE_PER_IP",
                       "SIMILAR_RATE_WINDOW", "searches for similar proposals")


def too_many(refused: RateLimited):
    abort(429, message=str(refused), headers={"Retry-After": str(refused.wait)})


def enforce(admission: Admission | None) -> None:
    """Count ``admission`` now (a request not riding in a batch); 429 when over a limit."""
    if admission is None:
        return
    refused = current_app.extensions["ratelimit"].admit([admission])[0]
    if refused is not None:
        too_many(refused)
