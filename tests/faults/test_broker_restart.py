"""RabbitMQ restarted while votes flow: the gateway answers 503 fast while the broker is
down, services and gateway reconnect by themselves, every vote that got a 2xx is stored
and its vote_cast event is delivered."""
import json
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pika
import pytest
import requests

from common.rpc_client import pika_parameters
from common.testing import docker_available
from tests.e2e.conftest import Client
from tests.faults.conftest import fresh_platform
from tests.faults.helpers import question_with_proposals

pytestmark = pytest.mark.skipif(
    not shutil.which("rabbitmqctl") or os.environ.get("TEST_AMQP_URI") or docker_available(),
    reason="needs the local RabbitMQ managed by rabbitmqctl")


def _rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def _broker_up(amqp_uri):
    try:
        pika.BlockingConnection(pika_parameters(amqp_uri)).close()
        return True
    except Exception:
        return False


def test_votes_survive_a_broker_restart():
    with fresh_platform() as platform:
        _question, proposals = question_with_proposals(platform, 4)
        # a durable witness queue: vote_cast events published before, during and after the restart
        connection = pika.BlockingConnection(pika_parameters(platform.amqp_uri))
        channel = connection.channel()
        channel.exchange_declare("voting.events", exchange_type="topic", durable=True)
        channel.queue_declare("faults-witness", durable=True)
        channel.queue_bind("faults-witness", "voting.events", routing_key="vote_cast")
        connection.close()

        outcomes, stop = [], threading.Event()

        def voter_loop(worker):
            i = 0
            while not stop.is_set():
                voter, proposal = Client(platform), proposals[(worker + i) % len(proposals)]
                started = time.monotonic()
                try:
                    status = voter.put(f"/proposals/{proposal['id']}/vote", json={"key": "agree"}).status_code
                except requests.RequestException as exc:
                    status = repr(exc)
                outcomes.append((started, voter, proposal["id"], status, time.monotonic() - started))
                i += 1
                time.sleep(0.02)

        try:
            with ThreadPoolExecutor(max_workers=3) as pool:
                try:
                    futures = [pool.submit(voter_loop, w) for w in range(3)]
                    time.sleep(2)
                    _rabbitmqctl("stop_app")
                    down_at = time.monotonic()  # the broker is down from here...
                    time.sleep(4)
                    up_at = time.monotonic()  # ...to here
                    _rabbitmqctl("start_app")
                    deadline = time.monotonic() + 90
                    while time.monotonic() < deadline:
                        try:
                            if requests.get(f"{platform.url}/readyz", timeout=3).status_code == 200:
                                break
                        except requests.RequestException:
                            pass
                        time.sleep(0.5)
                    else:
                        pytest.fail("the platform did not recover after the broker came back")
                    recovered_at = time.monotonic()
                    time.sleep(3)
                    stop.set()
                    for future in futures:
                        future.result()
                finally:
                    stop.set()  # never leave the voters looping (the pool's exit waits for them)
        finally:
            if not _broker_up(platform.amqp_uri):
                _rabbitmqctl("start_app")

        statuses = [o[3] for o in outcomes]
        assert set(statuses) <= {200, 503}, set(statuses)
        during = [o for o in outcomes if o[0] >= down_at and o[0] + o[4] <= up_at]
        assert during and all(o[3] == 503 for o in during)
        assert max(o[4] for o in outcomes) < 2.0 + 2.0  # answered within the RPC timeout, never a hang
        after = [o for o in outcomes if o[0] > recovered_at + 0.5]
        assert after and all(o[3] == 200 for o in after)

        ok = [o for o in outcomes if o[3] == 200]
        stored = sum(Client(platform).get(f"/proposals/{p['id']}/results").json()["votes"]["all"] for p in proposals)
        assert stored >= len(ok)
        for _, voter, pid, _, _ in ok[:: max(1, len(ok) // 20)]:
            mine = voter.get("/me/votes", params={"proposal": [pid]}).json()
            assert mine and mine[0]["key"] == "agree"

        connection = pika.BlockingConnection(pika_parameters(platform.amqp_uri))
        channel = connection.channel()
        deadline, events = time.monotonic() + 20, {}
        while time.monotonic() < deadline and len(events) < stored:
            method, _props, body = channel.basic_get("faults-witness", auto_ack=True)
            if method is None:
                time.sleep(0.2)
                continue
            event = json.loads(body)
            events[event["event_id"]] = event
        connection.close()
        assert len(events) == stored  # every stored vote's event arrived, none twice
