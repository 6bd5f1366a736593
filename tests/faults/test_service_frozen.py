"""The voting service freezes (SIGSTOP: its process and its broker connection stay up, it
just stops answering) while votes keep arriving. The gateway must not let votes pile up
behind it: the votes already sent fail after RPC_TIMEOUT, and new ones are refused at once
(503 with Retry-After, once RPC_BATCH_MAX_WAIT behind; gateway/batching.py) until voting
answers again.
Without the refusal every vote of the frozen period waits the whole RPC_TIMEOUT."""
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from tests.e2e.conftest import Client
from tests.faults.conftest import fresh_platform
from tests.faults.helpers import question_with_proposals

RATE = 20  # votes per second, open loop: arrivals do not wait for answers


@pytest.fixture(scope="module")
def frozen_platform():
    """RPC_TIMEOUT 2 s (as every fault platform) and refusals after 0.5 s behind."""
    with fresh_platform(RPC_BATCH_MAX_WAIT="0.5") as plat:
        yield plat


def test_votes_refused_fast_while_voting_is_frozen(frozen_platform):
    platform = frozen_platform
    _question, proposals = question_with_proposals(platform, 3)
    outcomes, lock = [], threading.Lock()  # (phase, status, seconds, Retry-After)

    def vote(i, at_phase):
        started = time.monotonic()
        try:
            response = Client(platform).put(f"/proposals/{proposals[i % len(proposals)]['id']}/vote",
                                            json={"key": "agree"})
            outcome = (at_phase, response.status_code, time.monotonic() - started, response.headers.get("Retry-After"))
        except Exception as exc:  # noqa: BLE001 - a hang or reset is a failure, recorded
            outcome = (at_phase, repr(exc), time.monotonic() - started, None)
        with lock:
            outcomes.append(outcome)

    timeline = [("before", 1.0), ("frozen", 1.0), ("frozen, behind", 2.5), ("resumed", 3.0), ("after", 1.5)]
    pid = platform.procs["voting"].popen.pid
    with ThreadPoolExecutor(max_workers=128) as pool:
        i, before = 0, []
        try:
            for name, seconds in timeline:
                if name == "frozen":
                    # the last votes of "before" are answered first: frozen mid-flight they would
                    # rightly fail, and the test is about what happens after the freeze
                    wait(before, timeout=5)
                    os.kill(pid, signal.SIGSTOP)
                if name == "resumed":
                    os.kill(pid, signal.SIGCONT)
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    future = pool.submit(vote, i, name)
                    if name == "before":
                        before.append(future)
                    i += 1
                    time.sleep(1 / RATE)
        finally:
            os.kill(pid, signal.SIGCONT)  # never leave it frozen

    statuses = {status for _, status, _, _ in outcomes}
    assert statuses <= {200, 503}, statuses
    assert max(seconds for _, _, seconds, _ in outcomes) < 2.0 + 1.5  # never a hang beyond the RPC timeout
    assert all(status == 200 for p, status, _, _ in outcomes if p == "before"), [o for o in outcomes if o[0] == "before"]
    behind = [(status, round(seconds, 2), retry) for p, status, seconds, retry in outcomes if p == "frozen, behind"]
    fast = [s for status, s, retry in behind if status == 503 and s < 0.3 and retry]
    # most refused at once; a few let through each time the batches in flight have timed out
    # (they wait, then are answered when voting resumes or fail at RPC_TIMEOUT)
    assert len(behind) >= 30 and len(fast) >= 0.7 * len(behind), behind
    after = [status for p, status, _, _ in outcomes if p == "after"]
    assert after and all(status == 200 for status in after), after  # taken again once voting answers
