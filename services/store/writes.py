"""A command's new rows for the append-only tables (outbox, audit events, clock segments, timers),
inserted together when the command ends, and its blind updates (cancel a case's pending timers, end
its running clock segment), sent together just before them.

The ORM's unit of work builds, tracks and orders one object per row and fetches every new key;
these rows are never read back or changed by the command that writes them, so they go as plain
dicts in one executemany per table (one round trip a table; on PostgreSQL a multi-row INSERT).
Only the audit events are inserted with RETURNING, since the command reports its event's id.

A blind update is one no later step of the command reads back, on rows the session holds no
objects of: it waits for the command's end and goes out as one executemany per statement shape
(on PostgreSQL psycopg pipelines an executemany, so a sweep's batch of 100 cases costs one round
trip a shape instead of 100). It runs before the inserts, so a timer or segment the same command
creates is not touched by it.

`flush` runs at the end of every command (`services.engine.cases`), and before any commit as a safety net
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


UpdateShape = tuple[sa.Table, tuple[tuple[str, bool], ...], tuple[str, ...]]  # table, (column, is null), set


class Pending:
    """Rows waiting to be inserted, grouped by table and column set (an executemany needs one shape),
    and blind updates grouped by statement shape."""

    def __init__(self) -> None:
        self.rows: dict[tuple[sa.Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        self.updates: dict[UpdateShape, list[dict[str, Any]]] = {}
        self.audit: list[tuple[dict[str, Any], Any]] = []  # (row, record that receives the id)


def _pending(session: Session) -> Pending:
    pending = session.info.get(KEY)
    if pending is None:
        pending = session.info[KEY] = Pending()
    return pending


def add(session: Session, model: Any, row: dict[str, Any]) -> None:  # noqa: ANN401 - a SQLModel table class
    table = model.__table__
    _pending(session).rows.setdefault((table, tuple(sorted(row))), []).append(row)


def update(session: Session, model: Any, where: dict[str, Any], values: dict[str, Any]) -> None:  # noqa: ANN401
    """UPDATE model SET values WHERE every `where` column equals its value (None: IS NULL), at the
    command's end. Only for rows the command does not read back (see the module's note)."""
    table = model.__table__
    shape = (table, tuple((k, v is None) for k, v in sorted(where.items())), tuple(sorted(values)))
    params = {f"w_{k}": v for k, v in where.items() if v is not None} | {f"v_{k}": v for k, v in values.items()}
    _pending(session).updates.setdefault(shape, []).append(params)


_UPDATES: dict[UpdateShape, sa.Update] = {}


def _update_statement(shape: UpdateShape) -> sa.Update:
    """Built once a shape (the executemany's statement and its cache key are then reused)."""
    stmt = _UPDATES.get(shape)
    if stmt is None:
        table, where, values = shape
        conds = [table.c[k].is_(None) if null else table.c[k] == sa.bindparam(f"w_{k}") for k, null in where]
        stmt = _UPDATES[shape] = table.update().where(*conds).values(
            {k: sa.bindparam(f"v_{k}", type_=table.c[k].type) for k in values})
    return stmt


def add_audit(session: Session, row: dict[str, Any], record: Any) -> None:  # noqa: ANN401
    """`record.id` is set when the row is inserted."""
    _pending(session).audit.append((row, record))


def flush(session: Session) -> None:
    """The ORM's changes first (a new case these rows refer to), then the pending rows."""
    pending: Pending | None = session.info.pop(KEY, None)
    session.flush()
    if pending is None or not (pending.rows or pending.audit or pending.updates):
        return
    conn = session.connection()
    for shape, params in pending.updates.items():
        conn.execute(_update_statement(shape), params)
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
