"""initial commitments schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 16:31:31.418957
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('actors',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('party', sa.String(length=200), nullable=True),
    sa.Column('mandate', sa.String(length=200), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('constituency', sa.String(length=200), nullable=True),
    sa.Column('contact_emails', sa.JSON(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    op.create_index('ix_actors_country_level_kind', 'actors', ['country', 'level', 'kind'], unique=False)
    op.create_index('ix_actors_name', 'actors', ['name'], unique=False)
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
    op.create_table('processed_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'handler')
    )
    op.create_table('commitments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('actor_id', sa.String(length=36), nullable=False),
    sa.Column('proposal_id', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('source_response_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_response_id')
    )
    op.create_index('ix_commitments_actor_made', 'commitments', ['actor_id', 'made_at'], unique=False)
    op.create_index('ix_commitments_campaign', 'commitments', ['campaign_id'], unique=False)
    op.create_index('ix_commitments_country_made', 'commitments', ['country', 'made_at'], unique=False)
    op.create_index('ix_commitments_made', 'commitments', ['made_at'], unique=False)
    op.create_index('ix_commitments_proposal', 'commitments', ['proposal_id'], unique=False)
    op.create_index('ix_commitments_status_made', 'commitments', ['status', 'made_at'], unique=False)
    op.create_table('commitment_timeline',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('commitment_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('previous_status', sa.String(length=16), nullable=True),
    sa.Column('evidence_url', sa.String(length=2000), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('changed_by', sa.String(length=64), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['commitment_id'], ['commitments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_commitment_timeline_commitment', 'commitment_timeline', ['commitment_id', 'changed_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_commitment_timeline_commitment', table_name='commitment_timeline')
    op.drop_table('commitment_timeline')
    op.drop_index('ix_commitments_status_made', table_name='commitments')
    op.drop_index('ix_commitments_proposal', table_name='commitments')
    op.drop_index('ix_commitments_made', table_name='commitments')
    op.drop_index('ix_commitments_country_made', table_name='commitments')
    op.drop_index('ix_commitments_campaign', table_name='commitments')
    op.drop_index('ix_commitments_actor_made', table_name='commitments')
    op.drop_table('commitments')
    op.drop_table('processed_events')
    op.drop_index('ix_outbox_unpublished', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_actors_name', table_name='actors')
    op.drop_index('ix_actors_country_level_kind', table_name='actors')
    op.drop_table('actors')
