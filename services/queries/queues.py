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
from services.store.records import AnyTask
from services.store.tables import Case, Organisation, Task, id_column, pk
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
    q = select(Task).where(col(Task.status) == "open")
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
    return q.where(*_filters(procedure, jurisdiction, kind, due_from, due_to))


def _filters(procedure: str | None, jurisdiction: str | None, kind: str | None, due_from: date | None,
             due_to: date | None) -> list[Any]:
    """The queue's filters, those given."""
    where = [col(column) == value for column, value in
             ((Task.procedure, procedure), (Task.jurisdiction, jurisdiction), (Task.kind, kind)) if value]
    if due_from:
        where.append(col(Task.due_on) >= due_from)
    if due_to:
        where.append(col(Task.due_on) <= due_to)
    return where


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


def _lane_pages(lane: Any, filters: list[Any], after: tuple[datetime, int] | None, limit: int,
                with_undated: bool) -> list[Any]:
    """One lane's next `limit + 1` task ids after the cursor, read straight off its index in index order:
    tasks with a deadline by (due_at, id), then (unless only dated tasks are asked for) those without by id."""
    undated_only = after is not None and after[0] >= FAR_FUTURE
    pages = []
    if not undated_only:
        dated = select(id_column(Task)).where(*filters, lane, col(Task.due_at).is_not(None))
        if after is not None:
            dated = dated.where(sa.tuple_(col(Task.due_at), col(Task.id)) > after)
        pages.append(dated.order_by(col(Task.due_at), col(Task.id)).limit(limit + 1))
    if with_undated:
        undated = select(id_column(Task)).where(*filters, lane, col(Task.due_at).is_(None))
        if after is not None and undated_only:
            undated = undated.where(col(Task.id) > after[1])
        pages.append(undated.order_by(col(Task.id)).limit(limit + 1))
    return pages


def list_tasks(session: Session, actor: Actor, *, view: View, procedure: str | None = None,
               jurisdiction: str | None = None, kind: str | None = None, limit: int = 50,
               cursor: str | None = None, due_from: date | None = None, due_to: date | None = None) -> TaskPage:
    """Ordered by (due_at, id), tasks without a deadline last. Each lane reads its first `limit + 1`
    tasks after the cursor straight off its index, in index order (tasks with a deadline, then those
    without by id), so neither a long queue nor a deep page makes the database sort the queue; the
    outer query orders the few rows the lanes return."""
    filters = [col(Task.status) == "open", *_filters(procedure, jurisdiction, kind, due_from, due_to)]
    if view == "overdue":
        filters.append(col(Task.due_at) < clock.now())
    after = _decode(cursor) if cursor else None
    branches = [page for lane in _lanes(actor, view, jurisdiction)
                for page in _lane_pages(lane, filters, after, limit, with_undated=view != "overdue")]
    if not branches:
        return TaskPage(items=[], next_cursor=None)
    ids = sa.union_all(*[sa.select(b.subquery().c.id) for b in branches]).subquery()
    q = select(Task).where(col(Task.id).in_(sa.select(ids.c.id)))
    rows = list(session.exec(q.order_by(sa.nulls_last(col(Task.due_at)), col(Task.id)).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    users = usernames(session, {t.assignee_id for t in rows if t.assignee_id})
    return TaskPage(items=[task_view(t, users) for t in rows],
                    next_cursor=_encode(rows[-1].due_at, pk(rows[-1])) if more and rows else None)


def task_reply(session: Session, task: AnyTask) -> dict[str, Any]:
    """A task as a command on it answers (claim, unclaim, delegate), as JSON: the reply is stored for a
    retry with the same Idempotency-Key."""
    view = task_view(task, usernames(session, {task.assignee_id} if task.assignee_id else set()))
    return view.model_dump(mode="json")


def _cases_matching(words: str) -> Any:
    """The cases a search names: by number (`#12` or `12`), the applicant's name or the project's title."""
    number = words.lstrip("#")
    title = col(Case.application)["title"].as_string()
    like = f"%{words}%"
    by_number = col(Case.id) == int(number) if number.isdigit() and len(number) < 10 else sa.false()
    return (select(col(Case.id)).outerjoin(Organisation, col(Organisation.id) == col(Case.applicant_org_id))
            .where(sa.or_(title.ilike(like), col(Organisation.name).ilike(like), by_number)))


def search_tasks(session: Session, actor: Actor, *, view: View | Literal["done"], text: str = "", sort: str = "due",
                 procedure: str | None = None, jurisdiction: str | None = None, kind: str | None = None,
                 due_from: date | None = None, due_to: date | None = None, limit: int = 50) -> list[TaskPublic]:
    """The queue page's search: open tasks of a view, or `done` (tasks I completed, newest first), matched
    on the case number (`#12` or `12`), the applicant's name or the project's title; sorted by due date,
    newest opened or case number. A person's own queue is short: the first `limit` rows, no cursor."""
    if view == "done":
        q = select(Task).where(col(Task.status) != "open", col(Task.closed_by) == actor.user_id,
                               *_filters(procedure, jurisdiction, kind, None, None))
    else:
        q = _queue(actor, view, procedure=procedure, jurisdiction=jurisdiction, kind=kind,
                   due_from=due_from, due_to=due_to)
    words = text.strip()
    if words:
        q = q.where(col(Task.case_id).in_(_cases_matching(words)))
    if view == "done":
        order: tuple[Any, ...] = (col(Task.closed_at).desc(), col(Task.id).desc())
    else:
        order = {"opened": (col(Task.opened_at).desc(), col(Task.id).desc()),
                 "case": (col(Task.case_id).desc(), col(Task.id))}.get(
            sort, (sa.nulls_last(col(Task.due_at)), col(Task.id)))
    rows = list(session.exec(q.order_by(*order).limit(limit)))
    users = usernames(session, {t.assignee_id for t in rows if t.assignee_id})
    return [task_view(t, users) for t in rows]


def count_done(session: Session, actor: Actor, jurisdiction: str | None = None) -> int:
    q = select(sa.func.count()).select_from(Task).where(col(Task.status) != "open",
                                                        col(Task.closed_by) == actor.user_id)
    if jurisdiction:
        q = q.where(col(Task.jurisdiction) == jurisdiction)
    return int(session.exec(q).one())
