"""The deployment's runtime pieces against the real broker and database: the quorum /
dead-letter policy really bounds a poison message's deliveries, and the entrypoint's
migration lock lets replicas that start together migrate one database safely."""
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest

from deploy_helpers import DEPLOY, ROOT

DEFINITIONS = json.loads((DEPLOY / "docker" / "rabbitmq" / "definitions.json").read_text())


def rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def policy_vhost():
    """A throwaway vhost on the local broker carrying the platform's policies and
    dead-letter queue exactly as deploy/docker/rabbitmq/definitions.json defines them."""
    if os.environ.get("TEST_AMQP_URI") or not shutil.which("rabbitmqctl"):
        pytest.skip("needs the local RabbitMQ and rabbitmqctl to create a vhost with policies")
    vhost = f"deploy-test-{uuid.uuid4().hex[:8]}"
    for attempt in range(3):  # rabbitmqctl can fail transiently while other tests churn vhosts
        added = rabbitmqctl("add_vhost", vhost)
        if added.returncode == 0:
            break
        time.sleep(2)
    else:
        pytest.skip(f"rabbitmqctl cannot manage the local broker: {added.stderr.strip()[:200]}")
    try:
        assert rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*").returncode == 0
        for policy in DEFINITIONS["policies"]:
            result = rabbitmqctl("set_policy", "-p", vhost, "--apply-to", policy["apply-to"],
                                 "--priority", str(policy["priority"]), policy["name"], policy["pattern"],
                                 json.dumps(policy["definition"]))
            assert result.returncode == 0, f"RabbitMQ refused policy {policy['name']}: {result.stderr}"
        yield f"pyamqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def test_a_poison_event_ends_in_the_dead_letter_queue(policy_vhost):
    from kombu import Connection, Exchange, Queue

    limit = next(p for p in DEFINITIONS["policies"] if p["name"] == "civic-events")["definition"]["delivery-limit"]
    with Connection(policy_vhost, connect_timeout=5) as conn:
        channel = conn.channel()
        for spec in DEFINITIONS["exchanges"]:
            Exchange(spec["name"], type=spec["type"], durable=spec["durable"])(channel).declare()
        for spec in DEFINITIONS["queues"]:
            Queue(spec["name"], durable=spec["durable"], queue_arguments=spec["arguments"])(channel).declare()
        for spec in DEFINITIONS["bindings"]:
            channel.queue_bind(spec["destination"], spec["source"], spec["routing_key"])
        events = Exchange("deploytest.events", type="topic", durable=True)
        # a queue named the way nameko names event-handler queues, quorum like on the platform
        handler = Queue("evt-deploytest-poisoned--consumer.handle", exchange=events, routing_key="poisoned",
                        durable=True, queue_arguments={"x-queue-type": "quorum"})(channel)
        handler.declare()
        producer = conn.Producer(channel)
        producer.publish({"event_id": "e1", "data": "a handler that always fails"}, exchange=events,
                         routing_key="poisoned", declare=[events], serializer="json")
        deliveries, dead = 0, None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and dead is None:
            message = handler.get(no_ack=False)
            if message is not None:
                deliveries += 1
                message.reject(requeue=True)  # what a failing handler with requeue_on_error does
                continue
            dead = Queue(DEFINITIONS["queues"][0]["name"])(channel).get(no_ack=True)
            time.sleep(0.1)
    assert dead is not None, f"not dead-lettered after {deliveries} deliveries"
    assert limit <= deliveries <= limit + 1, f"{deliveries} deliveries for a delivery-limit of {limit}"
    death = dead.headers["x-death"][0]
    assert death["queue"] == "evt-deploytest-poisoned--consumer.handle"
    assert death["reason"] == "delivery_limit"
    assert json.loads(dead.body)["event_id"] == "e1"


def test_replicas_starting_together_migrate_once(pg_base_url):
    from common.config import derive_database_url

    url = derive_database_url(pg_base_url, "deploylock")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACCOUNTS_DATABASE_URL": url, "MIGRATE_WAIT_SECONDS": "30"}
    starts = [subprocess.Popen([sys.executable, str(DEPLOY / "docker" / "entrypoint.py"), "migrate", "accounts"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in starts]
    assert all(p.returncode == 0 for p in starts), "\n".join(outputs)
    import sqlalchemy as sa

    from common.config import sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert len(versions) == 1
