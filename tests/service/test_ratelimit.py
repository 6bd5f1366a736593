"""The gateway's vote rate limiter against the real Redis (REDIS_URL, default the local one)."""
import os
import time
import uuid

import pytest
import redis

from gateway.ratelimit import Admission, RateLimited, RateLimiter

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def limiter():
    limiter = RateLimiter(REDIS_URL)
    try:
        limiter.client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not running at {REDIS_URL}: {exc}")
    return limiter


def _redis_now_us(limiter) -> int:
    seconds, micros = limiter.client.time()
    return seconds * 1_000_000 + micros


def test_a_burst_of_the_limit_then_one_every_window_over_limit(limiter):
    """3 per 60 s: three at once, the fourth refused until 20 s (60 / 3) have passed,
    each limit in one key that expires once its budget is whole again."""
    voter, ip = f"t:{uuid.uuid4()}", f"t:{uuid.uuid4()}"
    limits = [(voter, 3), (ip, 5)]
    assert [limiter.hit_many(limits, 60) for _ in range(3)] == [0, 0, 0]
    assert 19 <= limiter.hit_many(limits, 60) <= 20  # the voter's 4th request: one fits again in 20 s
    assert limiter.client.exists(f"rl:{voter}", f"rl:{ip}") == 2  # one key per limit
    assert 59_000 < limiter.client.pttl(f"rl:{voter}") <= 61_000  # a whole budget back in 60 s
    assert 35_000 < limiter.client.pttl(f"rl:{ip}") <= 37_000  # three of five used: 36 s


def test_no_window_boundary_lets_a_second_burst_through(limiter):
    """Fixed windows let a client spend a whole budget just before a boundary and another
    just after. Here, after a burst of 4 (limit 4 per second), a client gets back one
    request per 0.25 s it waited, however the seconds fall, and Retry-After says when."""
    voter = f"t:{uuid.uuid4()}"
    started = time.monotonic()
    assert [limiter.hit_many([(voter, 4)], 1) for _ in range(4)] == [0, 0, 0, 0]
    assert limiter.hit_many([(voter, 4)], 1) == 1  # refused: under 0.25 s to wait, rounded up
    time.sleep(0.3)
    second = [limiter.hit_many([(voter, 4)], 1) for _ in range(4)]
    allowed = second.count(0)
    assert 1 <= allowed <= int((time.monotonic() - started) / 0.25) and allowed < 4
    assert second[allowed:] == [1] * (4 - allowed)  # the rest refused, each told to wait a second at most
    time.sleep(1)
    assert limiter.hit_many([(voter, 4)], 1) == 0  # came back when told: admitted


def test_a_refused_request_spends_none_of_its_limits(limiter):
    """Two voters behind one IP allowed 2: the first voter's refused second vote (over its
    own limit of 1) does not use the IP's budget, so the other voter still gets through."""
    ip = f"t:{uuid.uuid4()}"
    first, second, third = (f"t:{uuid.uuid4()}" for _ in range(3))
    assert limiter.hit_many([(first, 1), (ip, 2)], 60) == 0
    assert limiter.hit_many([(first, 1), (ip, 2)], 60) > 0  # over the voter's limit
    assert limiter.hit_many([(second, 1), (ip, 2)], 60) == 0  # the IP's second request
    assert limiter.hit_many([(third, 1), (ip, 2)], 60) == 30  # the IP's budget is spent: 60 / 2 s
    assert limiter.client.exists(f"rl:{third}") == 0  # and the third voter's untouched


def test_a_limit_of_zero_refuses_everything(limiter):
    assert limiter.hit_many([(f"t:{uuid.uuid4()}", 0)], 60) == 60


def test_the_tightest_limit_decides(limiter):
    ip = f"t:{uuid.uuid4()}"
    assert limiter.hit_many([(f"t:{uuid.uuid4()}", 100), (ip, 1)], 60) == 0
    assert limiter.hit_many([(f"t:{uuid.uuid4()}", 100), (ip, 1)], 60) > 0  # another voter, same IP


def test_redis_down_lets_votes_through():
    limiter = RateLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    assert limiter.hit_many([("a", 0), ("b", 0)], 60) == 0  # over both limits, yet allowed
    assert limiter.hit_many([("a", 0)], 60) == 0  # and Redis is not asked again for 5 s


def test_a_batch_of_requests_is_decided_in_order_in_one_script_call(limiter):
    """What gateway/batching.py asks for a batch of votes: each request's limits decided in
    order (a voter's third vote of the batch refused, another voter's admitted), one Redis
    call for all of them, and only the admitted ones spend the IP's budget."""
    voter, ip = f"t:{uuid.uuid4()}", f"t:{uuid.uuid4()}"
    before = limiter.client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    batch = [Admission(((voter, 2), (ip, 100)), 60)] * 3 + [Admission(((f"t:{uuid.uuid4()}", 2), (ip, 100)), 60)]
    verdicts = limiter.admit(batch)
    assert verdicts[:2] == [None, None] and verdicts[3] is None
    assert isinstance(verdicts[2], RateLimited) and verdicts[2].wait == 30  # the voter's 3rd vote
    after = limiter.client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert after - before == 1
    ahead = int(limiter.client.get(f"rl:{ip}")) - _redis_now_us(limiter)  # 3 admitted votes of 0.6 s each
    assert 1_700_000 < ahead <= 1_800_000


