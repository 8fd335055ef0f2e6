"""Who does a task: claiming one, giving it back to the team, handing it to a colleague, and the
dispatcher's assignment of new work to the least-loaded officer. Each is a command on the task's case
(locked, audited on its chain, one transaction, safe to retry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import Case, Outbox, RoleGrant, Task, User
from states.messages import label, reason

TaskReply = Callable[[Session, Task], dict[str, Any]]


def brief(session: Session, task: Task) -> dict[str, Any]:
    return {"id": task.id, "status": task.status, "assignee_id": task.assignee_id}


def _locked_task(session: Session, task_id: int, actor: Actor) -> tuple[Task, Case]:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound.of("task")
    # lock the case first: its audit chain is appended to, and a command may be closing the task
    case = session.exec(select(Case).where(Case.id == task.case_id).with_for_update()).one()
    session.refresh(task)
    if not actor.holds(task.role, task.jurisdiction) and task.assignee_id != actor.user_id:
        raise NotFound.of("task")
    if task.status != "open":
        raise Conflict([reason("task_not_open")])
    return task, case


def _holder(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return f"{user.display_name} ({user.username})" if user else str(user_id)


def _record(session: Session, case: Case, task: Task, actor: Actor, event: str, payload: dict[str, Any]) -> None:
    audit.append_case(session, case, at=clock.now(), actor_id=actor.user_id, actor_role=task.role, event=event,
                      payload={"task_id": task.id, "kind": task.kind, **payload})


def _task_command(db: Database, actor: Actor, task_id: int, command: str, key: str | None, body: dict[str, Any],
                  work: Callable[[Session, Task, Case], None], respond: TaskReply) -> dict[str, Any]:
    """A command on a task: its case locked, the task re-read, one transaction, safe to retry."""
    def run(session: Session) -> Reply:
        task, case = _locked_task(session, task_id, actor)
        work(session, task, case)
        return 200, respond(session, task)

    return once(db, Idem(actor.key, key, {"task": task_id, "command": command, **body}), run)[1]


def claim(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None,
          respond: TaskReply = brief) -> dict[str, Any]:
    def work(session: Session, task: Task, case: Case) -> None:
        if task.candidate_user_id not in (None, actor.user_id):
            raise Forbidden([reason("task_personal")])
        if task.assignee_id not in (None, actor.user_id):
            holder = _holder(session, task.assignee_id)  # type: ignore[arg-type]
            raise Conflict([reason("task_claimed", holder=holder)], holder=holder)
        if task.assignee_id != actor.user_id:  # claiming what one holds already changes nothing
            task.assignee_id = actor.user_id
            session.add(task)
            _record(session, case, task, actor, "task_claimed", {})

    return _task_command(db, actor, task_id, "claim", idempotency_key, {}, work, respond)


def unclaim(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None,
            respond: TaskReply = brief) -> dict[str, Any]:
    def work(session: Session, task: Task, case: Case) -> None:
        if task.assignee_id != actor.user_id:
            raise Forbidden([reason("task_not_claimed_by_you")])
        task.assignee_id = None
        session.add(task)
        _record(session, case, task, actor, "task_unclaimed", {})

    return _task_command(db, actor, task_id, "unclaim", idempotency_key, {}, work, respond)


def delegate(db: Database, task_id: int, actor: Actor, to_user: int, idempotency_key: str | None = None,
             respond: TaskReply = brief) -> dict[str, Any]:
    """The holder (or, for an unclaimed task, anyone holding its role) hands it to a colleague who
    holds the same role in the same jurisdiction."""
    def work(session: Session, task: Task, case: Case) -> None:
        if task.candidate_user_id is not None:
            raise Forbidden([reason("task_personal")])
        if task.assignee_id not in (None, actor.user_id):
            holder = _holder(session, task.assignee_id)  # type: ignore[arg-type]
            raise Forbidden([reason("task_held", holder=holder)], holder=holder)
        grant = session.exec(select(RoleGrant).where(RoleGrant.user_id == to_user, RoleGrant.role == task.role,
                                                     RoleGrant.jurisdiction == task.jurisdiction)).first()
        if grant is None:
            role = label(f"role.{task.role}")
            raise Invalid([reason("delegate_role", field="user_id", role_zh=role["zh"], role_en=task.role)])
        task.assignee_id = to_user
        session.add(task)
        _record(session, case, task, actor, "task_delegated", {"to_user": to_user})

    return _task_command(db, actor, task_id, "delegate", idempotency_key, {"to_user": to_user}, work, respond)


def assign_least_loaded(db: Database, case_id: int, role: str) -> int | None:
    """Give the case's unassigned tasks of `role` to the holder of the role with the least open
    work in the jurisdiction (ties: the longest-standing account); recorded in the case's trail."""
    with db.write() as session:
        case = session.exec(select(Case).where(Case.id == case_id).with_for_update()).first()
        if case is None:
            return None
        tasks = list(session.exec(select(Task).where(Task.case_id == case_id, Task.status == "open",
                                                     Task.role == role, Task.assignee_id.is_(None),  # type: ignore[union-attr]
                                                     Task.candidate_user_id.is_(None))))  # type: ignore[union-attr]
        if not tasks:
            return None
        holders = list(session.exec(select(User.id).join(RoleGrant, RoleGrant.user_id == User.id).where(
            RoleGrant.role == role, RoleGrant.jurisdiction == case.jurisdiction, User.active == True)))  # noqa: E712
        if not holders:
            return None
        counted = session.execute(sa.select(Task.assignee_id, sa.func.count()).where(
            Task.status == "open", Task.assignee_id.in_(holders)).group_by(Task.assignee_id)).all()  # type: ignore[union-attr]
        load = {user: n for user, n in counted}
        chosen = min(holders, key=lambda u: (load.get(u, 0), u))
        for task in tasks:
            task.assignee_id = chosen
            session.add(task)
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
