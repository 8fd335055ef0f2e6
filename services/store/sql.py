"""Small SQL helpers both databases share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignore(session: Session, table: Any, values: dict[str, Any], key: str = "id") -> bool:  # noqa: ANN401
    """INSERT … ON CONFLICT DO NOTHING; True when the row is new, so concurrent writers agree on
    who created it. RETURNING, not rowcount: drivers disagree on rowcount for a skipped row."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table.__table__)
    result = session.execute(insert.values(**values).on_conflict_do_nothing().returning(table.__table__.c[key]))
    return result.first() is not None
