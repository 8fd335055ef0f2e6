"""Work queues and the commands on a task itself: claim, unclaim, delegate.

Views (issue: GET /api/v1/tasks?view=…): `mine` (assigned to me), `team` (open tasks whose role I
hold in their jurisdiction, addressed to nobody in particular or to me), `unassigned` (team tasks
nobody claimed) and `overdue` (mine or team, past due). Ordered by due time, keyset-paginated on
(due_at, id) so a deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, select

from services.accounts.identity import Actor
from services.engine import audit
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.queries.cases import _usernames, task_view
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import Case, Outbox, RoleGrant, Task, User
from states.messages import label, reason

View = Literal["mine", "team", "unassigned", "overdue"]
# Tasks without a deadline sort last.
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


def _encode(due_at: datetime | None, task_id: int) -> str:
    raw = f"{(due_at or FAR_FUTURE).isoformat()}|{task_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        due, tid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment, task_id = datetime.fromisoformat(due), int(tid)
        moment.astimezone(UTC)  # an instant that cannot be expressed in UTC is no cursor of ours
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid([reason("bad_cursor", field="cursor")]) from exc
    if moment.tzinfo is None or not 0 < task_id < 2**31 or not 1 < moment.year < 9999:
        raise Invalid([reason("bad_cursor", field="cursor")])
    return moment, task_id


def _queue(actor: Actor, view: View, *, procedure: str | None = None, jurisdiction: str | None = None,
           kind: str | None = None, due_from: date | None = None, due_to: date | None = None) -> Any:  # noqa: ANN401
    """The open tasks in one view of the actor's queue, with the filters applied (no order, no page)."""
    q = select(Task).where(Task.status == "open")
    mine = Task.assignee_id == actor.user_id
    pairs = [(r, j) for r, j in actor.grants]
    team = sa.and_(
        sa.or_(*[sa.and_(Task.role == r, Task.jurisdiction == j) for r, j in pairs]) if pairs else sa.false(),
        sa.or_(Task.candidate_user_id.is_(None), Task.candidate_user_id == actor.user_id),  # type: ignore[union-attr]
        sa.or_(Task.candidate_org_id.is_(None), Task.candidate_org_id == actor.org_id),  # type: ignore[union-attr]
    )
    if view == "mine":
        q = q.where(mine)
    elif view == "team":
        q = q.where(team)
    elif view == "unassigned":
        q = q.where(team, Task.assignee_id.is_(None))  # type: ignore[union-attr]
    else:
        q = q.where(sa.or_(mine, team), Task.due_at < clock.now())  # type: ignore[operator]
    if procedure:
        q = q.where(Task.procedure == procedure)
    if jurisdiction:
        q = q.where(Task.jurisdiction == jurisdiction)
    if kind:
        q = q.where(Task.kind == kind)
    if due_from:
        q = q.where(Task.due_on >= due_from)  # type: ignore[operator]
    if due_to:
        q = q.where(Task.due_on <= due_to)  # type: ignore[operator]
    return q


def count_tasks(session: Session, actor: Actor, **filters: Any) -> dict[str, int]:  # noqa: ANN401
    """How many tasks each view holds, with the same filters (the tabs of the queue page)."""
    views: tuple[View, ...] = ("mine", "team", "unassigned", "overdue")
    return {v: session.exec(select(sa.func.count()).select_from(_queue(actor, v, **filters).subquery())).one()
            for v in views}


def _lanes(actor: Actor, view: View, jurisdiction: str | None) -> list[Any]:
    """The view as disjoint-or-overlapping lanes, each one index range: the actor's assigned tasks
    (ix_tasks_assignee) or one (role, jurisdiction) grant (ix_tasks_queue)."""
    mine = Task.assignee_id == actor.user_id
    addressed = sa.and_(
        sa.or_(Task.candidate_user_id.is_(None), Task.candidate_user_id == actor.user_id),  # type: ignore[union-attr]
        sa.or_(Task.candidate_org_id.is_(None), Task.candidate_org_id == actor.org_id),  # type: ignore[union-attr]
    )
    team = [sa.and_(Task.role == r, Task.jurisdiction == j, addressed)
            for r, j in sorted(actor.grants) if jurisdiction in (None, j)]
    if view == "mine":
        return [mine]
    if view == "team":
        return team
    if view == "unassigned":
        return [sa.and_(lane, Task.assignee_id.is_(None)) for lane in team]  # type: ignore[union-attr]
    return [mine, *team]  # overdue: mine or team (a task in both lanes is listed once)


