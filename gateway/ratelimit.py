"""Rate limits kept in Redis, shared by every gateway process: GCRA (the generic cell
rate algorithm, a token bucket kept as one timestamp per key).

Used against flooding, per anonymous session (or account) and per client IP: votes, and
the similar-proposals search a draft runs while it is typed (a full-text query each).
A request's limits are an ``Admission`` (its counter keys, their limits, the window):
"``limit`` per ``window`` seconds" allows a burst of ``limit`` requests, then one every
``window / limit`` seconds. Unlike fixed windows (counters reset at each multiple of the
window), no boundary lets a client spend two windows' worth at once, and a refused
client is told to come back when one more request fits (Retry-After at most
``window / limit``), not at the end of a window.

Each key holds its "theoretical arrival time" (TAT, microseconds, Redis's clock): a
request fits when ``max(TAT, now) + window / limit - now <= window``, and then moves
the TAT by ``window / limit``. A request is admitted only when every one of its limits
lets it through, and only an admitted request spends its limits (a refused vote does not
use the budget of the IP it shares with others). The admissions of many requests are
decided together, in order, in one round trip to Redis (one Lua script call), so the vote
batches of gateway/batching.py check the limits of all their votes at once
(``RateLimiter.admit``). The script needs every key on one Redis (no Redis Cluster
sharding of these keys); a key expires once its TAT is past (an idle client is forgotten).

If Redis is unreachable the limiter lets requests through and logs it: it protects the
platform, it must not take voting down with it.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from typing import NamedTuple

import redis
from flask import current_app, request
from flask_smorest import abort

log = logging.getLogger(__name__)

# ARGV: the number of admissions m, then each admission's number of limits, then for
# each limit (KEYS in the same order) its window (us) and its limit. Returns, per
# admission, 0 when admitted, else the microseconds until it would fit.
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local m = tonumber(ARGV[1])
local key, arg = 1, 2 + m
local waits = {}
for j = 1, m do
  local n = tonumber(ARGV[1 + j])
  local wait, tats = 0, {}
  for i = 0, n - 1 do
    local window, limit = tonumber(ARGV[arg + 2 * i]), tonumber(ARGV[arg + 2 * i + 1])
    if limit < 1 then
      wait = math.max(wait, window)
    else
      local tat = tonumber(redis.call('GET', KEYS[key + i]) or 0)
      if tat < now then tat = now end
      tats[i] = tat + window / limit
      wait = math.max(wait, tats[i] - now - window)
    end
  end
  if wait <= 0 then
    wait = 0
    for i = 0, n - 1 do
      redis.call('SET', KEYS[key + i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
    end
  end
  waits[j] = math.ceil(wait)
  key, arg = key + n, arg + 2 * n
end
return waits
"""


class Admission(NamedTuple):
    """What one request counts against: ``limits`` [(key, limit)] per ``window`` seconds;
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
        self._gcra = self.client.register_script(_GCRA)
        self._down_until = 0.0

    def hit_batch(self, admissions) -> list:
        """Decide each admission in order, all in one round trip to Redis; returns, per
        admission, the whole seconds to wait (0 when every one of its limits lets it
        through, and then it is counted against each of them)."""
        admissions = list(admissions)
        if not admissions or time.monotonic() < self._down_until:
            return [0] * len(admissions)
        keys, args = [], [len(admissions)] + [len(a.limits) for a in admissions]
        for a in admissions:
            for key, limit in a.limits:
                keys.append(f"rl:{key}")
                args += [a.window * 1_000_000, limit]
        try:
            waits = self._gcra(keys=keys, args=args)
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable (%s); letting requests through for 5 s", exc)
            self._down_until = time.monotonic() + 5
            return [0] * len(admissions)
        return [math.ceil(int(w) / 1_000_000) for w in waits]  # 0: admitted; else at least 1

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
