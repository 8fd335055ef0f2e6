"""What the benchmarks share: a fresh, migrated, seeded database on SQLite or PostgreSQL, and
whether PostgreSQL answers at all."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_SETTINGS = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "work_mem",
               "max_parallel_workers_per_gather")
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def pg_reachable(url: str = PG_URL) -> str | None:
    """None when PostgreSQL answers, else why not."""
    from services.store.engine import Database

    try:
        engine = sa.create_engine(Database(url).url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


@dataclass
class Fresh:
    db: Any
    cleanup: Callable[[], None]
    version: str  # "SQLite 3.40.1" / "PostgreSQL 15.20 (…)"
    settings: dict[str, str]  # SQLite: synchronous; PostgreSQL: PG_SETTINGS
    location: str  # the file, or the URL and schema


def fresh_database(kind: str, *, prefix: str, schema: str, seed: bool = True) -> Fresh:
    """A new SQLite file or PostgreSQL schema, migrated, with the demo people (unless `seed=False`)."""
    from services import demo
    from services.bootstrap import setup
    from services.store.engine import Database

    if kind == "sqlite":
        tmp = tempfile.mkdtemp(prefix=prefix)
        path = Path(tmp) / "bench.sqlite3"
        db = Database(f"sqlite:///{path}")
        with db.reader.connect() as conn:
            settings = {"synchronous": SYNCHRONOUS[conn.exec_driver_sql("PRAGMA synchronous").scalar()]}

        def cleanup() -> None:
            db.dispose()
            shutil.rmtree(tmp, ignore_errors=True)

        fresh = Fresh(db, cleanup, f"SQLite {sqlite3.sqlite_version}", settings, f"file {path}")
    else:
        admin = sa.create_engine(Database(PG_URL).url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            settings = {k: str(conn.exec_driver_sql(f"SHOW {k}").scalar()) for k in PG_SETTINGS}
        db = Database(PG_URL, schema=schema)

        def cleanup() -> None:
            db.dispose()
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            admin.dispose()

        fresh = Fresh(db, cleanup, f"PostgreSQL {settings['server_version']}", settings,
                      f"{PG_URL} schema {schema}")
    try:
        setup(db)
        if seed:
            demo.seed_people(db)
    except BaseException:
        fresh.cleanup()
        raise
    return fresh


@dataclass
class Bench:
    kind: str
    db: Any
    where: str
    version: str
    cleanup: Callable[[], None]

    @property
    def pg(self) -> bool:
        return self.kind == "postgres"


def open_bench(kind: str, *, prefix: str, schema: str) -> Bench:
    """A fresh seeded database, described with the settings that bear on the figures."""
    f = fresh_database(kind, prefix=prefix, schema=schema)
    if kind == "sqlite":
        where = f"{f.version}, {f.location} (WAL, synchronous={f.settings['synchronous']}, BEGIN IMMEDIATE)"
    else:
        where = (f"{f.version}, {f.location} ("
                 + ", ".join(f"{k}={f.settings[k]}" for k in PG_SETTINGS if k != "server_version") + ")")
    return Bench(kind, f.db, where, f.version, f.cleanup)


# --- figures and result files (the suite's scripts) ------------------------------------------------

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def machine() -> str:
    """CPUs, Python, platform, load average: the line every result file starts with."""
    import platform

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
            f"{platform.platform()}, SQLAlchemy {sa.__version__}; load average {load}")


def md_table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
