"""index voters by key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:47:33.641531
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_votes_proposal_key_user', 'votes', ['proposal_id', 'key', 'user_id'], unique=False)


def downgrade():
    op.drop_index('ix_votes_proposal_key_user', table_name='votes')
