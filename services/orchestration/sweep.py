"""One sweep: fire due timers, send due reminders, record and escalate SLA breaches.

Everything is keyed so that repeating a sweep (or running two at once) changes nothing twice: a
timer fires once (`services.orchestration.timers`), a reminder is an outbox row whose key names the task and the
moment, a breach is a row whose key names the task or the case. The queries are index range scans
on due dates, never a scan of every open row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.calendar import end_of_day_utc, local_date
from services.engine.clock import clock
from services.engine.workdays import calendar
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import Case, Outbox, SlaBreach, Task, Timer
from states.profiles import all_profiles
from states.tasks import ESCALATION


def send_reminders(db: Database, now: datetime) -> int:
    """Per the profile (e.g. 2 working days before due, and on the due day), once per task and moment."""
    today = local_date(now)
    sent = 0
    with db.write() as session:
        cal = calendar(session)
        for code, profile in all_profiles().items():
            for before in sorted(set(profile.reminders.before_days), reverse=True):
                horizon = cal.add_working_days(today, before, code).end if before else today
                rows = session.execute(sa.select(col(Task.id), col(Task.case_id), col(Task.assignee_id),
                                                 col(Task.candidate_user_id), col(Task.role))
                                       .where(col(Task.status) == "open", col(Task.jurisdiction) == code,
                                              col(Task.due_at) >= end_of_day_utc(today),
                                              col(Task.due_at) <= end_of_day_utc(horizon)))
                for task_id, case_id, assignee, candidate, role in rows:
                    person = assignee or candidate
                    target = f"user:{person}" if person else "queue"
                    sent += insert_ignore(session, Outbox, {
                        "key": f"reminder:task:{task_id}:{before}", "kind": "notify", "case_id": case_id,
                        "status": "pending", "attempts": 0, "created_at": now, "available_at": now,
                        "payload": {"case_id": case_id, "target": target, "jurisdiction": code, "roles": [role],
                                    "task_id": task_id, "event": "reminder" if before else "due_today"}})
    return sent


def _escalate(session: Session, breach: SlaBreach, now: datetime) -> None:
    """The approver's queue gets a task to look at the missed deadline."""
    escalation = Task(case_id=breach.case_id, procedure=breach.procedure, jurisdiction=breach.jurisdiction,
                      kind=ESCALATION.kind, role=ESCALATION.role, state=breach.stage,
                      triggers=list(ESCALATION.triggers), opened_at=now, opened_on=local_date(now))
    session.add(escalation)
    session.flush()
    breach.escalation_task_id = escalation.id
    session.add(breach)
    insert_ignore(session, Outbox, {
        "key": f"escalation:{breach.key}", "kind": "notify", "case_id": breach.case_id, "status": "pending",
        "attempts": 0, "created_at": now, "available_at": now,
        "payload": {"case_id": breach.case_id, "target": "queue", "jurisdiction": breach.jurisdiction,
                    "roles": ["approver"], "event": "sla_escalation"}})


def _record(session: Session, values: dict[str, Any], now: datetime) -> int:
    """Records a breach and escalates it: 1 if new, 0 if a racing sweep recorded it meanwhile."""
    if not insert_ignore(session, SlaBreach, values):
        return 0
    _escalate(session, session.exec(select(SlaBreach).where(col(SlaBreach.key) == values["key"])).one(), now)
    return 1


def _unrecorded(prefix: str, id_column: Any) -> Any:
    """No breach yet under `<prefix>:<id>`: an anti-join on the breach key's unique index, so a sweep
    costs what the new breaches cost, not what every overdue task does."""
    return ~sa.exists().where(col(SlaBreach.key) == sa.literal(f"{prefix}:") + sa.cast(id_column, sa.String))


def record_breaches(db: Database, now: datetime) -> dict[str, int]:
    today = local_date(now)
    new = 0
    with db.write() as session:
        overdue = session.exec(select(Task).where(Task.status == "open", col(Task.due_at) < now,
                                                  col(Task.kind) != ESCALATION.kind, _unrecorded("task", col(Task.id))))
        for task in overdue:
            values = {"key": f"task:{task.id}", "kind": "task_overdue", "case_id": task.case_id, "task_id": task.id,
                      "procedure": task.procedure, "jurisdiction": task.jurisdiction, "stage": task.state,
                      "role": task.role, "due_at": task.due_at, "detected_at": now}
            new += _record(session, values, now)
        exceeded = session.exec(select(Case).where(col(Case.clock_due_on) < today,
                                                   col(Case.closed_at).is_(None),
                                                   _unrecorded("clock", col(Case.id))))
        for case in exceeded:
            if case.clock_due_on is None:  # the query asked for a past due date: there is one
                continue
            values = {"key": f"clock:{case.id}", "kind": "clock_exceeded", "case_id": case.id, "task_id": None,
                      "procedure": case.procedure, "jurisdiction": case.jurisdiction, "stage": case.state,
                      "role": None, "due_at": end_of_day_utc(case.clock_due_on), "detected_at": now}
            new += _record(session, values, now)
        # a breach is over when its task closed, or its case's clock stopped or paused: one statement
        task_open = sa.exists().where(col(Task.id) == col(SlaBreach.task_id), col(Task.status) == "open")
        clock_running = sa.exists().where(col(Case.id) == col(SlaBreach.case_id), col(Case.closed_at).is_(None),
                                          col(Case.clock_due_on).is_not(None))
        over = sa.or_(sa.and_(col(SlaBreach.task_id).is_not(None), ~task_open),
                      sa.and_(col(SlaBreach.task_id).is_(None), ~clock_running))
        # RETURNING, not rowcount: drivers disagree on rowcount (services.store.sql.insert_ignore)
        resolved = len(session.execute(sa.update(SlaBreach).where(col(SlaBreach.resolved_at).is_(None), over)
                                       .values(resolved_at=now).returning(col(SlaBreach.id))).all())
    return {"new": new, "resolved": resolved}


def sweep(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """One sweep: due timers fired, reminders sent, breaches recorded and escalated (what the `sweep` flow
    runs, and tests). The timers fired are listed (case, trigger, state), so a run says what it moved."""
    now = now or clock.now()
    timers = run_due_timers(db, now)
    return {"timers_fired": len(timers["fired"]), "fired": timers["fired"],
            "timers_cancelled": len(timers["cancelled"]), "timers_failed": timers["failed"],
            "reminders": send_reminders(db, now), "breaches": record_breaches(db, now)}


def next_timer_at(db: Database) -> datetime | None:
    """When the next timer is due, so the embedded scheduler can wake exactly then."""
    with db.read() as session:
        return session.exec(select(col(Timer.fire_at)).where(col(Timer.status) == "pending")
                            .order_by(col(Timer.fire_at)).limit(1)).first()
