"""Alembic environment of the lobbying service (its own database and version table)."""
from common.migrations import run_env
from services.lobbying.persistence import metadata

run_env(metadata)
