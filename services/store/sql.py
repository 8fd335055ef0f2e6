"""Small SQL helpers both databases share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from services.store.tables import table_of


def insert_ignore(session: Session, table: Any, values: dict[str, Any], key: str = "id") -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row is new, so concurrent writers agree on
    who created it. RETURNING, not rowcount: drivers disagree on rowcount for a skipped row."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table_of(table))
    result = session.execute(insert.values(**values).on_conflict_do_nothing().returning(table_of(table).c[key]))
    return result.first() is not None
