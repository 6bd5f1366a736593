"""common/db.py's connection pool on the real PostgreSQL: a connection idle in the pool for
a while is checked (``SELECT 1``) before use and replaced when the server dropped it; one
used moments ago is taken without that round trip."""
import time

import pytest
import sqlalchemy as sa

from common import config as settings
from common.config import derive_database_url
from common.db import make_engine
from common.migrations import ensure_database


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _drop(url, pid) -> None:
    """The server ends that session (as a restart or an idle timeout would)."""
    killer = sa.create_engine(settings.sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        deadline = time.monotonic() + 5
        with killer.connect() as conn:
            while conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                               {"pid": pid}).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        killer.dispose()


@pytest.fixture(scope="module")
def url(pg_base_url):
    url = derive_database_url(pg_base_url, "pooltest")
    ensure_database(url)
    return url


@pytest.fixture
def engine_factory(url):
    engines = []

    def make(after, size=1):
        engine = make_engine(url, pool_size=size, max_overflow=0, ping_after_idle=after)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def test_a_connection_idle_past_the_threshold_is_checked_and_replaced(url, engine_factory):
    engine = engine_factory(after=0.2)
    pid = _backend_pid(engine)
    _drop(url, pid)
    time.sleep(0.3)
    assert _backend_pid(engine) != pid  # pinged, found dead, replaced: the caller never sees it


def test_a_connection_used_moments_ago_is_taken_without_a_ping(url, engine_factory):
    engine = engine_factory(after=60)
    pid = _backend_pid(engine)
    _drop(url, pid)
    with pytest.raises(sa.exc.OperationalError):  # no ping: the transaction meets the dropped session
        _backend_pid(engine)
    assert _backend_pid(engine) != pid  # the disconnect recycled the pool: the next one works


def test_pings_are_skipped_only_while_recent(url, engine_factory):
    engine = engine_factory(after=0)  # always checked: SQLAlchemy's pre-ping
    pid = _backend_pid(engine)
    _drop(url, pid)
    assert _backend_pid(engine) != pid


def test_a_failed_check_renews_the_whole_pool(url, engine_factory):
    """The connection checked (idle long enough) was dropped: the others of the pool,
    dropped too but used moments ago and so not checked, are replaced as well."""
    engine = engine_factory(after=0.5, size=2)
    first, second = engine.connect(), engine.connect()
    pids = {conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for conn in (first, second)}
    first.close()
    time.sleep(0.6)
    second.close()  # back in the pool just now: it will not be checked
    for pid in pids:
        _drop(url, pid)
    with engine.connect() as a, engine.connect() as b:  # the pool is FIFO: the idle one comes first
        got = {conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for conn in (a, b)}
    assert len(got) == 2 and not got & pids


def test_sqlalchemys_own_pre_ping_when_asked_for(url):
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True, ping_after_idle=60)
    try:
        pid = _backend_pid(engine)
        _drop(url, pid)
        assert _backend_pid(engine) != pid  # checked at every checkout, idle or not
    finally:
        engine.dispose()
