"""Test infrastructure: a real RabbitMQ and a real PostgreSQL for every test run.

Where a Docker engine answers, testcontainers starts throwaway ones. Otherwise the
already running services are used (TEST_AMQP_URI, TEST_DATABASE_URL, defaulting to the
local ones), isolated per run: a fresh RabbitMQ vhost and fresh databases, removed after.
"""
import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from common import config as settings

LOCAL_AMQP = "pyamqp://guest:guest@127.0.0.1:5672/"
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def docker_available() -> bool:
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _rabbitmqctl(*args) -> bool:
    exe = shutil.which("rabbitmqctl")
    if not exe:
        return False
    result = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
    return result.returncode == 0


@contextlib.contextmanager
def rabbitmq():
    """Yield an AMQP URI on a vhost of its own."""
    if os.environ.get("TEST_AMQP_URI"):
        yield os.environ["TEST_AMQP_URI"]
        return
    if docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-management") as container:
            params = container.get_connection_params()
            yield f"pyamqp://guest:guest@{params.host}:{params.port}//"
        return
    vhost = f"test-{uuid.uuid4().hex[:10]}"
    if _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
        try:
            yield f"{LOCAL_AMQP}{vhost}"
        finally:
            _rabbitmqctl("delete_vhost", vhost)
    else:  # no way to isolate: share the default vhost
        yield f"{LOCAL_AMQP}/"


@contextlib.contextmanager
def postgres():
    """Yield a base URL ``postgresql://.../<unique name>``; each service derives its own
    database from it (see common.config.database_url). Databases are dropped after."""
    server = os.environ.get("TEST_DATABASE_URL")
    container = None
    if not server and docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver="psycopg2").start()
        server = container.get_connection_url()
    server = server or LOCAL_PG
    base_name = f"civic_test_{uuid.uuid4().hex[:8]}"
    base = make_url(settings.sqlalchemy_url(server)).set(database=base_name)
    try:
        yield base.render_as_string(hide_password=False)
    finally:
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            names = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{base_name}%"}
            ).scalars().all()
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if container is not None:
            container.stop()


def wait_until(fetch, timeout=15.0, what="condition", interval=0.1):
    """Poll ``fetch()`` until it returns something truthy and return it; fail the test
    naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class EventRecorder:
    """Binds a private queue to ``<source>.events`` and records every event that arrives."""

    def __init__(self, amqp_uri, source, routing_keys=("#",)):
        import pika

        from common.rpc_client import pika_parameters

        self._params = pika_parameters(amqp_uri)
        self.source = source
        self.received = queue.Queue()
        self.all = []
        self._stop = threading.Event()
        connection = pika.BlockingConnection(self._params)
        channel = connection.channel()
        exchange = f"{source}.events"
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue_name = channel.queue_declare("", exclusive=True).method.queue
        for key in routing_keys:
            channel.queue_bind(self.queue_name, exchange, routing_key=key)
        self._connection, self._channel = connection, channel
        channel.basic_consume(self.queue_name, self._on_message, auto_ack=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_message(self, _ch, method, props, body):
        event = json.loads(body)
        event["_routing_key"] = method.routing_key
        event["_headers"] = props.headers or {}
        self.all.append(event)
        self.received.put(event)

    def _run(self):
        while not self._stop.is_set():
            try:
                self._connection.process_data_events(time_limit=0.2)
            except Exception:
                return

    def wait_for(self, predicate, timeout=10.0):
        """Return the first recorded event matching ``predicate`` (waiting up to timeout)."""
        for event in list(self.all):
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.received.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(event):
                return event
        raise AssertionError(f"no matching {self.source} event within {timeout}s; got {[e.get('event_type') for e in self.all]}")

    def matching(self, predicate):
        return [e for e in self.all if predicate(e)]

    def close(self):
        self._stop.set()
        self._thread.join(2)
        with contextlib.suppress(Exception):
            self._connection.close()
