"""Alembic environment of the commitments service (its own database and version table)."""
from common.migrations import run_env
from services.commitments.persistence import metadata

run_env(metadata)
