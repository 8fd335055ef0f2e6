"""What every flow shares: the database it works on, and the engine wired (a deployment's flow runs in a
process of its own), and the heartbeat each loop leaves in the database.

Scaled out (`SCHEDULER=prefect`, a deployment's process) the database must be named (`DATABASE_URL`),
reachable and migrated, or the run fails at once saying so: never a fresh SQLite file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.bootstrap import wire
from services.engine import telemetry
from services.orchestration import health
from services.store.engine import Database

_db: Database | None = None


def use_database(db: Database | None) -> None:
    """The app (or a test) hands its database to the flows running in its process."""
    global _db
    _db = db


def database() -> Database:
    global _db
    wire()
    if _db is None:
        db = Database()
        if os.environ.get("SCHEDULER") == "prefect":
            telemetry.configure_logging()
            health.require_ready(db, explicit_url=True)
        _db = db
    return _db


@asynccontextmanager
async def heartbeat(name: str) -> AsyncIterator[None]:
    """Record that loop `name` started and how it ended (what /metrics and the incident detector read)."""
    import asyncio

    db = database()
    run_id = telemetry.flow_run_id()
    await asyncio.to_thread(health.started, db, name, run_id)
    try:
        yield
    except BaseException as exc:
        await asyncio.to_thread(health.finished, db, name, run_id, f"{type(exc).__name__}: {exc}")
        raise
    await asyncio.to_thread(health.finished, db, name, run_id)
