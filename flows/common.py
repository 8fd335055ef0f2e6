"""What every flow shares: the database it works on, and the engine wired (a deployment's flow runs in a
process of its own)."""

from __future__ import annotations

from services.bootstrap import wire
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
        _db = Database()
    return _db
