"""Alembic environment of the notifications service (its own database and version table)."""
from common.migrations import run_env
from services.notifications.persistence import metadata

run_env(metadata)
