"""incidents: at most one open or acknowledged incident per key (the detector's de-duplication holds
even when two detectors run at once); on PostgreSQL, a new outbox row or timer wakes the hand-off loop
(`NOTIFY carbon_wake`, sent when the inserting transaction commits, and when a timer is moved;
flows/handoff.py listens)

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-02 04:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status <> 'resolved'")


WAKE = """
CREATE OR REPLACE FUNCTION carbon_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('carbon_wake', TG_TABLE_NAME);
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION carbon_wake();
CREATE TRIGGER timers_wake AFTER INSERT OR UPDATE OF fire_at ON timers FOR EACH STATEMENT
  EXECUTE FUNCTION carbon_wake();
"""


def upgrade() -> None:
    op.create_index("ux_incidents_active_key", "incidents", ["key"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(WAKE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS outbox_wake ON outbox; DROP TRIGGER IF EXISTS timers_wake ON timers; "
                   "DROP FUNCTION IF EXISTS carbon_wake()")
    op.drop_index("ux_incidents_active_key", table_name="incidents")
