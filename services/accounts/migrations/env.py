"""Alembic environment of the accounts service (its own database and version table)."""
from common.migrations import run_env
from services.accounts.persistence import metadata

run_env(metadata)
