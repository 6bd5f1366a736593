"""The gateway's vote rate limiter against the real Redis (REDIS_URL, default the local one)."""
import os
import uuid

import pytest
import redis

from gateway.ratelimit import RateLimiter

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def limiter():
    limiter = RateLimiter(REDIS_URL)
    try:
        limiter.client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not running at {REDIS_URL}: {exc}")
    return limiter


def test_each_limit_counts_in_one_round_trip(limiter):
    voter, ip = f"t:{uuid.uuid4()}", f"t:{uuid.uuid4()}"
    limits = [(voter, 3), (ip, 5)]
    assert [limiter.hit_many(limits, 60) for _ in range(3)] == [0, 0, 0]
    wait = limiter.hit_many(limits, 60)  # the voter's 4th hit is over its limit of 3
    assert 1 <= wait <= 61
    keys = limiter.client.keys(f"rl:{voter}:*") + limiter.client.keys(f"rl:{ip}:*")
    assert len(keys) == 2
    assert all(0 < limiter.client.ttl(k) <= 61 for k in keys)  # every counter expires


def test_the_tightest_limit_decides(limiter):
    ip = f"t:{uuid.uuid4()}"
    assert limiter.hit_many([(f"t:{uuid.uuid4()}", 100), (ip, 1)], 60) == 0
    assert limiter.hit_many([(f"t:{uuid.uuid4()}", 100), (ip, 1)], 60) > 0  # another voter, same IP


def test_redis_down_lets_votes_through():
    limiter = RateLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    assert limiter.hit_many([("a", 0), ("b", 0)], 60) == 0  # over both limits, yet allowed
    assert limiter.hit_many([("a", 0)], 60) == 0  # and Redis is not asked again for 5 s
