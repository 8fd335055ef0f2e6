"""The unit of work of one transaction: the case and task records commands hold (services.store.records:
changed columns written when it ends), a command's append-only rows (audit events, outbox rows, timers,
clock segments), inserted together when it ends, its blind updates (cancel a case's pending timers,
end its running clock segment), sent together just before them, and what the transaction reads once.

`Database.write()` opens one beside its session and flushes it before committing (the session's own
changes first: a new case these rows refer to); nothing else hooks into sessions. A read transaction
has none.

The ORM's unit of work builds, tracks and orders one object per row and fetches every new key;
append-only rows are never read back or changed by the command that writes them, so they go as plain
dicts in one executemany per table (on PostgreSQL a multi-row INSERT). Only audit events (a command
reports its event's id) and new task records are inserted with RETURNING. On PostgreSQL everything a
flush sends is one psycopg pipeline (`pipelined`): the statements that return nothing travel with the
next INSERT … RETURNING, so a command's writes cost two round trips, three when it opens tasks (the
pipeline's end is one). Append-only rows never go
through `session.add`: the blind updates run before these inserts, so a timer or segment the same
command creates is never touched by them (`flush` refuses a timer or segment added to the session
beside blind updates).

A blind update is one no later step of the command reads back, on rows the session holds no objects
of: it goes out as one executemany per statement shape (on PostgreSQL psycopg pipelines an
executemany, so a sweep's batch of 100 cases costs one round trip a shape instead of 100).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.store.tables import AuditEvent, ClockSegment, Timer, table_of

AUDIT = table_of(AuditEvent)
BLIND_UPDATED = (ClockSegment, Timer)
UpdateShape = tuple[sa.Table, tuple[tuple[str, bool], ...], tuple[str, ...]]  # table, (column, is null), set
RecordShape = tuple[sa.Table, tuple[str, ...]]  # table, changed columns
Changed = dict[RecordShape, list[tuple["Record", tuple[Any, ...], dict[str, Any]]]]  # (record, snapshot, changes)
_UPDATES: dict[UpdateShape, sa.Update] = {}


class WritesOutsideACommand(RuntimeError):
    """Append-only rows written in a session that `Database.write()` did not open."""


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: dict[tuple[sa.Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        self.updates: dict[UpdateShape, list[dict[str, Any]]] = {}
        self.audit: list[tuple[dict[str, Any], Any]] = []  # (row, record that receives the id)
        self.memo: dict[str, Any] = {}  # read once a transaction: the calendar, locked counters
        self.records: dict[tuple[str, int], Record] = {}  # the cases and tasks commands hold (services.store.records)
        self.new_records: list[Record] = []  # records to insert (a command's new tasks)

    def add(self, model: Any, row: dict[str, Any]) -> None:
        table = table_of(model)
        self.rows.setdefault((table, tuple(sorted(row))), []).append(row)

    def update(self, model: Any, where: dict[str, Any], values: dict[str, Any]) -> None:
        """UPDATE model SET values WHERE every `where` column equals its value (None: IS NULL), at the
        command's end. Only for rows the command does not read back (see the module's note)."""
        table = table_of(model)
        shape = (table, tuple((k, v is None) for k, v in sorted(where.items())), tuple(sorted(values)))
        params = {f"w_{k}": v for k, v in where.items() if v is not None} | {f"v_{k}": v for k, v in values.items()}
        self.updates.setdefault(shape, []).append(params)

    def add_audit(self, row: dict[str, Any], record: Any) -> None:
        """`record.id` is set when the row is inserted."""
        self.audit.append((row, record))

    def flush(self) -> None:
        """The session's changes first, then the blind updates, then the new append-only rows."""
        if self.updates:  # a blind update would touch a timer or segment the session itself inserts now
            stray = [type(o).__name__ for o in self.session.new if isinstance(o, BLIND_UPDATED)]
            if stray:
                raise WritesOutsideACommand(f"timers and clock segments go through the unit of work: {stray}")
        self.session.flush()
        changed = self._changed_records()
        if not (changed or self.updates or self.rows or self.new_records or self.audit):
            return  # a command flushed before its reply: the transaction's end finds nothing left to send
        conn = self.session.connection()
        # One pipeline for all of it: on PostgreSQL the writes that return nothing ride with the next
        # insert that returns ids (see the module's note).
        with pipelined(conn):
            self._update_records(conn, changed)
            for shape, params in self.updates.items():
                conn.execute(_update_statement(shape), params)
            for (table, _), rows in self.rows.items():
                conn.execute(_inline_insert(table), rows)
            self._insert_records(conn)
            self._insert_audit(conn)
        self.rows, self.updates, self.audit = {}, {}, []

    def _insert_audit(self, conn: sa.Connection) -> None:
        if self.audit:
            ids = conn.execute(_returning_insert(AUDIT), [row for row, _ in self.audit]).scalars().all()
            for (_, record), id_ in zip(self.audit, ids, strict=True):
                record.id = id_

    def _changed_records(self) -> Changed:
        """The records that changed since read or written, by table and changed columns."""
        changed: Changed = {}
        for record in self.records.values():
            now, values = record.changes()
            if values:
                changed.setdefault((record.table, tuple(values)), []).append((record, now, values))
        return changed

    def _update_records(self, conn: sa.Connection, changed: Changed) -> None:
        """Changed records written with one executemany a shape (table and changed columns: a prebuilt
        statement, its cache key reused)."""
        for shape, rows in changed.items():
            # the ignore below: records are dataclasses made per table at run time (their fields are not declared)
            conn.execute(_record_update(shape), [{"_id": record.id, **values} for record, _, values in rows])  # type: ignore[attr-defined]
            for record, now, _ in rows:
                record._saved = now

    def _insert_records(self, conn: sa.Connection) -> None:
        """New records inserted together, a table at a time, their ids returned in the order they were
        given (no row the command appends refers to them: their ids are known only now)."""
        by_table: dict[sa.Table, list[Record]] = {}
        for record in self.new_records:
            by_table.setdefault(record.table, []).append(record)
        self.new_records = []
        for table, new in by_table.items():
            ids = conn.execute(_returning_insert(table), [record.values() for record in new]).scalars().all()
            for record, id_ in zip(new, ids, strict=True):
                # the ignore below: records are dataclasses made per table at run time (their fields are not declared)
                record.id = id_  # type: ignore[attr-defined]
                record.mark_saved()
                self.records[(table.name, id_)] = record


