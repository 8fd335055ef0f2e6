"""transparency log: leaves, subtree hashes, signed heads, the sequencer's state row; the queue
columns (`log_seq`) on audit events and ledger entries

Existing events and entries get log_seq NULL: the sequencer's first run puts them all in the log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:00:00
"""
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

import services.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNLOGGED = sa.text("log_seq IS NULL")


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("log_leaves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_leaves_leaf_hash"), ["leaf_hash"], unique=False)
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "log_heads",
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("timestamp", services.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for table in ("audit_events", "ledger_entries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("log_seq", sa.Integer(), nullable=True))
            batch_op.create_index(f"ix_{table}_unlogged", ["id"], unique=False, postgresql_where=UNLOGGED,
                                  sqlite_where=UNLOGGED)


def downgrade() -> None:
    for table in ("ledger_entries", "audit_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_unlogged", postgresql_where=UNLOGGED, sqlite_where=UNLOGGED)
            batch_op.drop_column("log_seq")
    op.drop_table("log_state")
    op.drop_table("log_heads")
    op.drop_table("log_nodes")
    with op.batch_alter_table("log_leaves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_leaves_leaf_hash"))
    op.drop_table("log_leaves")
