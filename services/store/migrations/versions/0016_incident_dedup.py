"""incidents: at most one open or acknowledged incident per key (the detector's de-duplication holds
even when two detectors run at once)

Revision ID: 0016
Revises: 0011 (the brief says 0015: re-chained at merge)
Create Date: 2026-12-02 04:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status <> 'resolved'")


def upgrade() -> None:
    op.create_index("ux_incidents_active_key", "incidents", ["key"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("ux_incidents_active_key", table_name="incidents")
