"""Test fixtures: the database (SQLite by default, PostgreSQL when DATABASE_URL says so), the test
clock and the seeded people. The same suite runs against both databases."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from services.bootstrap import setup
from services.demo import Driver, seed_people
from services.engine import workdays
from services.engine.clock import clock
from services.store.engine import Database

SHANGHAI = ZoneInfo("Asia/Shanghai")
PG = (os.environ.get("DATABASE_URL") or "").startswith(("postgresql", "postgres"))


def at(text: str) -> datetime:
    """`2026-03-02 09:00` in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def test_clock() -> Iterator:
    clock.set(at("2026-03-02 09:00"))  # a Monday, no holiday near
    yield clock
    clock.release()


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[object]:
    """Migrated and seeded once per session (per xdist worker)."""
    if PG:
        # the process id too: two runs on one server (a developer's and CI's) must not share a schema
        schema = f"t_{worker_id}_{os.getpid()}".replace("-", "_")
        admin = sa.create_engine(Database(os.environ["DATABASE_URL"]).url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        admin.dispose()
        db = Database(os.environ["DATABASE_URL"], schema=schema)
        clock.set(at("2026-01-05 09:00"))
        setup(db)
        clock.release()
        tables = [t for t in sa.inspect(db.writer).get_table_names() if t != "alembic_version"]
        db.dispose()
        yield (schema, tables)
        admin = sa.create_engine(Database(os.environ["DATABASE_URL"]).url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    clock.set(at("2026-01-05 09:00"))
    setup(db)
    seed_people(db)
    clock.release()
    db.dispose()
    yield path


@pytest.fixture
def db(_template: object, tmp_path: Path, test_clock) -> Iterator[Database]:
    # the calendar in force is cached per process by a fingerprint of the loads, which only grows within
    # one database; tests swap databases under it, so two tests' loads could share a fingerprint
    workdays._cached = None
    if PG:
        schema, tables = _template
        database = Database(os.environ["DATABASE_URL"], schema=schema)
        with database.writer.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        from services.bootstrap import load_profiles

        with database.write() as session:
            load_profiles(session)
        seed_people(database)
    else:
        target = tmp_path / "case.sqlite3"
        shutil.copy(_template, target)
        database = Database(f"sqlite:///{target}")
    yield database
    database.dispose()


@pytest.fixture
def driver(db: Database) -> Driver:
    return Driver(db)


@pytest.fixture(autouse=True)
def _log_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transparency log's key, witness and trusted keys live in a directory of each test's own,
    never a developer's var/ (a witness from another database would stop the sequencer)."""
    monkeypatch.setenv("LOG_SIGNING_KEY_FILE", str(tmp_path_factory.mktemp("log") / "log-signing-key.pem"))
    for name in ("LOG_SIGNING_KEY", "LOG_WITNESS_FILE", "LOG_TRUSTED_KEYS_FILE", "LOG_ORIGIN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def log_key() -> str:
    """A fresh signing key for the test (its verifier key returned)."""
    from services.transparency.keys import keygen

    return keygen()[1]
