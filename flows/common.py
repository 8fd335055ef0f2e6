"""What every flow shares: the database it works on, and Prefect's quiet settings."""

from __future__ import annotations

import os

from services.store.engine import Database

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

_db: Database | None = None


def use_database(db: Database | None) -> None:
    """The app (or a test) hands its database to the flows running in its process."""
    global _db
    _db = db


def database() -> Database:
    global _db
    if _db is None:
        _db = Database()
    return _db
