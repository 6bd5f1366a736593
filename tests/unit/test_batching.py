"""gateway/batching.py: coalescing concurrent calls into batch calls. The RPC client is a
fake here (what is under test is the coalescing, deadlines and error routing); the real
path, gateway -> voting.vote_batch on the bus, is covered by tests/e2e/test_voting.py."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.rpc_client import BrokerUnavailable, RemoteError, RpcTimeout
from gateway.batching import BatchCaller, Overloaded, RetryAlone


class FakeClient:
    """Answers a batch of numbers with their doubles (odd numbers > 100 fail alone), after
    ``delay`` seconds; or raises ``fail`` for the whole batch."""

    def __init__(self, delay=0.0, fail=None, reply=None, gate=None):
        self.delay, self.fail, self.reply, self.gate = delay, fail, reply, gate
        self.batches, self.timeouts = [], []
        self.lock = threading.Lock()

    def call(self, service, method, items, timeout=None, headers=None):
        with self.lock:
            self.batches.append(list(items))
            self.timeouts.append(timeout)
        if self.gate is not None:
            self.gate.wait(10)  # a service that answers only when the test says so
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        if self.reply is not None:
            return self.reply
        return [{"error": {"exc_type": "Conflict", "value": f"{n} refused", "exc_args": [f"{n} refused"]}}
                if n > 100 and n % 2 else {"result": n * 2} for n in items]


def caller(client, **kw):
    return BatchCaller(client, "svc", "do_batch", **kw)


def test_an_idle_call_goes_out_at_once_alone():
    client = FakeClient()
    c = caller(client)
    assert c.call(21) == 42
    assert client.batches == [[21]]
    assert 4.9 < client.timeouts[0] <= 5.0  # the item's own deadline


def test_calls_arriving_while_batches_are_in_flight_ride_together():
    client = FakeClient(delay=0.05)
    c = caller(client, flushers=2, max_batch=8)
    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(c.call, range(40)))
    assert results == [n * 2 for n in range(40)]  # each caller gets its own answer
    assert sorted(n for b in client.batches for n in b) == list(range(40))  # each sent once
    assert len(client.batches) < 40 / 2 and max(len(b) for b in client.batches) <= 8


def test_an_item_refused_fails_alone():
    c = caller(FakeClient(delay=0.02), flushers=1)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(c.call, n) for n in (4, 101, 6)]
    assert futures[0].result() == 8 and futures[2].result() == 12
    with pytest.raises(RemoteError) as err:
        futures[1].result()
    assert err.value.exc_type == "Conflict" and err.value.exc_args == ["101 refused"]


def test_a_service_down_fails_every_item_like_a_single_call():
    c = caller(FakeClient(fail=BrokerUnavailable("message broker unavailable")))
    with pytest.raises(BrokerUnavailable):
        c.call(1)


@pytest.mark.parametrize("failure", [RemoteError("OperationalError", "db gone"), None])
def test_a_batch_failing_whole_sends_its_items_back_to_be_retried_alone(failure):
    client = FakeClient(fail=failure, reply=None if failure else [])  # None: a reply of the wrong length
    c = caller(client)
    with pytest.raises(RetryAlone):
        c.call(1)
    assert c.enabled  # batching goes on for the next calls


def test_a_service_without_the_batch_method_pauses_batching():
    c = caller(FakeClient(fail=RemoteError("MethodNotFound", "do_batch")), pause=0.2)
    with pytest.raises(RetryAlone):
        c.call(1)
    assert not c.enabled
    time.sleep(0.25)
    assert c.enabled


def test_a_caller_never_waits_past_its_timeout_and_a_late_item_is_not_sent():
    gate = threading.Event()
    client = FakeClient(gate=gate)
    c = caller(client, flushers=1)
    first = threading.Thread(target=lambda: c.call(1))
    first.start()
    wait_for(lambda: client.batches == [[1]])  # the only flusher is busy with item 1
    with pytest.raises(RpcTimeout):
        c.call(2, timeout=0.1)  # gives up while the flusher is still busy: it did not wait for it
    gate.set()
    first.join()
    time.sleep(0.1)
    assert client.batches == [[1]]  # item 2 expired in the queue: never sent


def test_the_flusher_survives_a_bug_and_nobody_waits_forever():
    class Broken(FakeClient):
        def call(self, *a, **kw):
            raise KeyError("bug")

    c = caller(Broken(), flushers=1)
    for _ in range(2):  # the same flusher serves the second call
        with pytest.raises(RetryAlone):
            c.call(1, timeout=1)


def test_a_service_falling_behind_refuses_new_calls_at_once():
    """The oldest queued call has waited more than max_wait: a new one fails at once (503)
    instead of queueing; the queued ones are still answered; then calls are taken again."""
    gate = threading.Event()
    client = FakeClient(gate=gate)
    c = caller(client, flushers=1, max_wait=0.1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(c.call, 1)  # holds the only flusher until the gate opens
        wait_for(lambda: client.batches == [[1]])
        queued = pool.submit(c.call, 2)  # waits behind it
        wait_for(lambda: c.behind() > 0.1)
        with pytest.raises(Overloaded):
            c.call(3)  # refused while the service still has not answered: without waiting for it
        assert not first.done() and not queued.done()
        gate.set()
        assert first.result() == 2 and queued.result() == 4
    assert c.behind() == 0.0
    assert c.call(5) == 10  # caught up: taken again
    assert sorted(n for b in client.batches for n in b) == [1, 2, 5]  # the refused one never sent


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.005)


def test_no_refusal_when_max_wait_is_zero():
    client = FakeClient(delay=0.3)
    c = caller(client, flushers=1, max_wait=0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        calls = [pool.submit(c.call, 1)]
        time.sleep(0.05)
        calls.append(pool.submit(c.call, 2))
        time.sleep(0.2)
        calls.append(pool.submit(c.call, 3))
        assert [f.result() for f in calls] == [2, 4, 6]


def test_a_burst_is_not_refused():
    """Many calls at once on an idle caller: the queue is young, nothing is refused. (The
    work takes ~80 ms; the limit is the production default, 2 s, so that a slow or busy
    machine does not make it a timing test.)"""
    client = FakeClient(delay=0.02)
    c = caller(client, flushers=2, max_batch=16, max_wait=2.0)
    with ThreadPoolExecutor(max_workers=64) as pool:
        assert list(pool.map(c.call, range(64))) == [n * 2 for n in range(64)]


class Limits:
    """A fake limiter: refuses the admissions in ``refuse`` (the real one, against Redis,
    is tested in tests/service/test_ratelimit.py)."""

    def __init__(self, refuse=(), fail=False):
        self.refuse, self.fail, self.asked = set(refuse), fail, []

    def admit(self, admissions):
        self.asked.append(list(admissions))
        if self.fail:
            raise RuntimeError("limiter broken")
        return [LookupError(a) if a in self.refuse else None for a in admissions]


def test_admission_is_asked_once_per_batch_and_refused_items_are_not_sent():
    client, limits = FakeClient(delay=0.05), Limits(refuse={"flood"})
    c = caller(client, flushers=1, admit=limits.admit)
    with ThreadPoolExecutor(max_workers=10) as pool:
        first = pool.submit(c.call, 1, admission="ok")
        time.sleep(0.01)  # the next ones queue behind the batch in flight
        futures = [pool.submit(c.call, n, admission="flood" if n % 2 else "ok") for n in range(2, 10)]
        futures.append(pool.submit(c.call, 10))  # no admission: never asked about
    assert first.result() == 2
    for n, f in zip(range(2, 10), futures):
        if n % 2:
            with pytest.raises(LookupError):
                f.result()
        else:
            assert f.result() == n * 2
    assert futures[-1].result() == 20
    sent = sorted(n for b in client.batches for n in b)
    assert sent == [1, 2, 4, 6, 8, 10]  # refused items never reach the service
    assert len(limits.asked) == len(client.batches) == 2  # one admission check per batch
    assert sorted(limits.asked[1]) == ["flood"] * 4 + ["ok"] * 4


def test_a_broken_limiter_lets_the_items_through():
    client = FakeClient()
    c = caller(client, admit=Limits(fail=True).admit)
    assert c.call(4, admission="anything") == 8
    assert client.batches == [[4]]


def test_an_item_timed_out_before_its_batch_is_not_counted():
    client, limits = FakeClient(delay=0.3), Limits()
    c = caller(client, flushers=1, admit=limits.admit)
    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(c.call, 1, admission="a")
        time.sleep(0.05)
        late = pool.submit(c.call, 2, 0.1, "b")  # gives up while the first batch is in flight
        with pytest.raises(RpcTimeout):
            late.result()
        assert slow.result() == 2
    time.sleep(0.05)
    assert limits.asked == [["a"]]


def test_an_item_expiring_during_the_admission_check_is_not_sent():
    client = FakeClient()

    def slow_admit(admissions):
        time.sleep(0.15)  # a slow Redis
        return [None for _ in admissions]

    c = caller(client, admit=slow_admit)
    with pytest.raises(RpcTimeout):
        c.call(1, 0.1, "a")
    time.sleep(0.1)
    assert client.batches == []
