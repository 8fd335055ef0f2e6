"""scenario issuance (issue 17): per-user allocations with their Merkle roots, the users' carry, lookup
tokens (SHA-256 only), carbon-point transfers and corrections (Ordos art. 11)

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

import services.store.tables

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
TS = services.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table('scenario_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction', S(length=8), nullable=False),
    sa.Column('period', S(length=10), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('block_t', sa.Integer(), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('reduction_g', sa.BigInteger(), nullable=False),
    sa.Column('allocated_g', sa.BigInteger(), nullable=False),
    sa.Column('carry_g', sa.BigInteger(), nullable=False),
    sa.Column('root', S(length=64), nullable=False),
    sa.Column('path', S(length=500), nullable=False),
    sa.Column('sha256', S(length=64), nullable=False),
    sa.Column('levels_path', S(length=500), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('corrected_g', sa.BigInteger(), nullable=False),
    sa.Column('created_at', TS(timezone=True), nullable=False),
    sa.Column('updated_at', TS(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id'),
    sa.UniqueConstraint('project_id', 'period')
    )
    with op.batch_alter_table('scenario_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_allocations_project_id'), ['project_id'], unique=False)

    op.create_table('scenario_carries',
    sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('path', S(length=500), nullable=False),
    sa.Column('sha256', S(length=64), nullable=False),
    sa.Column('total_g', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', TS(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('scenario_lookup_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', S(length=64), nullable=False),
    sa.Column('token_sha256', S(length=64), nullable=False),
    sa.Column('created_at', TS(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'user_id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('scenario_lookup_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_lookup_tokens_project_id'), ['project_id'], unique=False)

    op.create_table('scenario_point_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('from_user', S(length=64), nullable=False),
    sa.Column('to_user', S(length=64), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', S(length=100), nullable=False),
    sa.Column('at', TS(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'from_user', 'idempotency_key')
    )
    with op.batch_alter_table('scenario_point_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_point_transfers_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scenario_point_transfers_from_user'), ['from_user'], unique=False)
        batch_op.create_index(batch_op.f('ix_scenario_point_transfers_to_user'), ['to_user'], unique=False)

    op.create_table('scenario_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('allocation_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('period', S(length=10), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('reversed_g', sa.BigInteger(), nullable=False),
    sa.Column('cancelled_t', sa.Integer(), nullable=False),
    sa.Column('carried_g', sa.BigInteger(), nullable=False),
    sa.Column('old_root', S(length=64), nullable=False),
    sa.Column('new_root', S(length=64), nullable=False),
    sa.Column('path', S(length=500), nullable=False),
    sa.Column('sha256', S(length=64), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('reason', S(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', TS(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['allocation_id'], ['scenario_allocations.id'], ),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('allocation_id', 'evaluation_id')
    )
    with op.batch_alter_table('scenario_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_corrections_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    for table in ('scenario_corrections', 'scenario_point_transfers', 'scenario_lookup_tokens', 'scenario_carries',
                  'scenario_allocations'):
        op.drop_table(table)
