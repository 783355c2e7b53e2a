"""roster and jobs

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 18:11:54.931092
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('districts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts')),
    sa.UniqueConstraint('name', name=op.f('uq_districts_name'))
    )
    op.create_table('educators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('username', sa.String(length=254), nullable=False),
    sa.Column('username_key', sa.String(length=254), nullable=False),
    sa.Column('educator_type', sa.String(length=10), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_educators_district_id_districts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_educators')),
    sa.UniqueConstraint('district_id', 'username_key', name=op.f('uq_educators_district_id_username_key'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('input_key', sa.String(length=500), nullable=True),
    sa.Column('result_key', sa.String(length=500), nullable=True),
    sa.Column('error_report_key', sa.String(length=500), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('checkpoint', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_jobs_district_id_districts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_district_created', ['district_id', 'created_at'], unique=False)
        batch_op.create_index('ix_jobs_status_created', ['status', 'created_at'], unique=False)

    op.create_table('purchased_products',
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('product', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_purchased_products_district_id_districts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('district_id', 'product', name=op.f('pk_purchased_products'))
    )
    op.create_table('schools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_schools_district_id_districts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schools')),
    sa.UniqueConstraint('district_id', 'name', name=op.f('uq_schools_district_id_name'))
    )
    op.create_table('students',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('username_key', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('grade', sa.String(length=2), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('gender', sa.String(length=1), nullable=True),
    sa.Column('race', sa.String(length=100), nullable=True),
    sa.Column('hispanic_or_latino', sa.Boolean(), nullable=True),
    sa.Column('english_learner', sa.Boolean(), nullable=True),
    sa.Column('special_education', sa.Boolean(), nullable=True),
    sa.Column('economically_disadvantaged', sa.Boolean(), nullable=True),
    sa.Column('home_language', sa.String(length=100), nullable=True),
    sa.Column('test_text_to_speech', sa.Boolean(), nullable=True),
    sa.Column('test_extended_time', sa.Boolean(), nullable=True),
    sa.Column('access_ill', sa.Boolean(), nullable=False),
    sa.Column('access_espanol', sa.Boolean(), nullable=False),
    sa.Column('access_reading', sa.Boolean(), nullable=False),
    sa.Column('access_lectura', sa.Boolean(), nullable=False),
    sa.Column('access_galileo', sa.Boolean(), nullable=False),
    sa.Column('access_mypath', sa.Boolean(), nullable=False),
    sa.Column('access_science', sa.Boolean(), nullable=False),
    sa.Column('access_purpose', sa.Boolean(), nullable=False),
    sa.Column('session_time', sa.SmallInteger(), nullable=True),
    sa.Column('ill_language_support', sa.String(length=40), nullable=True),
    sa.Column('espanol_language_support', sa.String(length=40), nullable=True),
    sa.Column('reading_audio_support', sa.Boolean(), nullable=True),
    sa.Column('lectura_audio_support', sa.Boolean(), nullable=True),
    sa.Column('mypath_language', sa.String(length=40), nullable=True),
    sa.Column('science_language', sa.String(length=40), nullable=True),
    sa.Column('purpose_language', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_students_district_id_districts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_students')),
    sa.UniqueConstraint('district_id', 'external_id', name=op.f('uq_students_district_id_external_id')),
    sa.UniqueConstraint('district_id', 'username_key', name=op.f('uq_students_district_id_username_key'))
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index('ix_students_district_grade', ['district_id', 'grade'], unique=False)

    op.create_table('classes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_classes_district_id_districts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_classes_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_classes')),
    sa.UniqueConstraint('district_id', 'name_key', name=op.f('uq_classes_district_id_name_key'))
    )
    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_classes_school_id'), ['school_id'], unique=False)

    op.create_table('educator_schools',
    sa.Column('educator_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['educator_id'], ['educators.id'], name=op.f('fk_educator_schools_educator_id_educators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_educator_schools_school_id_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('educator_id', 'school_id', name=op.f('pk_educator_schools'))
    )
    with op.batch_alter_table('educator_schools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_educator_schools_school_id'), ['school_id'], unique=False)

    op.create_table('student_schools',
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_student_schools_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_student_schools_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('student_id', 'school_id', name=op.f('pk_student_schools'))
    )
    with op.batch_alter_table('student_schools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_student_schools_school_id'), ['school_id'], unique=False)

    op.create_table('class_educators',
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('educator_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_educators_class_id_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['educator_id'], ['educators.id'], name=op.f('fk_class_educators_educator_id_educators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('class_id', 'educator_id', name=op.f('pk_class_educators'))
    )
    with op.batch_alter_table('class_educators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_educators_educator_id'), ['educator_id'], unique=False)

    op.create_table('class_products',
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('product', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_products_class_id_classes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('class_id', 'product', name=op.f('pk_class_products'))
    )
    op.create_table('class_students',
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_students_class_id_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_class_students_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('class_id', 'student_id', name=op.f('pk_class_students'))
    )
    with op.batch_alter_table('class_students', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_students_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('class_students', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_students_student_id'))

    op.drop_table('class_students')
    op.drop_table('class_products')
    with op.batch_alter_table('class_educators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_educators_educator_id'))

    op.drop_table('class_educators')
    with op.batch_alter_table('student_schools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_student_schools_school_id'))

    op.drop_table('student_schools')
    with op.batch_alter_table('educator_schools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_educator_schools_school_id'))

    op.drop_table('educator_schools')
    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_classes_school_id'))

    op.drop_table('classes')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index('ix_students_district_grade')

    op.drop_table('students')
    op.drop_table('schools')
    op.drop_table('purchased_products')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_created')
        batch_op.drop_index('ix_jobs_district_created')

    op.drop_table('jobs')
    op.drop_table('educators')
    op.drop_table('districts')
