"""Fixtures shared by every test: the real broker and database (see common.testing)."""
import eventlet

eventlet.monkey_patch()  # nameko services run on eventlet; patch before anything imports sockets

import contextlib  # noqa: E402
import os  # noqa: E402

import pytest  # noqa: E402

from common import testing  # noqa: E402
from common.config import derive_database_url  # noqa: E402
from common.migrations import upgrade  # noqa: E402
from services import RUNNABLE  # noqa: E402

os.environ.setdefault("JWT_SECRET", "test-secret-not-for-production-0123456789")
os.environ.setdefault("VOTE_KEY_SECRET", "test-vote-key-secret-0123456789")


@pytest.fixture(scope="session")
def amqp_uri():
    with testing.rabbitmq() as uri:
        yield uri


@pytest.fixture(scope="session")
def pg_base_url():
    with testing.postgres() as url:
        yield url


@pytest.fixture(scope="session")
def db_urls(pg_base_url):
    """Every service's own (migrated) PostgreSQL database for in-process service tests."""
    urls = {name: derive_database_url(pg_base_url, name) for name in RUNNABLE}
    for name, url in urls.items():
        upgrade(name, url)
    return urls


@pytest.fixture
def service_config(amqp_uri, db_urls):
    return {
        "AMQP_URI": amqp_uri,
        "DATABASE_URLS": db_urls,
        "serializer": "json",
        "OUTBOX_POLL_INTERVAL": 0.2,
    }


@pytest.fixture
def run_service(service_config):
    """Start nameko service classes in-process on the real broker and database."""
    from nameko import config
    from nameko.containers import ServiceContainer

    started = []
    stack = contextlib.ExitStack()

    def start(service_cls, extra_config=None):
        stack.enter_context(config.patch({**service_config, **(extra_config or {})}))
        container = ServiceContainer(service_cls)
        container.start()
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        container.stop()
    stack.close()


@pytest.fixture
def rpc(amqp_uri):
    from common.rpc_client import RpcClient

    with RpcClient(amqp_uri, timeout=10) as client:
        yield client


@pytest.fixture
def events(amqp_uri):
    """``events("proposals")`` records what a service publishes during the test."""
    recorders = []

    def record(source, routing_keys=("#",)):
        recorder = testing.EventRecorder(amqp_uri, source, routing_keys)
        recorders.append(recorder)
        return recorder

    yield record
    for recorder in recorders:
        recorder.close()
