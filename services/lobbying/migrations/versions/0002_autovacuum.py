"""autovacuum of the outbox after a fixed count of dead rows (every row is updated once relayed)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:50:00
"""
from common.migrations import OUTBOX_AUTOVACUUM, reset_autovacuum, set_autovacuum


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    set_autovacuum("outbox", OUTBOX_AUTOVACUUM)


def downgrade():
    reset_autovacuum("outbox", OUTBOX_AUTOVACUUM)
