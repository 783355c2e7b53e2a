"""import results and changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:23:04.306211
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=200), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_import_changes_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_changes'))
    )
    with op.batch_alter_table('import_changes', schema=None) as batch_op:
        batch_op.create_index('ix_import_changes_job', ['job_id', 'record_id'], unique=False)

    op.create_table('import_row_results',
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('claimed_name', sa.String(length=254), nullable=True),
    sa.Column('claimed_external_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_import_row_results_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'row_number', name=op.f('pk_import_row_results'))
    )
    with op.batch_alter_table('import_row_results', schema=None) as batch_op:
        batch_op.create_index('ix_import_row_results_external_id', ['job_id', 'claimed_external_id'], unique=False)
        batch_op.create_index('ix_import_row_results_record', ['job_id', 'record_id'], unique=False)
        batch_op.create_index('ix_import_row_results_name', ['job_id', 'claimed_name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('import_row_results', schema=None) as batch_op:
        batch_op.drop_index('ix_import_row_results_name')
        batch_op.drop_index('ix_import_row_results_record')
        batch_op.drop_index('ix_import_row_results_external_id')

    op.drop_table('import_row_results')
    with op.batch_alter_table('import_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_import_changes_job')

    op.drop_table('import_changes')
