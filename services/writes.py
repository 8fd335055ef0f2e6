"""A command's new rows for the append-only tables (outbox, audit events, clock segments, timers),
inserted together when the command ends.

The ORM's unit of work builds, tracks and orders one object per row and fetches every new key;
these rows are never read back or changed by the command that writes them, so they go as plain
dicts in one executemany per table (one round trip a table; on PostgreSQL a multi-row INSERT).
Only the audit events are inserted with RETURNING, since the command reports its event's id.

`flush` runs at the end of every command (`services.cases`), and before any commit as a safety net
for callers that append outside the command path (queues, documents, supervision).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from services.store.tables import AuditEvent

KEY = "carbon.pending_rows"
MEMO = "carbon.transaction_memo"
AUDIT = AuditEvent.__table__
_AUDIT_INSERT = AUDIT.insert().returning(AUDIT.c.id, sort_by_parameter_order=True)


class Pending:
    """Rows waiting to be inserted, grouped by table and column set (an executemany needs one shape)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[sa.Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        self.audit: list[tuple[dict[str, Any], Any]] = []  # (row, record that receives the id)


def _pending(session: Session) -> Pending:
    pending = session.info.get(KEY)
    if pending is None:
        pending = session.info[KEY] = Pending()
    return pending


def add(session: Session, model: Any, row: dict[str, Any]) -> None:  # noqa: ANN401 - a SQLModel table class
    table = model.__table__
    _pending(session).rows.setdefault((table, tuple(sorted(row))), []).append(row)


def add_audit(session: Session, row: dict[str, Any], record: Any) -> None:  # noqa: ANN401
    """`record.id` is set when the row is inserted."""
    _pending(session).audit.append((row, record))


def flush(session: Session) -> None:
    """The ORM's changes first (a new case these rows refer to), then the pending rows."""
    pending: Pending | None = session.info.pop(KEY, None)
    session.flush()
    if pending is None or not (pending.rows or pending.audit):
        return
    conn = session.connection()
    for (table, _), rows in pending.rows.items():
        conn.execute(table.insert(), rows)
    if pending.audit:
        ids = conn.execute(_AUDIT_INSERT, [row for row, _ in pending.audit]).scalars().all()
        for (_, record), id_ in zip(pending.audit, ids, strict=True):
            record.id = id_


def memo(session: Session) -> dict[str, Any]:
    """What a transaction reads once and reuses (the calendar, locked counters); forgotten when the
    transaction ends."""
    return session.info.setdefault(MEMO, {})


def discard(session: Session) -> None:
    session.info.pop(KEY, None)
    session.info.pop(MEMO, None)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(KEY) is not None:
        flush(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(MEMO, None)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    discard(session)  # rolled back with the rest of the transaction
