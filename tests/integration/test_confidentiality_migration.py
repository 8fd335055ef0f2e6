"""Migration 0005 moves existing rows sensibly: documents get the visibility they effectively had
(the applicant's material already published with a filed methodology stays public, the rest of the
applicant's is `case`, everything else `internal`), report receipts become digests and leave the
case titles."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from services.store.engine import Database
from services.store.migrate import alembic_config
from tests.conftest import PG

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 1, 0)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Database]:
    """An empty database of its own (a schema of its own on PostgreSQL)."""
    if PG:
        schema = f"t_mig_{os.getpid()}"
        admin = sa.create_engine(Database(os.environ["DATABASE_URL"]).url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        db = Database(os.environ["DATABASE_URL"], schema=schema)
        yield db
        db.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
        return
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    yield db
    db.dispose()


def _migrate(db: Database, revision: str) -> None:
    cfg = alembic_config()
    with db.writer.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def test_existing_documents_and_reports_are_moved(fresh: Database) -> None:
    _migrate(fresh, "0004")
    with fresh.writer.begin() as conn:
        meta = sa.MetaData()
        t = {name: sa.Table(name, meta, autoload_with=conn) for name in (
            "jurisdictions", "organisations", "users", "cases", "methodology_versions", "documents",
            "report_identities")}
        conn.execute(t["jurisdictions"].insert(), [{"code": "SD", "name_zh": "山东", "name_en": "Shandong",
                                                    "profile": {}, "profile_digest": "0", "loaded_at": NOW}])
        conn.execute(t["organisations"].insert(), [{"id": 1, "uscc": "91310000MA0000001X", "name": "申请单位",
                                                    "created_at": NOW}])
        conn.execute(t["users"].insert(), [
            {"id": 1, "username": "applicant", "display_name": "申请人", "org_id": 1, "expert_fields": [],
             "active": True, "created_at": NOW},
            {"id": 2, "username": "officer", "display_name": "经办人", "org_id": None, "expert_fields": [],
             "active": True, "created_at": NOW}])
        case = {"procedure": "methodology_filing", "jurisdiction": "SD", "state": "filed", "version": 9,
                "subject_kind": "scenario", "applicant_org_id": 1, "created_at": NOW, "updated_at": NOW,
                "audit_seq": 0, "audit_hash": "0" * 64}
        conn.execute(t["cases"].insert(), [
            {**case, "id": 1, "application": {"title": "已备案的方法学"}},
            {**case, "id": 2, "state": "draft", "application": {"title": "草稿"}},
            {**case, "id": 3, "procedure": "report", "state": "received", "subject_kind": "report",
             "applicant_org_id": None, "application": {"title": "举报 RPT-20260302-ABCD1234", "subject": "某项目"}}])
        conn.execute(t["methodology_versions"].insert(), [{
            "id": 1, "jurisdiction": "SD", "code": "SD-M-1", "version": "1.0", "title": "方法学", "kind": "scenario",
            "scope": "", "summary": "", "parameters": [], "status": "filed", "case_id": 1}])
        doc = {"content_type": "application/pdf", "size": 4, "sha256": "0" * 64, "data": b"%PDF",
               "uploaded_at": NOW}
        conn.execute(t["documents"].insert(), [
            {**doc, "id": 1, "case_id": 1, "methodology_version_id": 1, "name": "方法学文本", "uploaded_by": 1},
            {**doc, "id": 2, "case_id": 1, "methodology_version_id": 1, "name": "技术评估意见", "uploaded_by": 2},
            {**doc, "id": 3, "case_id": 2, "methodology_version_id": None, "name": "申请书", "uploaded_by": 1},
            {**doc, "id": 4, "case_id": 2, "methodology_version_id": None, "name": "无名", "uploaded_by": None}])
        conn.execute(t["report_identities"].insert(), [{
            "case_id": 3, "receipt": "RPT-20260302-ABCD1234", "secret_sha256": "1" * 64, "name": "甲", "contact": "x"}])

    _migrate(fresh, "head")
    with fresh.writer.connect() as conn:
        visibility = dict(conn.execute(sa.text("SELECT name, visibility FROM documents")).all())
        identity = conn.execute(sa.text("SELECT * FROM report_identities")).mappings().one()
        titles = dict(conn.execute(sa.text("SELECT id, application FROM cases")).all())
    assert visibility == {"方法学文本": "public", "技术评估意见": "internal", "申请书": "case", "无名": "internal"}
    assert "receipt" not in identity
    assert identity["receipt_sha256"] == hashlib.sha256(b"RPT-20260302-ABCD1234").hexdigest()
    application = titles[3] if isinstance(titles[3], dict) else json.loads(titles[3])
    assert application["title"] == "举报：某项目" and application["subject"] == "某项目"
