"""timers: one index on (case_id, status) for the case's pending timers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:30:00
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_case", ["case_id", "status"], unique=False)
        batch_op.drop_index("ix_timers_case_id")


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_case_id", ["case_id"], unique=False)
        batch_op.drop_index("ix_timers_case")
