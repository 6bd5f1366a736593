"""initial voting schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 16:08:10.135213
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('milestones',
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('milestone', sa.Integer(), nullable=False),
    sa.Column('reached_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'subject_id', 'milestone')
    )
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
    op.create_table('proposals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('question_id', sa.String(length=36), nullable=False),
    sa.Column('author_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('votes_all', sa.Integer(), nullable=False),
    sa.Column('votes_trusted', sa.Integer(), nullable=False),
    sa.Column('votes_sequence', sa.Integer(), nullable=False),
    sa.Column('top_score', sa.Float(), nullable=False),
    sa.Column('top_score_lb', sa.Float(), nullable=False),
    sa.Column('controversy_lb', sa.Float(), nullable=False),
    sa.Column('zone', sa.String(length=16), nullable=False),
    sa.Column('emerged_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_vproposals_controversial', 'proposals', ['question_id', 'status', 'controversy_lb'], unique=False)
    op.create_index('ix_vproposals_created', 'proposals', ['question_id', 'status', 'created_at'], unique=False)
    op.create_index('ix_vproposals_popular', 'proposals', ['question_id', 'status', 'top_score_lb'], unique=False)
    op.create_table('question_counters',
    sa.Column('question_id', sa.String(length=36), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('votes', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('question_id', 'shard')
    )
    op.create_table('questions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('votes_target', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('votes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('proposal_id', sa.String(length=36), nullable=False),
    sa.Column('question_id', sa.String(length=36), nullable=False),
    sa.Column('voter', sa.String(length=80), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('key', sa.String(length=10), nullable=False),
    sa.Column('qualifications', sa.JSON(), nullable=False),
    sa.Column('trusted', sa.Boolean(), nullable=False),
    sa.Column('sequence', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('proposal_id', 'voter', name='uq_votes_proposal_voter')
    )
    op.create_index('ix_votes_voter_question', 'votes', ['voter', 'question_id'], unique=False)


def downgrade():
    op.drop_index('ix_votes_voter_question', table_name='votes')
    op.drop_table('votes')
    op.drop_table('questions')
    op.drop_table('question_counters')
    op.drop_index('ix_vproposals_popular', table_name='proposals')
    op.drop_index('ix_vproposals_created', table_name='proposals')
    op.drop_index('ix_vproposals_controversial', table_name='proposals')
    op.drop_table('proposals')
    op.drop_table('processed_events')
    op.drop_index('ix_outbox_unpublished', table_name='outbox')
    op.drop_table('outbox')
    op.drop_table('milestones')
