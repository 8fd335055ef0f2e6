"""safe retries: one transfer per exchange reference; certificate numbers from a locked counter

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 06:00:00
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NUMBER = re.compile(r"^(?P<j>[A-Z]+)-RET-(?P<y>\d{4})-(?P<n>\d+)$")


def upgrade() -> None:
    op.create_index("ux_ledger_transfer_reference", "ledger_entries", ["jurisdiction", "reference"], unique=True,
                    postgresql_where=sa.text("kind = 'transfer'"), sqlite_where=sa.text("kind = 'transfer'"))
    # Certificates were numbered by counting a jurisdiction's certificates; the counter continues from
    # the highest number of each (jurisdiction, year) so no number is handed out twice.
    conn = op.get_bind()
    last: dict[tuple[str, int], int] = {}
    for (number,) in conn.execute(sa.text("SELECT number FROM certificates")):
        m = NUMBER.match(number)
        if m:
            key = (m["j"], int(m["y"]))
            last[key] = max(last.get(key, 0), int(m["n"]))
    counters = sa.table("registration_counters", sa.column("jurisdiction", sa.String), sa.column("year", sa.Integer),
                        sa.column("kind", sa.String), sa.column("last", sa.Integer))
    if last:
        op.bulk_insert(counters, [{"jurisdiction": j, "year": y, "kind": "RET", "last": n}
                                  for (j, y), n in sorted(last.items())])


def downgrade() -> None:
    op.execute("DELETE FROM registration_counters WHERE kind = 'RET'")
    op.drop_index("ux_ledger_transfer_reference", table_name="ledger_entries")
