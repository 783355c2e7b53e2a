"""commit a dry run, revert an import, prune old history

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 23:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_job_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('committed_by_job_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('reverted_by_job_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('history_pruned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_jobs_source_job_id', ['source_job_id'], unique=False)
        batch_op.create_index('ix_jobs_history_kept', ['kind', 'history_pruned_at', 'finished_at'], unique=False)
    with op.batch_alter_table('import_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('old_hash', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('new_hash', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_changes', schema=None) as batch_op:
        batch_op.drop_column('new_hash')
        batch_op.drop_column('old_hash')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_history_kept')
        batch_op.drop_index('ix_jobs_source_job_id')
        batch_op.drop_column('history_pruned_at')
        batch_op.drop_column('reverted_by_job_id')
        batch_op.drop_column('committed_by_job_id')
        batch_op.drop_column('source_job_id')
