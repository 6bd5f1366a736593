"""fewer index entries per fan-out row: the digest_id and target_key indexes only hold
the rows that have one (a new inbox row has no digest yet; a user's e-mail has no target)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_notifications_digest', table_name='notifications')
    op.create_index('ix_notifications_digest', 'notifications', ['digest_id'], unique=False,
                    postgresql_where=sa.text('digest_id IS NOT NULL'), sqlite_where=sa.text('digest_id IS NOT NULL'))
    op.drop_index('ix_deliveries_target', table_name='deliveries')
    op.create_index('ix_deliveries_target', 'deliveries', ['target_key', 'next_attempt_at'], unique=False,
                    postgresql_where=sa.text('target_key IS NOT NULL'),
                    sqlite_where=sa.text('target_key IS NOT NULL'))


def downgrade():
    op.drop_index('ix_deliveries_target', table_name='deliveries', postgresql_where=sa.text('target_key IS NOT NULL'),
                  sqlite_where=sa.text('target_key IS NOT NULL'))
    op.create_index('ix_deliveries_target', 'deliveries', ['target_key', 'next_attempt_at'], unique=False)
    op.drop_index('ix_notifications_digest', table_name='notifications',
                  postgresql_where=sa.text('digest_id IS NOT NULL'), sqlite_where=sa.text('digest_id IS NOT NULL'))
    op.create_index('ix_notifications_digest', 'notifications', ['digest_id'], unique=False)
