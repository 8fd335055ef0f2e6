"""seed rules (issue 16, part two): disqualifications (Jiaxing art. 26) and issued blocks' declarations
and double-claim findings (Ordos art. 17, Shanghai art. 14)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:45:00
"""
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

import services.store.tables

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disqualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('at', services.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['jurisdiction'], ['jurisdictions.code'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'jurisdiction')
    )
    op.create_index(op.f('ix_disqualifications_org_id'), 'disqualifications', ['org_id'], unique=False)
    op.create_table('block_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_entry_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('serial', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('declaration', sa.JSON(), nullable=False),
    sa.Column('claimed_in', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('finding', sa.JSON(), nullable=False),
    sa.Column('freeze_entry_id', sa.Integer(), nullable=True),
    sa.Column('unfreeze_entry_id', sa.Integer(), nullable=True),
    sa.Column('rectification_case_id', sa.Integer(), nullable=True),
    sa.Column('found_at', services.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['freeze_entry_id'], ['ledger_entries.id'], ),
    sa.ForeignKeyConstraint(['issue_entry_id'], ['ledger_entries.id'], ),
    sa.ForeignKeyConstraint(['unfreeze_entry_id'], ['ledger_entries.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.ForeignKeyConstraint(['rectification_case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issue_entry_id')
    )
    op.create_index(op.f('ix_block_claims_jurisdiction'), 'block_claims', ['jurisdiction'], unique=False)
    op.create_index(op.f('ix_block_claims_project_id'), 'block_claims', ['project_id'], unique=False)
    op.create_index(op.f('ix_block_claims_serial'), 'block_claims', ['serial'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_block_claims_serial'), table_name='block_claims')
    op.drop_index(op.f('ix_block_claims_project_id'), table_name='block_claims')
    op.drop_index(op.f('ix_block_claims_jurisdiction'), table_name='block_claims')
    op.drop_table('block_claims')
    op.drop_index(op.f('ix_disqualifications_org_id'), table_name='disqualifications')
    op.drop_table('disqualifications')
