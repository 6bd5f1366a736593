"""upper confidence bounds, ranking page indexes, sequence pool indexes, accepted counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:30:00
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('proposals', sa.Column('top_score_ub', sa.Float(), nullable=False, server_default='10.0'))
    op.add_column('proposals', sa.Column('controversy_ub', sa.Float(), nullable=False, server_default='10.0'))
    # the server defaults stay: pods of the previous release insert proposals without them
    # backfill the bounds from the stored trusted counts (the service's own scorer)
    from services.voting import scoring
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, counts FROM proposals")).all()
    updates = []
    for pid, counts in rows:
        counts = json.loads(counts) if isinstance(counts, str) else counts
        s = scoring.scores((counts or {}).get("trusted") or {})
        updates.append({"pid": pid, "top": s["top_score"].upper, "contro": s["controversy"].upper})
    if updates:
        conn.execute(sa.text("UPDATE proposals SET top_score_ub = :top, controversy_ub = :contro WHERE id = :pid"),
                     updates)

    op.create_table('question_stats',
    sa.Column('question_id', sa.String(length=36), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('question_id')
    )
    op.execute("INSERT INTO question_stats (question_id, accepted) SELECT question_id, count(*) FROM proposals "
               "WHERE status = 'accepted' GROUP BY question_id")

    op.drop_index('ix_vproposals_popular', table_name='proposals')
    op.drop_index('ix_vproposals_controversial', table_name='proposals')
    op.create_index('ix_vproposals_popular_page', 'proposals',
                    ['question_id', 'status', sa.text('top_score_lb DESC'), sa.text('created_at DESC'), 'id'],
                    postgresql_include=['controversy_lb', 'zone', 'votes_trusted'])
    op.create_index('ix_vproposals_controversial_page', 'proposals',
                    ['question_id', 'status', sa.text('controversy_lb DESC'), sa.text('created_at DESC'), 'id'],
                    postgresql_include=['top_score_lb', 'zone', 'votes_trusted'])
    op.create_index('ix_vproposals_new', 'proposals', ['question_id', 'created_at', 'id'],
                    postgresql_where=sa.text("status = 'accepted' AND votes_sequence < 10"))
    op.create_index('ix_vproposals_top_ub', 'proposals', ['question_id', 'status', sa.text('top_score_ub DESC')])
    op.create_index('ix_vproposals_controversy_ub', 'proposals',
                    ['question_id', 'status', sa.text('controversy_ub DESC')])


def downgrade():
    op.drop_index('ix_vproposals_controversy_ub', table_name='proposals')
    op.drop_index('ix_vproposals_top_ub', table_name='proposals')
    op.drop_index('ix_vproposals_new', table_name='proposals')
    op.drop_index('ix_vproposals_controversial_page', table_name='proposals')
    op.drop_index('ix_vproposals_popular_page', table_name='proposals')
    op.create_index('ix_vproposals_controversial', 'proposals', ['question_id', 'status', 'controversy_lb'])
    op.create_index('ix_vproposals_popular', 'proposals', ['question_id', 'status', 'top_score_lb'])
    op.drop_table('question_stats')
    op.drop_column('proposals', 'controversy_ub')
    op.drop_column('proposals', 'top_score_ub')
