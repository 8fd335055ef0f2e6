"""Migrations: one head, and the migrated schema is exactly the tables' (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from services.store.engine import Database
from services.store.migrate import alembic_config
from services.store.tables import CalendarYear, Jurisdiction
from states.spec import NATIONAL
from tests.conftest import PG

pytestmark = pytest.mark.integration


def test_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_migrated_schema_matches_the_tables(db: Database) -> None:
    with db.writer.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


@pytest.fixture
def empty(tmp_path) -> Iterator[Database]:
    """A database with no schema at all (its own PostgreSQL schema, or a new SQLite file)."""
    if not PG:
        database = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield database
        database.dispose()
        return
    name = f"t_migrate_{os.getpid()}"
    admin = sa.create_engine(Database(os.environ["DATABASE_URL"]).url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")
    database = Database(os.environ["DATABASE_URL"], schema=name)
    yield database
    database.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    admin.dispose()


def test_0007_makes_whoever_administered_everything_national_and_keeps_calendar_loads(empty: Database) -> None:
    cfg = alembic_config()
    with empty.writer.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        now = "2026-01-05 01:00:00"
        for code in ("SH", "BJ"):
            conn.execute(sa.text("INSERT INTO jurisdictions (code, name_zh, name_en, profile, profile_digest, "
                                 "loaded_at) VALUES (:c, :c, :c, '{}', 'x', :t)"), {"c": code, "t": now})
        for uid, name, places in ((1, "everywhere", ("SH", "BJ")), (2, "shanghai", ("SH",))):
            conn.execute(sa.text("INSERT INTO users (id, username, display_name, expert_fields, active, created_at) "
                                 "VALUES (:i, :n, :n, '[]', :a, :t)"), {"i": uid, "n": name, "a": True, "t": now})
            for place in places:
                conn.execute(sa.text("INSERT INTO role_grants (user_id, role, jurisdiction) VALUES (:i, 'admin', :j)"),
                             {"i": uid, "j": place})
        conn.execute(sa.text("INSERT INTO calendar_years (year, source, loaded_at, revision) "
                             "VALUES (2027, '国办发明电〔2027〕1号', :t, 2)"), {"t": now})
        command.upgrade(cfg, "head")
        grants = conn.execute(sa.text("SELECT user_id, jurisdiction FROM role_grants WHERE jurisdiction = 'CN'")).all()
        years = conn.execute(sa.text("SELECT year, jurisdiction, revision FROM calendar_years")).all()
        conn.commit()
    assert [tuple(g) for g in grants] == [(1, "CN")]  # only the one who administered every jurisdiction
    assert [tuple(y) for y in years] == [(2027, "CN", 2)]  # the loads before were the State Council's
    with empty.read() as s:
        assert s.get(CalendarYear, (2027, NATIONAL)).source == "国办发明电〔2027〕1号"
        assert s.get(Jurisdiction, NATIONAL).name_en == "National"
