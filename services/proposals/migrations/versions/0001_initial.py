"""initial proposals schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 16:01:16.219414
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # trigram similarity for likely duplicates (needs a role allowed to create it)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
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
    op.create_table('questions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('votes_target', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_index('ix_questions_country_dates', 'questions', ['country', 'starts_at', 'ends_at'], unique=False)
    op.create_table('proposals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('question_id', sa.String(length=36), nullable=False),
    sa.Column('author_id', sa.String(length=36), nullable=False),
    sa.Column('content', sa.String(length=500), nullable=False),
    sa.Column('original_content', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('refusal_reason', sa.String(length=40), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('search_vector', postgresql.TSVECTOR().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('moderated_by', sa.String(length=36), nullable=True),
    sa.Column('locked_by', sa.String(length=36), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_proposals_author', 'proposals', ['author_id'], unique=False)
    op.create_index('ix_proposals_content_trgm', 'proposals', ['content'], unique=False, postgresql_using='gin', postgresql_ops={'content': 'gin_trgm_ops'})
    op.create_index('ix_proposals_question_status_created', 'proposals', ['question_id', 'status', 'created_at'], unique=False)
    op.create_index('ix_proposals_search', 'proposals', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_index('ix_proposals_status_created', 'proposals', ['status', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_proposals_status_created', table_name='proposals')
    op.drop_index('ix_proposals_search', table_name='proposals', postgresql_using='gin')
    op.drop_index('ix_proposals_question_status_created', table_name='proposals')
    op.drop_index('ix_proposals_content_trgm', table_name='proposals', postgresql_using='gin', postgresql_ops={'content': 'gin_trgm_ops'})
    op.drop_index('ix_proposals_author', table_name='proposals')
    op.drop_table('proposals')
    op.drop_index('ix_questions_country_dates', table_name='questions')
    op.drop_table('questions')
    op.drop_table('processed_events')
    op.drop_index('ix_outbox_unpublished', table_name='outbox')
    op.drop_table('outbox')
