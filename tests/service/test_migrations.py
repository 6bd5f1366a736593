"""Every service's migrations on the real PostgreSQL (up, down one step, up again) and on
SQLite (the development fallback): the per-table autovacuum settings of the outbox (and
of voting's proposals) are set by the head and removed by the step down."""
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from common.config import derive_database_url, sqlalchemy_url
from common.migrations import HOT_ROWS_AUTOVACUUM, OUTBOX_AUTOVACUUM, alembic_config, upgrade
from services import RUNNABLE

TUNED = {"outbox": OUTBOX_AUTOVACUUM}


def _options(url, table):
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            options = conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE relname = :t AND relkind = 'r'"),
                                   {"t": table}).scalar_one()
    finally:
        engine.dispose()
    return dict(option.split("=", 1) for option in options or [])


@pytest.mark.parametrize("service", sorted(RUNNABLE))
def test_head_tunes_autovacuum_and_one_step_down_resets_it(service, pg_base_url):
    url = derive_database_url(pg_base_url, f"mig_{service}")
    upgrade(service, url)
    tables = dict(TUNED, **({"proposals": HOT_ROWS_AUTOVACUUM} if service == "voting" else {}))
    expected = {table: {k: str(v) for k, v in params.items()} for table, params in tables.items()}
    assert {table: _options(url, table) for table in tables} == expected
    cfg = alembic_config(service, sqlalchemy_url(url))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    command.downgrade(cfg, "-1")
    assert {table: _options(url, table) for table in tables} == {table: {} for table in tables}
    command.upgrade(cfg, head)
    assert {table: _options(url, table) for table in tables} == expected


@pytest.mark.parametrize("service", sorted(RUNNABLE))
def test_migrations_run_on_sqlite(service, tmp_path):
    url = f"sqlite:///{tmp_path / f'{service}.sqlite3'}"
    upgrade(service, url)
    engine = sa.create_engine(url)
    try:
        assert "outbox" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
