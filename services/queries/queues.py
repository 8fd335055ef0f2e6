"""Work queues (the commands on a task itself, claim, unclaim and delegate, are services.engine.assignment).

Views (issue: GET /api/v1/tasks?view=…): `mine` (assigned to me), `team` (open tasks whose role I
hold in their jurisdiction, addressed to nobody in particular or to me), `unassigned` (team tasks
nobody claimed) and `overdue` (mine or team, past due). Ordered by due time, keyset-paginated on
(due_at, id) so a deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Invalid
from services.queries.cases import TaskPublic, task_view, usernames
from services.queries.schemas import Items
from services.store.tables import Task
from states.messages import reason

View = Literal["mine", "team", "unassigned", "overdue"]


class TaskPage(Items[TaskPublic]):
    """A page of a work queue, ordered by due time (tasks without a deadline last)."""

    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
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
           kind: str | None = None, due_from: date | None = None, due_to: date | None = None) -> Any:
    """The open tasks in one view of the actor's queue, with the filters applied (no order, no page)."""
    q = select(Task).where(Task.status == "open")
    mine = col(Task.assignee_id) == actor.user_id
    pairs = [(r, j) for r, j in actor.grants]
    team = sa.and_(
        sa.or_(*[sa.and_(col(Task.role) == r, col(Task.jurisdiction) == j) for r, j in pairs]) if pairs else sa.false(),
        sa.or_(col(Task.candidate_user_id).is_(None), col(Task.candidate_user_id) == actor.user_id),
        sa.or_(col(Task.candidate_org_id).is_(None), col(Task.candidate_org_id) == actor.org_id),
    )
    if view == "mine":
        q = q.where(mine)
    elif view == "team":
        q = q.where(team)
    elif view == "unassigned":
        q = q.where(team, col(Task.assignee_id).is_(None))
    else:
        q = q.where(sa.or_(mine, team), col(Task.due_at) < clock.now())
    if procedure:
        q = q.where(Task.procedure == procedure)
    if jurisdiction:
        q = q.where(Task.jurisdiction == jurisdiction)
    if kind:
        q = q.where(col(Task.kind) == kind)
    if due_from:
        q = q.where(col(Task.due_on) >= due_from)
    if due_to:
        q = q.where(col(Task.due_on) <= due_to)
    return q


def count_tasks(session: Session, actor: Actor, **filters: Any) -> dict[str, int]:
    """How many tasks each view holds, with the same filters (the tabs of the queue page)."""
    views: tuple[View, ...] = ("mine", "team", "unassigned", "overdue")
    return {v: session.exec(select(sa.func.count()).select_from(_queue(actor, v, **filters).subquery())).one()
            for v in views}


def _lanes(actor: Actor, view: View, jurisdiction: str | None) -> list[Any]:
    """The view as disjoint-or-overlapping lanes, each one index range: the actor's assigned tasks
    (ix_tasks_assignee) or one (role, jurisdiction) grant (ix_tasks_queue)."""
    mine = col(Task.assignee_id) == actor.user_id
    addressed = sa.and_(
        sa.or_(col(Task.candidate_user_id).is_(None), col(Task.candidate_user_id) == actor.user_id),
        sa.or_(col(Task.candidate_org_id).is_(None), col(Task.candidate_org_id) == actor.org_id),
    )
    team = [sa.and_(col(Task.role) == r, col(Task.jurisdiction) == j, addressed)
            for r, j in sorted(actor.grants) if jurisdiction in (None, j)]
    if view == "mine":
        return [mine]
    if view == "team":
        return team
    if view == "unassigned":
        return [sa.and_(lane, col(Task.assignee_id).is_(None)) for lane in team]
    return [mine, *team]  # overdue: mine or team (a task in both lanes is listed once)


