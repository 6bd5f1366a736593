"""initial notifications schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 17:00:14.705297
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bounces',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('bounced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email')
    )
    op.create_table('campaigns',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('proposal_id', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dedupe_key', sa.String(length=400), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('digest_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('target_key', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key', name='uq_deliveries_dedupe_key')
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.create_index('ix_deliveries_status', 'deliveries', ['status', 'id'], unique=False)
    op.create_index('ix_deliveries_target', 'deliveries', ['target_key', 'next_attempt_at'], unique=False)
    op.create_table('digests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'frequency', 'period_key', name='uq_digests_period')
    )
    op.create_table('fanouts',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('source_index', sa.Integer(), nullable=False),
    sa.Column('cursor', sa.String(length=64), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('written', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_fanouts_open', 'fanouts', ['lease_until'], unique=False, postgresql_where=sa.text('done_at IS NULL'), sqlite_where=sa.text('done_at IS NULL'))
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=1000), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('digest', sa.String(length=10), nullable=True),
    sa.Column('digest_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'user_id', name='uq_notifications_event_user')
    )
    op.create_index('ix_notifications_digest', 'notifications', ['digest_id'], unique=False)
    op.create_index('ix_notifications_digest_pending', 'notifications', ['digest', 'created_at'], unique=False, postgresql_where=sa.text('digest IS NOT NULL AND digest_id IS NULL'), sqlite_where=sa.text('digest IS NOT NULL AND digest_id IS NULL'))
    op.create_index('ix_notifications_unread', 'notifications', ['user_id'], unique=False, postgresql_where=sa.text('read_at IS NULL'), sqlite_where=sa.text('read_at IS NULL'))
    op.create_index('ix_notifications_user', 'notifications', ['user_id', 'id'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('headers', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('ix_outbox_unpublished', 'outbox', ['published_at', 'id'], unique=False)
    op.create_table('preferences',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'kind')
    )
    op.create_table('processed_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'handler')
    )
    op.create_table('proposals',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('author_id', sa.String(length=64), nullable=True),
    sa.Column('question_id', sa.String(length=64), nullable=True),
    sa.Column('content', sa.String(length=500), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('questions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('slug', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('recipients',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('is_moderator', sa.Boolean(), nullable=False),
    sa.Column('moderated_questions', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_index('ix_recipients_email', 'recipients', ['email'], unique=False)
    op.create_index('ix_recipients_moderators', 'recipients', ['is_moderator'], unique=False)
    op.create_table('summary_runs',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'period_key')
    )
    op.create_table('suppressions',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email', 'kind')
    )
    # ### end Alembic commands ###


def downgrade():
    op.drop_table('suppressions')
    op.drop_table('summary_runs')
    op.drop_index('ix_recipients_moderators', table_name='recipients')
    op.drop_index('ix_recipients_email', table_name='recipients')
    op.drop_table('recipients')
    op.drop_table('questions')
    op.drop_table('proposals')
    op.drop_table('processed_events')
    op.drop_table('preferences')
    op.drop_index('ix_outbox_unpublished', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_notifications_user', table_name='notifications')
    op.drop_index('ix_notifications_unread', table_name='notifications', postgresql_where=sa.text('read_at IS NULL'), sqlite_where=sa.text('read_at IS NULL'))
    op.drop_index('ix_notifications_digest_pending', table_name='notifications', postgresql_where=sa.text('digest IS NOT NULL AND digest_id IS NULL'), sqlite_where=sa.text('digest IS NOT NULL AND digest_id IS NULL'))
    op.drop_index('ix_notifications_digest', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_fanouts_open', table_name='fanouts', postgresql_where=sa.text('done_at IS NULL'), sqlite_where=sa.text('done_at IS NULL'))
    op.drop_table('fanouts')
    op.drop_table('digests')
    op.drop_index('ix_deliveries_target', table_name='deliveries')
    op.drop_index('ix_deliveries_status', table_name='deliveries')
    op.drop_index('ix_deliveries_due', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.drop_table('deliveries')
    op.drop_table('campaigns')
    op.drop_table('bounces')
    # ### end Alembic commands ###
