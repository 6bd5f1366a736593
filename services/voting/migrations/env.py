"""Alembic environment of the voting service (its own database and version table)."""
from common.migrations import run_env
from services.voting.persistence import metadata

run_env(metadata)
