"""Fault tests: each module gets its own platform (vhost + databases + processes) so that
killing or restarting things never disturbs other tests' state."""
import contextlib
import os
import tempfile

import pytest

from common import testing
from common.config import derive_database_url
from common.migrations import upgrade
from services import RUNNABLE
from tests.e2e.conftest import Platform, _free_port


@contextlib.contextmanager
def fresh_platform(**env_overrides):
    with testing.rabbitmq() as amqp_uri, testing.postgres() as pg_base:
        for name in RUNNABLE:
            upgrade(name, derive_database_url(pg_base, name))
        env = dict(os.environ, AMQP_URI=amqp_uri, DATABASE_URL=pg_base, SERVICES=",".join(RUNNABLE),
                   RPC_TIMEOUT="2", OUTBOX_POLL_INTERVAL="0.2", PYTHONUNBUFFERED="1", PYTHONPATH=os.getcwd(),
                   EMERGENCE_MIN_TRUSTED_VOTES="1000", VOTE_RATE_PER_VOTER="100000", VOTE_RATE_PER_IP="1000000")
        env.update(env_overrides)
        log = tempfile.NamedTemporaryFile("w", prefix="faults-", suffix=".log", delete=False)
        plat = Platform(env, _free_port(), log)
        plat.amqp_uri, plat.pg_base = amqp_uri, pg_base
        try:
            plat.start()
            yield plat
        finally:
            plat.stop()
            log.close()
            os.unlink(log.name)


@pytest.fixture(scope="module")
def fault_platform():
    with fresh_platform() as plat:
        yield plat