def list_tasks(session: Session, actor: Actor, *, view: View, procedure: str | None = None,
               jurisdiction: str | None = None, kind: str | None = None, limit: int = 50,
               cursor: str | None = None, due_from: date | None = None, due_to: date | None = None) -> TaskPage:
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
        filters.append(col(Task.kind) == kind)
    if due_from:
        filters.append(col(Task.due_on) >= due_from)
    if due_to:
        filters.append(col(Task.due_on) <= due_to)
    if view == "overdue":
        filters.append(col(Task.due_at) < clock.now())
    after = _decode(cursor) if cursor else None
    undated_only = after is not None and after[0] >= FAR_FUTURE
    branches = []
    for lane in _lanes(actor, view, jurisdiction):
        if not undated_only:
            dated = select(col(Task.id)).where(*filters, lane, col(Task.due_at).is_not(None))
            if after:
                dated = dated.where(sa.tuple_(col(Task.due_at), col(Task.id)) > sa.tuple_(*after))
            branches.append(dated.order_by(col(Task.due_at), col(Task.id)).limit(limit + 1))
        if view != "overdue":
            undated = select(col(Task.id)).where(*filters, lane, col(Task.due_at).is_(None))
            if undated_only:
                undated = undated.where(col(Task.id) > after[1])  # type: ignore[index]
            branches.append(undated.order_by(col(Task.id)).limit(limit + 1))
    if not branches:
        return TaskPage(items=[], next_cursor=None)
    ids = sa.union_all(*[sa.select(b.subquery().c.id) for b in branches]).subquery()
    q = select(Task).where(col(Task.id).in_(sa.select(ids.c.id)))
    rows = list(session.exec(q.order_by(sa.nulls_last(col(Task.due_at)), col(Task.id)).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    users = usernames(session, {t.assignee_id for t in rows if t.assignee_id})
    return TaskPage(items=[task_view(t, users) for t in rows],
                    next_cursor=_encode(rows[-1].due_at, rows[-1].id) if more and rows else None)  # type: ignore[arg-type]


def task_reply(session: Session, task: Task) -> dict[str, Any]:
    """A task as a command on it answers (claim, unclaim, delegate), as JSON: the reply is stored for a
    retry with the same Idempotency-Key."""
    view = task_view(task, usernames(session, {task.assignee_id} if task.assignee_id else set()))
    return view.model_dump(mode="json")


def search_tasks(session: Session, actor: Actor, *, view: str, text: str = "", sort: str = "due",
                 procedure: str | None = None, jurisdiction: str | None = None, kind: str | None = None,
                 due_from: date | None = None, due_to: date | None = None, limit: int = 50) -> list[TaskPublic]:
    """The queue page's search: open tasks of a view, or `done` (tasks I completed, newest first), matched
    on the case number (`#12` or `12`), the applicant's name or the project's title; sorted by due date,
    newest opened or case number. A person's own queue is short: the first `limit` rows, no cursor."""
    from services.store.tables import Case, Organisation

    if view == "done":
        q = select(Task).where(Task.status != "open", Task.closed_by == actor.user_id)
        if jurisdiction:
            q = q.where(Task.jurisdiction == jurisdiction)
        for column, value in ((Task.procedure, procedure), (Task.kind, kind)):
            if value:
                q = q.where(column == value)
    else:
        q = _queue(actor, view, procedure=procedure, jurisdiction=jurisdiction, kind=kind,  # type: ignore[arg-type]
                   due_from=due_from, due_to=due_to)
    words = text.strip()
    if words:
        number = words.lstrip("#")
        title = Case.application["title"].as_string()  # type: ignore[index]
        like = f"%{words}%"
        matched = select(Case.id).outerjoin(Organisation, Organisation.id == Case.applicant_org_id).where(
            sa.or_(title.ilike(like), Organisation.name.ilike(like),  # type: ignore[attr-defined]
                   Case.id == int(number) if number.isdigit() and len(number) < 10 else sa.false()))
        q = q.where(Task.case_id.in_(matched))  # type: ignore[attr-defined]
    if view == "done":
        order: tuple[Any, ...] = (sa.desc(Task.closed_at), sa.desc(Task.id))
    else:
        order = {"opened": (sa.desc(Task.opened_at), sa.desc(Task.id)),
                 "case": (sa.desc(Task.case_id), Task.id)}.get(sort, (sa.nulls_last(Task.due_at), Task.id))  # type: ignore[arg-type]
    rows = list(session.exec(q.order_by(*order).limit(limit)))
    users = usernames(session, {t.assignee_id for t in rows if t.assignee_id})
    return [task_view(t, users) for t in rows]


def count_done(session: Session, actor: Actor, jurisdiction: str | None = None) -> int:
    q = select(sa.func.count()).select_from(Task).where(Task.status != "open", Task.closed_by == actor.user_id)
    if jurisdiction:
        q = q.where(Task.jurisdiction == jurisdiction)
    return int(session.exec(q).one())
