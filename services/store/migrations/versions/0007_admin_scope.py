"""administrator scopes: the national scope (CN) as a jurisdictions row; calendar loads per scope

The national administrator holds ("admin", "CN"). Every administrator could act system-wide before;
now only the national one can, so whoever administered every jurisdiction becomes national (nobody
gains a power they did not have). A calendar load is the State Council's notice (CN) or one
jurisdiction's own days: `calendar_years` is keyed by (year, jurisdiction); existing loads were
the national notice.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00
"""
import warnings
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NATIONAL = "CN"  # states.spec.NATIONAL, as it was when this migration was written


def upgrade() -> None:
    jurisdictions = sa.table("jurisdictions", sa.column("code", sa.String), sa.column("name_zh", sa.String),
                             sa.column("name_en", sa.String), sa.column("profile", sa.JSON),
                             sa.column("profile_digest", sa.String), sa.column("loaded_at", sa.DateTime))
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    now = datetime.now(UTC)
    if conn.execute(sa.text("SELECT 1 FROM jurisdictions WHERE code = :c"), {"c": NATIONAL}).first() is None:
        op.bulk_insert(jurisdictions, [{"code": NATIONAL, "name_zh": "全国", "name_en": "National", "profile": {},
                                        "profile_digest": "",  # not a profile: no procedure runs nationally
                                        "loaded_at": now.replace(tzinfo=None) if sqlite else now}])
    op.execute(sa.text(
        "INSERT INTO role_grants (user_id, role, jurisdiction) "
        "SELECT user_id, 'admin', :national FROM role_grants WHERE role = 'admin' AND jurisdiction <> :national "
        "GROUP BY user_id "
        "HAVING COUNT(DISTINCT jurisdiction) = (SELECT COUNT(*) FROM jurisdictions WHERE code <> :national)"
    ).bindparams(national=NATIONAL))

    with op.batch_alter_table("calendar_years", schema=None) as batch_op:
        batch_op.add_column(sa.Column("jurisdiction", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False,
                                      server_default=NATIONAL))
    with warnings.catch_warnings(), op.batch_alter_table("calendar_years", schema=None) as batch_op:
        # SQLite rebuilds the table, and SQLAlchemy warns that the new key replaces the one `year` had alone
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_calendar_years' specifies columns", sa.exc.SAWarning)
        batch_op.alter_column("jurisdiction", server_default=None)
        if not sqlite:
            batch_op.drop_constraint("calendar_years_pkey", type_="primary")
        batch_op.create_primary_key("calendar_years_pkey", ["year", "jurisdiction"])
        batch_op.create_foreign_key("calendar_years_jurisdiction_fkey", "jurisdictions", ["jurisdiction"], ["code"])


def downgrade() -> None:
    # a jurisdiction's own days stay in force; only the record of their loads goes
    op.execute(sa.text("DELETE FROM calendar_years WHERE jurisdiction <> :n").bindparams(n=NATIONAL))
    with op.batch_alter_table("calendar_years", schema=None) as batch_op:
        batch_op.drop_constraint("calendar_years_jurisdiction_fkey", type_="foreignkey")
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint("calendar_years_pkey", type_="primary")
        batch_op.create_primary_key("calendar_years_pkey", ["year"])
        batch_op.drop_column("jurisdiction")
    op.execute(sa.text("DELETE FROM role_grants WHERE jurisdiction = :n").bindparams(n=NATIONAL))
    op.execute(sa.text("DELETE FROM web_sessions WHERE jurisdiction = :n").bindparams(n=NATIONAL))
    op.execute(sa.text("DELETE FROM jurisdictions WHERE code = :n").bindparams(n=NATIONAL))
