"""Fixed-window rate limits kept in Redis, shared by every gateway process.

Used against vote flooding: per anonymous session (or account) and per client IP.
If Redis is unreachable the limiter lets requests through and logs it: it protects the
platform, it must not take voting down with it.
"""
import logging
import time

import redis
from flask import current_app, request
from flask_smorest import abort

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self._down_until = 0.0

    def hit_many(self, limits, window: int) -> int:
        """Count one hit on each ``(key, limit)`` in one round trip to Redis (a plain
        pipeline: INCR and EXPIRE per key, no MULTI/EXEC, each command is atomic on its
        own); returns the seconds to wait (0 when every limit allows it)."""
        if time.monotonic() < self._down_until:
            return 0
        now = time.time()
        bucket = int(now // window)
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, _ in limits:
                name = f"rl:{key}:{bucket}"
                pipe.incr(name)
                pipe.expire(name, window + 1)
            replies = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable (%s); letting requests through for 5 s", exc)
            self._down_until = time.monotonic() + 5
            return 0
        if any(count > limit for count, (_, limit) in zip(replies[::2], limits)):
            return max(1, int((bucket + 1) * window - now) + 1)
        return 0


def client_ip() -> str:
    """The client address; behind a trusted proxy set TRUSTED_PROXY_HOPS."""
    hops = current_app.config.get("TRUSTED_PROXY_HOPS", 0)
    if hops:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def limit_votes(voter_key: str) -> None:
    """Abort with 429 when a voter or an IP votes too fast."""
    limiter = current_app.extensions.get("ratelimit")
    if limiter is None:
        return
    cfg = current_app.config
    window = cfg["VOTE_RATE_WINDOW"]
    wait = limiter.hit_many([(f"vote:voter:{voter_key}", cfg["VOTE_RATE_PER_VOTER"]),
                             (f"vote:ip:{client_ip()}", cfg["VOTE_RATE_PER_IP"])], window)
    if wait:
        abort(429, message=f"too many votes; try again in {wait} s", headers={"Retry-After": str(wait)})
