"""documents by type: `documents.kind` (the catalogue's `doc_kind.<key>`), for the applicant's
checklist and the documents a submission requires (profile `[documents]`). Existing rows keep none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:40:00
"""
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("kind")
