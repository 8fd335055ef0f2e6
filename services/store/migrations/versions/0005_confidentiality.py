"""confidentiality: documents' visibility and publication marks; report handlers; report receipts
kept as digests and out of case titles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00

Existing documents: material uploaded by the applicant's own people stays `public` when it was
already linked to a filed methodology version (the registry showed it: keep it so), else `case`;
everything else (review centre, officers, experts, or an uploader nobody knows) becomes `internal`.
Existing reports: the receipt is replaced by its SHA-256 and the case title no longer carries it.
Audit events already written keep their payloads: the chains are hash-linked and are not rewritten.
"""

import hashlib

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

import services.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False,
                                      server_default="internal"))
        batch_op.add_column(sa.Column("published_at", services.store.tables.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("published_by", sa.Integer(), nullable=True))
    op.execute("""
        UPDATE documents SET visibility = CASE
            WHEN EXISTS (SELECT 1 FROM users u JOIN cases c ON c.id = documents.case_id
                         WHERE u.id = documents.uploaded_by AND u.org_id IS NOT NULL
                           AND u.org_id = c.applicant_org_id)
            THEN CASE WHEN documents.methodology_version_id IS NOT NULL THEN 'public' ELSE 'case' END
            ELSE 'internal' END
    """)

    op.create_table(
        "report_handlers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("assigned_at", services.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", services.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_handlers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_handlers_case_id"), ["case_id"], unique=False)

    conn = op.get_bind()
    with op.batch_alter_table("report_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    identities = sa.table("report_identities", sa.column("case_id", sa.Integer),
                          sa.column("receipt", sa.String), sa.column("receipt_sha256", sa.String))
    for case_id, receipt in conn.execute(sa.select(identities.c.case_id, identities.c.receipt)).all():
        conn.execute(identities.update().where(identities.c.case_id == case_id).values(
            receipt_sha256=hashlib.sha256(receipt.strip().upper().encode()).hexdigest()))
    with op.batch_alter_table("report_identities", schema=None) as batch_op:
        batch_op.alter_column("receipt_sha256", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)
        batch_op.create_unique_constraint("uq_report_identities_receipt_sha256", ["receipt_sha256"])
        batch_op.drop_column("receipt")

    # a report's title named its receipt, and every officer's queue shows titles
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("procedure", sa.String),
                     sa.column("application", sa.JSON))
    for case_id, application in conn.execute(
            sa.select(cases.c.id, cases.c.application).where(cases.c.procedure == "report")).all():
        title = f"举报：{application.get('subject') or f'#{case_id}'}"
        conn.execute(cases.update().where(cases.c.id == case_id).values(application={**application, "title": title}))


def downgrade() -> None:
    # the receipts themselves cannot be recovered from their digests: the digest stands in for them
    with op.batch_alter_table("report_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    op.execute("UPDATE report_identities SET receipt = substr(receipt_sha256, 1, 40)")
    with op.batch_alter_table("report_identities", schema=None) as batch_op:
        batch_op.alter_column("receipt", existing_type=sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False)
        batch_op.drop_constraint("uq_report_identities_receipt_sha256", type_="unique")
        batch_op.drop_column("receipt_sha256")
        batch_op.create_unique_constraint("report_identities_receipt_key", ["receipt"])
    with op.batch_alter_table("report_handlers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_handlers_case_id"))
    op.drop_table("report_handlers")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("published_by")
        batch_op.drop_column("published_at")
        batch_op.drop_column("visibility")