def test_the_script_is_loaded_again_after_a_redis_script_flush(limiter):
    limiter.client.script_flush()
    assert limiter.hit_many([(f"t:{uuid.uuid4()}", 1)], 60) == 0


def test_an_empty_batch_asks_nothing(limiter):
    assert limiter.admit([]) == []


def test_redis_down_admits_a_whole_batch():
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    assert limiter.admit([Admission((("a", 0),), 60), Admission((("b", 0),), 60)]) == [None, None]


class _NotFoundRpc:
    """The gateway's RPC client, answering every call 'not found' and recording it."""

    def __init__(self):
        self.calls = []

    def call(self, service, method, *args, **kwargs):
        from common.rpc_client import RemoteError

        self.calls.append((service, method))
        if method == "vote_batch":  # one outcome per vote of the batch
            return [{"error": {"exc_type": "NotFound", "value": "no such proposal", "exc_args": ["no such proposal"]}}
                    for _ in args[0]]
        raise RemoteError("NotFound", "no such proposal", ["no such proposal"])


@pytest.mark.parametrize("batch_max", [1, 64])
def test_a_vote_over_its_limit_is_refused_before_voting_with_batching_on_or_off(batch_max):
    """Batching off (``RPC_BATCH_MAX=1``): the limits are counted alone, then the single
    call; on: with the batch. Either way the third vote of a voter allowed two never
    reaches voting."""
    from gateway.app import create_app

    app = create_app({"TESTING": True, "REDIS_URL": REDIS_URL, "RPC_BATCH_MAX": batch_max,
                      "VOTE_RATE_PER_VOTER": 2, "VOTE_RATE_PER_IP": 1000})
    rpc = app.extensions["rpc"] = _NotFoundRpc()
    client = app.test_client()
    session = {"X-Session-Id": f"ratelimit{uuid.uuid4().hex}"}
    statuses = [client.put(f"/api/v1/proposals/{uuid.uuid4()}/vote", json={"key": "agree"}, headers=session).status_code
                for _ in range(3)]
    assert statuses == [404, 404, 429]
    assert len(rpc.calls) == 2 and all(service == "voting" for service, _ in rpc.calls)
    assert {method for _, method in rpc.calls} == ({"vote"} if batch_max == 1 else {"vote_batch"})


def test_similar_proposals_searches_are_limited_per_client():
    """The similar-proposals search runs a full-text query per call: past its limit a
    session gets a 429 naming it, with Retry-After, and the search never reaches proposals;
    another session is not affected."""
    from gateway.app import create_app

    app = create_app({"TESTING": True, "REDIS_URL": REDIS_URL, "SIMILAR_RATE_PER_CLIENT": 2,
                      "SIMILAR_RATE_PER_IP": 1000})
    rpc = app.extensions["rpc"] = _NotFoundRpc()
    client = app.test_client()
    session = {"X-Session-Id": f"similar{uuid.uuid4().hex}"}
    url = f"/api/v1/questions/{uuid.uuid4()}/similar?content=Il%20faut%20planter%20des%20arbres"
    responses = [client.get(url, headers=session) for _ in range(3)]
    assert [r.status_code for r in responses] == [404, 404, 429]
    assert int(responses[2].headers["Retry-After"]) >= 1
    assert "too many searches for similar proposals" in responses[2].get_json()["message"]
    assert rpc.calls == [("proposals", "similar_proposals")] * 2
    other = {"X-Session-Id": f"similar{uuid.uuid4().hex}"}
    assert client.get(url, headers=other).status_code == 404


def test_a_session_named_after_a_user_id_does_not_spend_that_users_budget():
    """User ids are public (proposal authors) and a session id is the client's choice:
    accounts and sessions are counted apart."""
    from datetime import datetime, timezone

    from common import tokens
    from gateway.app import create_app
    from services.accounts.domain import AccountRules, Identity, token_claims

    app = create_app({"TESTING": True, "REDIS_URL": REDIS_URL, "SIMILAR_RATE_PER_CLIENT": 2,
                      "SIMILAR_RATE_PER_IP": 1000})
    app.extensions["rpc"] = _NotFoundRpc()
    client = app.test_client()
    user_id = str(uuid.uuid4())
    claims = token_claims(Identity(user_id=user_id), datetime.now(timezone.utc), AccountRules(), tokens.ISSUER,
                          tokens.AUDIENCE)
    token = tokens.encode(claims, app.config["JWT_SECRET"])
    url = f"/api/v1/questions/{uuid.uuid4()}/similar?content=Il%20faut%20planter%20des%20arbres"
    squatter = [client.get(url, headers={"X-Session-Id": user_id}).status_code for _ in range(3)]
    assert squatter == [404, 404, 429]
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 404
