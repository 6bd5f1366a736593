"""Alembic environment of the proposals service (its own database and version table)."""
from common.migrations import run_env
from services.proposals.persistence import metadata

run_env(metadata)