def list_tasks(session: Session, actor: Actor, *, view: View, procedure: str | None = None,
               jurisdiction: str | None = None, kind: str | None = None, limit: int = 50,
               cursor: str | None = None, due_from: date | None = None, due_to: date | None = None) -> dict[str, Any]:
    """Ordered by (due_at, id), tasks without a deadline last. Each lane reads its first `limit + 1`
    tasks after the cursor straight off its index, in index order (tasks with a deadline, then those
    without by id), so neither a long queue nor a deep page makes the database sort the queue; the
    outer query orders the few rows the lanes return."""
    filters = [Task.status == "open"]
    if procedure:
        filters.append(Task.procedure == procedure)
    if jurisdiction:
        filters.append(Task.jurisdiction == jurisdiction)
    if kind:
        filters.append(Task.kind == kind)
    if due_from:
        filters.append(Task.due_on >= due_from)  # type: ignore[operator]
    if due_to:
        filters.append(Task.due_on <= due_to)  # type: ignore[operator]
    if view == "overdue":
        filters.append(Task.due_at < clock.now())  # type: ignore[operator]
    after = _decode(cursor) if cursor else None
    undated_only = after is not None and after[0] >= FAR_FUTURE
    branches = []
    for lane in _lanes(actor, view, jurisdiction):
        if not undated_only:
            dated = select(Task.id).where(*filters, lane, Task.due_at.is_not(None))  # type: ignore[union-attr]
            if after:
                dated = dated.where(sa.tuple_(Task.due_at, Task.id) > sa.tuple_(*after))
            branches.append(dated.order_by(Task.due_at, Task.id).limit(limit + 1))
        if view != "overdue":
            undated = select(Task.id).where(*filters, lane, Task.due_at.is_(None))  # type: ignore[union-attr]
            if undated_only:
                undated = undated.where(Task.id > after[1])  # type: ignore[index]
            branches.append(undated.order_by(Task.id).limit(limit + 1))
    if not branches:
        return {"items": [], "next_cursor": None}
    ids = sa.union_all(*[sa.select(b.subquery().c.id) for b in branches]).subquery()
    q = select(Task).where(Task.id.in_(sa.select(ids.c.id)))  # type: ignore[union-attr]
    rows = list(session.exec(q.order_by(sa.nulls_last(Task.due_at), Task.id).limit(limit + 1)))  # type: ignore[arg-type]
    more = len(rows) > limit
    rows = rows[:limit]
    users = _usernames(session, {t.assignee_id for t in rows if t.assignee_id})
    return {
        "items": [task_view(t, users) for t in rows],
        "next_cursor": _encode(rows[-1].due_at, rows[-1].id) if more and rows else None,  # type: ignore[arg-type]
    }


# --- commands on a task ------------------------------------------------------------------------


def _locked_task(session: Session, task_id: int, actor: Actor) -> tuple[Task, Case]:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound.of("任务", "Task")
    # lock the case first: its audit chain is appended to, and a command may be closing the task
    case = session.exec(select(Case).where(Case.id == task.case_id).with_for_update()).one()
    session.refresh(task)
    if not actor.holds(task.role, task.jurisdiction) and task.assignee_id != actor.user_id:
        raise NotFound.of("任务", "Task")
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
                  work: Callable[[Session, Task, Case], dict[str, Any]]) -> dict[str, Any]:
    """A command on a task: its case locked, the task re-read, one transaction, safe to retry."""
    def run(session: Session) -> Reply:
        task, case = _locked_task(session, task_id, actor)
        return 200, work(session, task, case)

    return once(db, Idem(actor.key, key, {"task": task_id, "command": command, **body}), run)[1]


def claim(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None) -> dict[str, Any]:
    def work(session: Session, task: Task, case: Case) -> dict[str, Any]:
        if task.candidate_user_id not in (None, actor.user_id):
            raise Forbidden([reason("task_personal")])
        if task.assignee_id not in (None, actor.user_id):
            holder = _holder(session, task.assignee_id)  # type: ignore[arg-type]
            raise Conflict([reason("task_claimed", holder=holder)], holder=holder)
        if task.assignee_id != actor.user_id:  # claiming what one holds already changes nothing
            task.assignee_id = actor.user_id
            session.add(task)
            _record(session, case, task, actor, "task_claimed", {})
        return task_view(task, {actor.user_id: actor.username})  # type: ignore[dict-item]

    return _task_command(db, actor, task_id, "claim", idempotency_key, {}, work)


def unclaim(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None) -> dict[str, Any]:
    def work(session: Session, task: Task, case: Case) -> dict[str, Any]:
        if task.assignee_id != actor.user_id:
            raise Forbidden([reason("task_not_claimed_by_you")])
        task.assignee_id = None
        session.add(task)
        _record(session, case, task, actor, "task_unclaimed", {})
        return task_view(task)

    return _task_command(db, actor, task_id, "unclaim", idempotency_key, {}, work)


def delegate(db: Database, task_id: int, actor: Actor, to_user: int, idempotency_key: str | None = None
             ) -> dict[str, Any]:
    """The holder (or, for an unclaimed task, anyone holding its role) hands it to a colleague who
    holds the same role in the same jurisdiction."""
    def work(session: Session, task: Task, case: Case) -> dict[str, Any]:
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
        return task_view(task, _usernames(session, {to_user}))

    return _task_command(db, actor, task_id, "delegate", idempotency_key, {"to_user": to_user}, work)


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


def acknowledge(db: Database, task_id: int, actor: Actor, idempotency_key: str | None = None) -> dict[str, Any]:
    """An approver acknowledges an SLA escalation in their queue: the escalation task closes."""
    def work(session: Session, task: Task, case: Case) -> dict[str, Any]:
        if task.kind != "sla_escalation":
            raise Invalid([reason("trigger_not_of_task", allowed=", ".join(task.triggers))])
        if task.assignee_id not in (None, actor.user_id):
            holder = _holder(session, task.assignee_id)  # type: ignore[arg-type]
            raise Forbidden([reason("task_held", holder=holder)], holder=holder)
        task.status, task.closed_at, task.closed_by, task.outcome = "completed", clock.now(), actor.user_id, \
            "acknowledge_escalation"
        session.add(task)
        _record(session, case, task, actor, "escalation_acknowledged", {})
        return task_view(task)

    return _task_command(db, actor, task_id, "acknowledge", idempotency_key, {}, work)
