"""A command's own rows — its case and the case's tasks — as plain records read and written with Core
statements, tracked by the transaction's unit of work (services.store.unit_of_work writes them).

Every command locks one case, reads its open tasks and changes both; doing that through the ORM's
identity map and per-object flush cost about a fifth of a command's CPU (profiled, bench/peers). A
record knows the values it was read with: the unit of work writes only what changed, one UPDATE a
record, and inserts a command's new tasks in one statement. Reads for pages and reports keep using
the ORM classes (services.store.tables), after the command's rows are flushed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Session

from services.store.tables import CalendarYear, Case, Task, table_of
from services.store.unit_of_work import Record, of

CASES: sa.Table = table_of(Case)
TASKS: sa.Table = table_of(Task)



@dataclass(eq=False)
class CaseRecord(Record):
    table: ClassVar[sa.Table] = CASES
    id: int
    procedure: str
    jurisdiction: str
    state: str
    subject_kind: str
    application: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    project_id: int | None = None
    applicant_org_id: int | None = None
    created_by: int | None = None
    submitted_on: date | None = None
    vintage: int | None = None
    held_from: str | None = None
    closed_at: datetime | None = None
    clock_due_on: date | None = None
    audit_seq: int = 0
    audit_hash: str = "0" * 64


@dataclass(eq=False)
class TaskRecord(Record):
    table: ClassVar[sa.Table] = TASKS
    case_id: int
    procedure: str
    jurisdiction: str
    kind: str
    role: str
    state: str
    triggers: list[str]
    opened_at: datetime
    opened_on: date
    id: int | None = None  # None until the command's new tasks are inserted
    join: bool = False
    candidate_user_id: int | None = None
    candidate_org_id: int | None = None
    assignee_id: int | None = None
    status: str = "open"
    sla_days: int | None = None
    due_on: date | None = None
    due_at: datetime | None = None
    due_provisional: bool = False
    closed_at: datetime | None = None
    closed_by: int | None = None
    outcome: str | None = None


# A case as code that only reads it sees it: the ORM row (pages, reports) or a command's record.
AnyCase = Case | CaseRecord
AnyTask = Task | TaskRecord

_CASE_COLUMNS = [CASES.c[f.name] for f in fields(CaseRecord) if f.name != "_saved"]
_TASK_COLUMNS = [TASKS.c[f.name] for f in fields(TaskRecord) if f.name != "_saved"]
LOCK_CASE = sa.select(*_CASE_COLUMNS).where(CASES.c.id == sa.bindparam("case_id")).with_for_update()
OPEN_TASKS = sa.select(*_TASK_COLUMNS).where(TASKS.c.case_id.in_(sa.bindparam("case_ids", expanding=True)),
                                             TASKS.c.status == "open").order_by(TASKS.c.id)
_INSERT_CASE = CASES.insert().returning(CASES.c.id)

# The calendar's fingerprint (services.engine.workdays): every load bumps its year's revision, so
# (years, sum of revisions) changes with any load.
_YEARS: sa.Table = table_of(CalendarYear)
CALENDAR_FINGERPRINT = (sa.select(sa.func.count()).select_from(_YEARS).scalar_subquery().label("_years"),
                        sa.select(sa.func.coalesce(sa.func.sum(_YEARS.c.revision), 0)).scalar_subquery()
                        .label("_revisions"))
FINGERPRINT_KEY = "carbon.calendar_fingerprint"  # session.info: read with the lock, once a transaction
_TASK_LABELS = [c.label(f"t_{c.name}") for c in _TASK_COLUMNS]
LOCK_CASE_AND_TASKS = (
    sa.select(*_CASE_COLUMNS, *_TASK_LABELS, *CALENDAR_FINGERPRINT)
    .select_from(CASES.outerjoin(TASKS, sa.and_(TASKS.c.case_id == CASES.c.id, TASKS.c.status == "open")))
    .where(CASES.c.id == sa.bindparam("case_id")).order_by(TASKS.c.id).with_for_update(of=CASES))
"""A command's reads in one statement: its case (locked: PostgreSQL `FOR UPDATE OF cases`, the tasks
are not locked), one row per open task (none: one row of NULL task columns), and the calendar's
fingerprint."""
_TASK_NAMES = [(c.name, f"t_{c.name}") for c in _TASK_COLUMNS]


def _case(row: Any) -> CaseRecord:
    record = CaseRecord(**row._mapping)
    record.mark_saved()
    return record


def _task(row: Any) -> TaskRecord:
    record = TaskRecord(**row._mapping)
    record.mark_saved()
    return record


def lock_case(session: Session, statement: Any, params: dict[str, Any]) -> CaseRecord | None:
    """The case a locking statement finds (`LOCK_CASE`, or it with a visibility condition), tracked for
    the rest of the transaction; the same record when the transaction locked it already."""
    uow = of(session)
    row = session.execute(statement, params).first()
    if row is None:
        return None
    held = uow.records.get((CASES.name, row.id))
    if isinstance(held, CaseRecord):
        return held
    record = _case(row)
    uow.records[(CASES.name, record.id)] = record
    return record


def lock_case_and_tasks(session: Session, statement: Any, params: dict[str, Any]
                        ) -> tuple[CaseRecord, list[TaskRecord]] | None:
    """`lock_case` with the case's open tasks (tracked) and the calendar's fingerprint (kept in
    `session.info` for the rest of the transaction), from `LOCK_CASE_AND_TASKS` or it with a
    visibility condition."""
    uow = of(session)
    rows = session.connection().execute(statement, params).all()
    if not rows:
        return None
    first = rows[0]._mapping
    session.info[FINGERPRINT_KEY] = (first["_years"], first["_revisions"])
    held = uow.records.get((CASES.name, first["id"]))
    if held is None:
        held = CaseRecord(**{c.name: first[c.name] for c in _CASE_COLUMNS})
        held.mark_saved()
        uow.records[(CASES.name, held.id)] = held
    tasks = []
    for row in rows:
        m = row._mapping
        task_id = m["t_id"]
        if task_id is None:
            continue
        task = uow.records.get((TASKS.name, task_id))
        if task is None:
            task = TaskRecord(**{name: m[label] for name, label in _TASK_NAMES})
            task.mark_saved()
            uow.records[(TASKS.name, task_id)] = task
        tasks.append(task)
    # the ignore below: records are typed as their base; this query builds case and task records
    return held, tasks  # type: ignore[return-value]


def lock_cases(session: Session, case_ids: list[int]) -> dict[int, CaseRecord]:
    """Several cases locked at once, in id order (how concurrent sweeps queue rather than deadlock)."""
    uow = of(session)
    rows = session.execute(sa.select(*_CASE_COLUMNS).where(CASES.c.id.in_(case_ids)).order_by(CASES.c.id)
                           .with_for_update()).all()
    found: dict[int, CaseRecord] = {}
    for row in rows:
        held = uow.records.get((CASES.name, row.id))
        record = held if isinstance(held, CaseRecord) else _case(row)
        uow.records[(CASES.name, record.id)] = record
        found[record.id] = record
    return found


def open_tasks(session: Session, case_ids: list[int]) -> dict[int, list[TaskRecord]]:
    """The open tasks of these cases, tracked, by case."""
    uow = of(session)
    by_case: dict[int, list[TaskRecord]] = {cid: [] for cid in case_ids}
    for row in session.execute(OPEN_TASKS, {"case_ids": case_ids}):
        held = uow.records.get((TASKS.name, row.id))
        record = held if isinstance(held, TaskRecord) else _task(row)
        uow.records[(TASKS.name, row.id)] = record
        by_case[record.case_id].append(record)
    return by_case


def insert_case(session: Session, record_values: dict[str, Any]) -> CaseRecord:
    """A new case, inserted at once (everything the command writes next refers to its id)."""
    case_id = session.execute(_INSERT_CASE, record_values).scalar_one()
    record = CaseRecord(id=case_id, **record_values)
    record.mark_saved()
    of(session).records[(CASES.name, case_id)] = record
    return record


def add_task(session: Session, record: TaskRecord) -> None:
    """A new task, inserted with the command's other new tasks when it ends."""
    of(session).new_records.append(record)
