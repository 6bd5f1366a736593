"""autovacuum after a fixed count of dead rows: the outbox, and proposals (one update per vote)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 04:50:00
"""
from common.migrations import HOT_ROWS_AUTOVACUUM, OUTBOX_AUTOVACUUM, reset_autovacuum, set_autovacuum


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    set_autovacuum("outbox", OUTBOX_AUTOVACUUM)
    set_autovacuum("proposals", HOT_ROWS_AUTOVACUUM)


def downgrade():
    reset_autovacuum("proposals", HOT_ROWS_AUTOVACUUM)
    reset_autovacuum("outbox", OUTBOX_AUTOVACUUM)
