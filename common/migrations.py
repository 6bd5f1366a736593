"""Alembic wiring shared by the services: each service keeps its own ``migrations/``
folder and version table; this module runs them against the service's own database,
creating the PostgreSQL database first when it does not exist.

CLI: ``python -m common.migrations upgrade accounts proposals``
     ``python -m common.migrations revision accounts -m "add x"`` (autogenerate)
"""
import argparse
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import make_url

from common import config as settings

SERVICES_DIR = settings.ROOT / "services"


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or settings.database_url(service)).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it is missing."""
    parsed = make_url(settings.sqlalchemy_url(url))
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def upgrade(service: str, url: str | None = None, revision: str = "head") -> None:
    url = settings.sqlalchemy_url(url or settings.database_url(service))
    ensure_database(url)
    command.upgrade(alembic_config(service, url), revision)


# Autovacuum per table (PostgreSQL storage parameters). The default starts a vacuum when
# a fifth of a table's rows are dead: an outbox of a week of events (every row updated
# once when relayed) or voting's proposals (one update per vote, not HOT: the ranking
# indexes change) would carry hundreds of thousands of dead rows and index entries that
# the relay's scans and the ranking pages step over. These start one after a fixed count.
OUTBOX_AUTOVACUUM = {"autovacuum_vacuum_scale_factor": 0.0, "autovacuum_vacuum_threshold": 10000,
                     "autovacuum_analyze_scale_factor": 0.0, "autovacuum_analyze_threshold": 10000}
HOT_ROWS_AUTOVACUUM = {"autovacuum_vacuum_scale_factor": 0.0, "autovacuum_vacuum_threshold": 2000,
                       "autovacuum_analyze_scale_factor": 0.02}


def _postgresql() -> bool:
    from alembic import op

    return op.get_context().dialect.name == "postgresql"


def set_autovacuum(table: str, params: dict) -> None:
    """In a migration: set a table's autovacuum parameters. PostgreSQL only; nothing on
    SQLite (the development fallback)."""
    from alembic import op

    if _postgresql():
        op.execute(f"ALTER TABLE {table} SET ({', '.join(f'{k} = {v}' for k, v in params.items())})")


def reset_autovacuum(table: str, params: dict) -> None:
    """In a downgrade: back to the server's defaults for the parameters ``params`` names."""
    from alembic import op

    if _postgresql():
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(params)})")


def run_env(target_metadata: sa.MetaData) -> None:
    """Body of every service's ``migrations/env.py``."""
    cfg = context.config
    url = cfg.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(settings.sqlalchemy_url(url))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.migrations")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="apply every migration of the named services")
    up.add_argument("services", nargs="+")
    rev = sub.add_parser("revision", help="autogenerate a migration for one service")
    rev.add_argument("service")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "upgrade":
        for service in args.services:
            upgrade(service)
            print(f"migrated {service}: {make_url(settings.database_url(service)).render_as_string(hide_password=True)}")
    else:
        url = settings.database_url(args.service)
        ensure_database(url)
        command.revision(alembic_config(args.service, url), message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
