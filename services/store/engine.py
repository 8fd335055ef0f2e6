"""Engines and transactions.

SQLite (the embedded default): WAL, a busy timeout, and every *write* transaction opened with
`BEGIN IMMEDIATE` so that two commands never interleave their read-then-write; reads use a second
engine with ordinary deferred transactions, so they never wait for a writer. PostgreSQL: one engine;
commands lock the case row with `SELECT … FOR UPDATE`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from services.store import unit_of_work

DEFAULT_URL = "sqlite:///var/carbon.sqlite3"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def _normalise(url: str) -> str:
    # psycopg 3 is the driver we ship; accept the plain scheme people paste.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_engine(url: str, *, immediate: bool) -> sa.Engine:
    path = sa.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    # the ignore below: SQLAlchemy's event hooks are untyped
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed decision survives a power cut (NORMAL in WAL mode may lose the last commits).
        cur.execute(f"PRAGMA synchronous={os.environ.get('SQLITE_SYNCHRONOUS', 'FULL')}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    # the ignore below: SQLAlchemy's event hooks are untyped
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    def __init__(self, url: str | None = None, *, schema: str | None = None) -> None:
        """`schema` (PostgreSQL only) puts every table in that schema: parallel test workers use it."""
        self.url = _normalise(url or database_url())
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.writer = _sqlite_engine(self.url, immediate=True)
            self.reader = _sqlite_engine(self.url, immediate=False)
        else:
            connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
            self.writer = sa.create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                                           connect_args=connect_args)
            self.reader = self.writer

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One command = one transaction with its unit of work (services.store.unit_of_work): flushed,
        then committed on success; rolled back, with everything pending, on any exception."""
        with Session(self.writer, expire_on_commit=False) as session:
            uow = unit_of_work.begin(session)
            try:
                with session.begin():
                    yield session
                    uow.flush()
            finally:
                unit_of_work.end(session)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.reader, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
