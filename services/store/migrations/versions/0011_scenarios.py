"""scenario data (issue 17): feeds (the submission credential), batches (metadata of the files under
SCENARIO_DATA_DIR), verification reports, and a methodology version's quantification as data

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:27:37.622094
"""
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

import services.store.tables

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scenario_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('batch_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('declared_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('raw_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('accepted_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('accepted_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rejected_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_accepted', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.Column('rejections', sa.JSON(), nullable=False),
    sa.Column('received_at', services.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'kind', 'batch_id')
    )
    with op.batch_alter_table('scenario_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_batches_project_id'), ['project_id'], unique=False)

    op.create_table('scenario_feeds',
    sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('jurisdiction', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('token_issued_at', services.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', services.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('project_id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_table('scenario_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('engine', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('users_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('users_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', services.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scenario_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_reports_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('methodology_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quantification', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('methodology_versions', schema=None) as batch_op:
        batch_op.drop_column('quantification')

    with op.batch_alter_table('scenario_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scenario_reports_project_id'))

    op.drop_table('scenario_reports')
    op.drop_table('scenario_feeds')
    with op.batch_alter_table('scenario_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scenario_batches_project_id'))

    op.drop_table('scenario_batches')
