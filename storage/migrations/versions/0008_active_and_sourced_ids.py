"""active flag and OneRoster sourcedIds

Students, educators and classes gain `active` (true for every existing row): a deactivated
record leaves exports but keeps its usernames and IDs reserved and its history. Districts,
schools, students, educators and classes gain `sourced_id`, the OneRoster sourcedId an SIS
gave the record (NULL when it came from nowhere else), unique per district where set. Jobs
gain `counts_by_file` (a OneRoster import's counts, file by file).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_ACTIVE = ('students', 'educators', 'classes')
_SOURCED = ('schools', 'students', 'educators', 'classes')


def upgrade() -> None:
    op.add_column('jobs', sa.Column('counts_by_file', sa.JSON(), nullable=True))
    for table in _ACTIVE:
        op.add_column(
            table, sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.add_column('districts', sa.Column('sourced_id', sa.String(length=255), nullable=True))
    for table in _SOURCED:
        op.add_column(table, sa.Column('sourced_id', sa.String(length=255), nullable=True))
        op.create_index(
            f'uq_{table}_district_sourced_id', table, ['district_id', 'sourced_id'], unique=True
        )


def downgrade() -> None:
    for table in _SOURCED:
        op.drop_index(f'uq_{table}_district_sourced_id', table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('sourced_id')
    with op.batch_alter_table('districts') as batch_op:
        batch_op.drop_column('sourced_id')
    for table in _ACTIVE:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('active')
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_column('counts_by_file')