@dataclass(frozen=True)
class _Layout:
    """A record class's columns, read together by one attrgetter; which of them hold JSON (compared as
    their text, so a change inside a nested value is seen too)."""

    names: tuple[str, ...]
    get: Callable[[Any], tuple[Any, ...]]
    json: tuple[int, ...]


_LAYOUTS: dict[type, _Layout] = {}


def _layout(cls: type) -> _Layout:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        names = tuple(f.name for f in fields(cls) if f.name != "_saved")
        # the ignore below: records are dataclasses made per table at run time (their fields are not declared)
        json_at = tuple(i for i, n in enumerate(names) if isinstance(cls.table.c[n].type, sa.JSON))  # type: ignore[attr-defined]
        layout = _LAYOUTS[cls] = _Layout(names, attrgetter(*names), json_at)
    return layout


def _dumped(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if value is not None else None


@dataclass(eq=False)
class Record:
    """A row a transaction holds as a plain object (services.store.records), written by the unit of work:
    `_saved` holds its values as last read or written, JSON columns as their text."""

    table: ClassVar[sa.Table]
    _saved: tuple[Any, ...] = field(default=(), init=False, repr=False)

    def _snapshot(self) -> tuple[Any, ...]:
        layout = _layout(type(self))
        values: tuple[Any, ...] = layout.get(self)
        if layout.json:
            dumped = list(values)
            for i in layout.json:
                dumped[i] = _dumped(dumped[i])
            return tuple(dumped)
        return values

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _layout(type(self)).names if name != "id"}

    def mark_saved(self) -> None:
        self._saved = self._snapshot()

    def changes(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """(the snapshot as it stands now, the columns that changed since `_saved` with their values)."""
        now, saved = self._snapshot(), self._saved
        if now == saved:
            return now, {}
        names = _layout(type(self)).names
        return now, {names[i]: getattr(self, names[i]) for i, (a, b) in enumerate(zip(now, saved, strict=True))
                     if a != b and names[i] != "id"}


_RECORD_UPDATES: dict[RecordShape, sa.Update] = {}


def _record_update(shape: RecordShape) -> sa.Update:
    """UPDATE table SET these columns WHERE id = :_id, built once a shape."""
    stmt = _RECORD_UPDATES.get(shape)
    if stmt is None:
        table, names = shape
        stmt = _RECORD_UPDATES[shape] = table.update().where(table.c.id == sa.bindparam("_id")).values(
            {n: sa.bindparam(n, type_=table.c[n].type) for n in names})
    return stmt


_INSERTS: dict[sa.Table, sa.Insert] = {}
_RETURNING_INSERTS: dict[sa.Table, sa.Insert] = {}


def _returning_insert(table: sa.Table) -> sa.Insert:
    """INSERT … RETURNING id, the ids in the order the rows were given; built once a table."""
    stmt = _RETURNING_INSERTS.get(table)
    if stmt is None:
        stmt = _RETURNING_INSERTS[table] = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return stmt


def _inline_insert(table: sa.Table) -> sa.Insert:
    """INSERT that fetches nothing back (not even the new key, which a one-row insert otherwise
    returns): append-only rows are never read back by the command that writes them."""
    stmt = _INSERTS.get(table)
    if stmt is None:
        stmt = _INSERTS[table] = table.insert().inline()
    return stmt


def _update_statement(shape: UpdateShape) -> sa.Update:
    """Built once a shape (the executemany's statement and its cache key are then reused)."""
    stmt = _UPDATES.get(shape)
    if stmt is None:
        table, where, values = shape
        conds = [table.c[k].is_(None) if null else table.c[k] == sa.bindparam(f"w_{k}") for k, null in where]
        stmt = _UPDATES[shape] = table.update().where(*conds).values(
            {k: sa.bindparam(f"v_{k}", type_=table.c[k].type) for k in values})
    return stmt


@contextmanager
def pipelined(conn: sa.Connection) -> Iterator[None]:
    """On PostgreSQL, the statements sent inside go out in one psycopg pipeline: a statement that returns
    rows (INSERT … RETURNING) is sent with every statement queued before it, and its rows come back in
    that one round trip; the rest go at the end. No statement inside may read a rowcount (under a
    pipeline the driver has none until the statement is synced). An error a statement met is raised by
    a later one (SQLAlchemy translates it, e.g. IntegrityError) or here at the end, translated the same
    way. Other drivers: the statements run as sent."""
    driver = conn.connection.driver_connection
    pipeline = getattr(driver, "pipeline", None)  # psycopg 3
    if pipeline is None:
        yield
        return
    import psycopg

    try:
        with pipeline() as queue:
            def rows_now(_conn: Any, cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
                # SQLAlchemy reads a result's columns right after this event: sync so that they are there.
                if cursor.pgresult is None and _returns_rows(context):
                    queue.sync()

            sa.event.listen(conn, "after_cursor_execute", rows_now)
            try:
                yield
            finally:
                sa.event.remove(conn, "after_cursor_execute", rows_now)
    except psycopg.Error as exc:  # met at the pipeline's end, outside any SQLAlchemy call
        raise sa.exc.DBAPIError.instance(None, None, exc, psycopg.Error) from exc


def _returns_rows(context: Any) -> bool:
    """A compiled SELECT, or DML with RETURNING (DDL and driver-level SQL have neither attribute)."""
    compiled = context.compiled
    if compiled is None:
        return False
    return bool(getattr(compiled, "effective_returning", None)) or getattr(compiled.statement, "is_select", False)


KEY = "carbon.unit_of_work"


def begin(session: Session) -> UnitOfWork:
    uow = session.info[KEY] = UnitOfWork(session)
    return uow


def of(session: Session) -> UnitOfWork:
    """The unit of work of the session's transaction (`Database.write()` opened it)."""
    uow = session.info.get(KEY)
    if uow is None:
        raise WritesOutsideACommand("no unit of work: write inside Database.write()")
    # the ignore below: the session's info dict is untyped; Database.write() puts the unit of work there
    return uow  # type: ignore[no-any-return]


def end(session: Session) -> None:
    session.info.pop(KEY, None)
