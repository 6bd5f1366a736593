"""full-text search within a question: one GIN index on (question_id, search_vector) for
accepted proposals (btree_gin), instead of a GIN index on search_vector ANDed with the
(question_id, status, created_at) btree, whose bitmap spans the whole question

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # no text search column to index elsewhere
    # btree_gin: a varchar column in a GIN index (a trusted extension, like pg_trgm)
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_index('ix_proposals_question_search', 'proposals', ['question_id', 'search_vector'], unique=False,
                    postgresql_using='gin', postgresql_where=sa.text("status = 'accepted'"))
    op.drop_index('ix_proposals_search', table_name='proposals')


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index('ix_proposals_search', 'proposals', ['search_vector'], unique=False, postgresql_using='gin')
    op.drop_index('ix_proposals_question_search', table_name='proposals')
