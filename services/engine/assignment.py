"""Who does a task: claiming one, giving it back to the team, handing it to a colleague, and the
dispatcher's assignment of new work to the least-loaded officer. Each is a command on the task's case
(locked, audited on its chain, one transaction, safe to retry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.store import records
from services.store.engine import Database
from services.store.records import CaseRecord, TaskRecord
from services.store.sql import insert_ignore
from services.store.tables import Outbox, RoleGrant, Task, User
from states.messages import label, reason

TaskReply = Callable[[Session, TaskRecord], dict[str, Any]]


def brief(session: Session, task: TaskRecord) -> dict[str, Any]:
    return {"id": task.id, "status": task.status, "assignee_id": task.assignee_id}


def _locked_task(session: Session, task_id: int, actor: Actor) -> tuple[TaskRecord, CaseRecord]:
    """The task and its case, the case locked first (its audit chain is appended to, and a command may be
    closing the task meanwhile), then the task read among the case's open tasks."""
    case_id = session.execute(sa.select(col(Task.case_id)).where(col(Task.id) == task_id)).scalar()
    case = records.lock_case(session, records.LOCK_CASE, {"case_id": case_id}) if case_id is not None else None
    if case is None:
        raise NotFound.of("task")
    task = next((t for t in records.open_tasks(session, [case.id])[case.id] if t.id == task_id), None)
    if task is None:
        role = session.execute(sa.select(col(Task.role)).where(col(Task.id) == task_id)).scalar_one()
        if not actor.holds(role, case.jurisdiction):
            raise NotFound.of("task")
        raise Conflict([reason("task_not_open")])
    if not actor.holds(task.role, task.jurisdiction) and task.assignee_id != actor.user_id:
        raise NotFound.of("task")
    return task, case


def _holder(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return f"{user.display_name} ({user.username})" if user else str(user_id)


def _record(session: Session, case: CaseRecord, task: TaskRecord, actor: Actor, event: str,
            payload: dict[str, Any]) -> None:
    audit.append_case(session, case, at=clock.now(), actor_id=actor.user_id, actor_role=task.role, event=event,
                      payload={"task_id": task.id, "kind": task.kind, **payload})


def _task_command(db: Database, actor: Actor, task_id: int, command: str, key: str | None, body: dict[str, Any],
                  work: Callable[[Session, TaskRecord, CaseRecord], None], respond: TaskReply) -> dict[str, Any]:
    """A command on a task: its case locked, the task re-read, one transaction, safe to retry."""
    def run(session: Session) -> Reply:
        task, case = _locked_task(session, task_id, actor)
        work(session, task, case)
        return 200, respond(session, task)

    return once(db, Idem(actor.key, key, {"task": task_id, "command": command, **body}), run)[1]


def claim(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None,
          respond: TaskReply = brief) -> dict[str, Any]:
    def work(session: Session, task: TaskRecord, case: CaseRecord) -> None:
        if task.candidate_user_id not in (None, actor.user_id):
            raise Forbidden([reason("task_personal")])
        if task.assignee_id not in (None, actor.user_id):
            holder = _holder(session, task.assignee_id)
            raise Conflict([reason("task_claimed", holder=holder)], holder=holder)
        if task.assignee_id != actor.user_id:  # claiming what one holds already changes nothing
            task.assignee_id = actor.user_id
            _record(session, case, task, actor, "task_claimed", {})

    return _task_command(db, actor, task_id, "claim", idempotency_key, {}, work, respond)


def unclaim(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None,
            respond: TaskReply = brief) -> dict[str, Any]:
    def work(session: Session, task: TaskRecord, case: CaseRecord) -> None:
        if task.assignee_id != actor.user_id:
            raise Forbidden([reason("task_not_claimed_by_you")])
        task.assignee_id = None
        _record(session, case, task, actor, "task_unclaimed", {})

    return _task_command(db, actor, task_id, "unclaim", idempotency_key, {}, work, respond)


def delegate(db: Database, task_id: int, actor: Actor, to_user: int, idempotency_key: str | None = None,
             respond: TaskReply = brief) -> dict[str, Any]:
    """The holder (or, for an unclaimed task, anyone holding its role) hands it to a colleague who
    holds the same role in the same jurisdiction."""
    def work(session: Session, task: TaskRecord, case: CaseRecord) -> None:
        if task.candidate_user_id is not None:
            raise Forbidden([reason("task_personal")])
        if task.assignee_id not in (None, actor.user_id):
            holder = _holder(session, task.assignee_id)
            raise Forbidden([reason("task_held", holder=holder)], holder=holder)
        grant = session.exec(select(RoleGrant).where(RoleGrant.user_id == to_user, col(RoleGrant.role) == task.role,
                                                     col(RoleGrant.jurisdiction) == task.jurisdiction)).first()
        if grant is None:
            role = label(f"role.{task.role}")
            raise Invalid([reason("delegate_role", field="user_id", role_zh=role["zh"], role_en=task.role)])
        task.assignee_id = to_user
        _record(session, case, task, actor, "task_delegated", {"to_user": to_user})

    return _task_command(db, actor, task_id, "delegate", idempotency_key, {"to_user": to_user}, work, respond)


def assign_least_loaded(db: Database, case_id: int, role: str) -> int | None:
    """Give the case's unassigned tasks of `role` to the holder of the role with the least open
    work in the jurisdiction (ties: the longest-standing account); recorded in the case's trail."""
    with db.write() as session:
        case = records.lock_case(session, records.LOCK_CASE, {"case_id": case_id})
        if case is None:
            return None
        tasks = [t for t in records.open_tasks(session, [case_id])[case_id]
                 if t.role == role and t.assignee_id is None and t.candidate_user_id is None]
        if not tasks:
            return None
        holders = list(session.exec(select(User.id).join(RoleGrant, col(RoleGrant.user_id) == col(User.id)).where(
            col(RoleGrant.role) == role, col(RoleGrant.jurisdiction) == case.jurisdiction, col(User.active).is_(True))))
        if not holders:
            return None
        counted = session.execute(sa.select(col(Task.assignee_id), sa.func.count())
                                  .where(col(Task.status) == "open", col(Task.assignee_id).in_(holders))
                                  .group_by(col(Task.assignee_id))).tuples().all()
        load: dict[int | None, int] = dict(counted)
        chosen = min(holders, key=lambda u: (load.get(u, 0), u))
        for task in tasks:
            task.assignee_id = chosen
        now = clock.now()
        audit.append_case(session, case, at=now, actor_id=None, actor_role="system", event="task_assigned",
                          payload={"tasks": [t.id for t in tasks], "to_user": chosen,
                                   "open_work": {str(u): load.get(u, 0) for u in holders}})
        insert_ignore(session, Outbox, {  # tell the officer (the dispatcher picks it up on its next round)
            "key": f"case:{case.id}:v{case.version}:assigned:{tasks[0].id}", "kind": "notify", "case_id": case.id,
            "status": "pending", "attempts": 0, "created_at": now, "available_at": now,
            "payload": {"case_id": case.id, "target": f"user:{chosen}", "jurisdiction": case.jurisdiction,
                        "event": "task_assigned"}})
        return chosen
