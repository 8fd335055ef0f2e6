"""Tasks, timers and outbox rows a command writes: every task opened, every timer armed and every hand-off
queued goes through these functions, with due dates from the declared deadlines (states.tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.engine.calendar import end_of_day_utc
from services.engine.context import Ctx
from services.store import records
from services.store.records import TaskRecord
from services.store.tables import Outbox, Timer
from states.tasks import TaskSpec, TimerSpec


def open_task(ctx: Ctx, spec: TaskSpec, *, candidate: int | None = None) -> TaskRecord:
    """A task of the case's current state, due by its declared deadline (if any)."""
    deadline = spec.deadline
    due = ctx.due(deadline) if deadline is not None else None
    task = TaskRecord(case_id=ctx.case.id, procedure=ctx.case.procedure, jurisdiction=ctx.case.jurisdiction,
                      kind=spec.kind, role=spec.role, state=ctx.case.state, triggers=list(spec.triggers),
                      join=spec.joint is not None, candidate_user_id=candidate, opened_at=ctx.now,
                      opened_on=ctx.today, sla_days=due.days if due else None, due_on=due.on if due else None,
                      due_at=end_of_day_utc(due.on) if due else None, due_provisional=bool(due and due.provisional))
    records.add_task(ctx.session, task)
    ctx.tasks.append(task)
    return task


def close_task(ctx: Ctx, task: TaskRecord, status: str, outcome: str) -> None:
    task.status, task.closed_at, task.outcome = status, ctx.now, outcome
    if status == "completed":
        task.closed_by = ctx.actor.user_id
    ctx.tasks.remove(task)


def arm(ctx: Ctx, *, kind: str, trigger: str, fire_at: datetime, days: int | None, provisional: bool) -> None:
    """A pending timer of the case's current state. `days`: working days counted from today, kept so a
    newly loaded calendar year recomputes a provisional moment (services.engine.workdays)."""
    ctx.uow.add(Timer, {
        "case_id": ctx.case.id, "jurisdiction": ctx.case.jurisdiction, "kind": kind, "trigger": trigger,
        "state": ctx.case.state, "fire_at": fire_at, "base_on": ctx.today if days else None, "days": days,
        "provisional": provisional})


def arm_declared(ctx: Ctx, spec: TimerSpec) -> None:
    due = ctx.due(spec.due)
    if due is not None:
        arm(ctx, kind=spec.kind, trigger=spec.trigger, fire_at=end_of_day_utc(due.on), days=due.days,
            provisional=due.provisional)


def cancel_timers(ctx: Ctx) -> None:
    """The case's pending timers, cancelled when it leaves a state that armed some (a blind update, sent
    before the command's new rows: a timer this command arms stays)."""
    ctx.uow.update(Timer, {"case_id": ctx.case.id, "status": "pending"}, {"status": "cancelled"})


def enqueue(ctx: Ctx, kind: str, target: str, payload: dict[str, Any] | None = None) -> None:
    """A hand-off for the dispatcher, keyed by the audit event the command is about to append: unique per
    command, stable on replay."""
    key = f"case:{ctx.case.id}:e{ctx.case.audit_seq + 1}:{kind}:{target}"
    ctx.uow.add(Outbox, {
        "key": key, "kind": kind, "case_id": ctx.case.id, "created_at": ctx.now, "available_at": ctx.now,
        "payload": {"case_id": ctx.case.id, "state": ctx.case.state, "target": target,
                    "jurisdiction": ctx.case.jurisdiction, **(payload or {})}})
