"""The work queue: the home page of case officers, review centres, approvers, operators and verifiers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BeforeValidator
from sqlmodel import Session, col, select

from services.api.deps import get_db
from services.engine import assignment
from services.engine.actors import Actor
from services.engine.calendar import WorkingCalendar, local_date
from services.engine.clock import clock
from services.engine.errors import Invalid
from services.engine.workdays import calendar
from services.queries import queues
from services.queries.queues import View
from services.queries.schemas import plain
from services.store.tables import Case, Organisation, RoleGrant, User
from services.web.deps import CheckedForm, SignedIn, form_key, wearing
from services.web.pages import render
from states.machine import PROCEDURES, ProcedureUnavailable, procedure
from states.messages import reason

router = APIRouter(include_in_schema=False)

QUEUE_ROLES = ("case_officer", "review_centre", "approver", "operator", "verifier")
VIEWS = ("mine", "team", "unassigned", "overdue", "done")
SORTS = ("due", "opened", "case")


def working_days_left(cal: WorkingCalendar, today: date, due_on: date | None, jurisdiction: str) -> int | None:
    """Working days from today to the due day: 0 = due today, negative = overdue by that many."""
    if due_on is None:
        return None
    if due_on >= today:
        return cal.working_days_between(today, due_on, jurisdiction).days
    return -cal.working_days_between(due_on, today, jurisdiction).days


# A filter form left blank sends `due_from=`: that means "no bound", not a malformed date.
OptionalDate = Annotated[date | None, BeforeValidator(lambda v: v or None)]


@router.get("/work")
def work_queue(request: Request, signed: SignedIn,
               view: Literal["mine", "team", "unassigned", "overdue", "done"] = "team",
               procedure: Annotated[str | None, Query(max_length=40)] = None,
               kind: Annotated[str | None, Query(max_length=40)] = None,
               due_from: OptionalDate = None, due_to: OptionalDate = None,
               q: Annotated[str, Query(max_length=100)] = "",
               sort: Literal["due", "opened", "case"] = "due",
               cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    jurisdiction = wearing(signed, *QUEUE_ROLES)
    assert signed.hat is not None, "wearing() made sure a queue role's hat is worn"
    actor = signed.actor
    filters: dict[str, Any] = {"procedure": procedure or None, "jurisdiction": jurisdiction, "kind": kind or None,
                               "due_from": due_from, "due_to": due_to}
    with get_db(request).read() as session:
        page = _page(session, actor, view, q, sort, cursor, filters)
        counts = _counts(session, actor, filters)
        today = local_date(clock.now())
        _annotate(session, page["items"], today)
        colleagues = _colleagues(session, signed.hat[0], jurisdiction)
    kinds = sorted({t.kind for name in PROCEDURES for t in _tasks_of(name, jurisdiction)})
    return render(request, "queue.html", view=view, views=VIEWS, page=page, counts=counts, filters=filters,
                  procedures=sorted(PROCEDURES), kinds=kinds, colleagues=colleagues, today=today, q=q, sort=sort,
                  sorts=SORTS)


def _page(session: Session, actor: Actor, view: View | Literal["done"], q: str, sort: str, cursor: str | None,
          filters: dict[str, Any]) -> dict[str, Any]:
    """A searched, sorted or done view in one page; the default view (open work by due date) by cursor."""
    if view == "done" or q.strip() or sort != "due":
        return {"items": [plain(t) for t in queues.search_tasks(session, actor, view=view, text=q, sort=sort,
                                                                **filters)], "next_cursor": None}
    return plain(queues.list_tasks(session, actor, view=view, cursor=cursor, limit=25, **filters))


def _annotate(session: Any, items: list[dict[str, Any]], today: date) -> None:
    """Each task with its working days left, its case's title, the applicant and the assignee by name."""
    cal = calendar(session)
    case_ids = {t["case_id"] for t in items}
    cases = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_(case_ids)))} if case_ids else {}
    orgs = {o.id: o.name for o in session.exec(select(Organisation).where(
        col(Organisation.id).in_({c.applicant_org_id for c in cases.values() if c.applicant_org_id})))}
    people = {u.id: u.display_name for u in session.exec(select(User).where(
        col(User.id).in_({t["assignee_id"] for t in items if t["assignee_id"]})))}
    for t in items:
        t["days_left"] = working_days_left(cal, today, date.fromisoformat(t["due_on"]) if t["due_on"] else None,
                                           t["jurisdiction"])
        case = cases.get(t["case_id"])
        t["title"] = (case.application.get("title") or "") if case else ""
        t["applicant"] = orgs.get(case.applicant_org_id, "") if case and case.applicant_org_id else ""
        t["assignee_name"] = people.get(t["assignee_id"] or 0, "")


def _colleagues(session: Any, role: str, jurisdiction: str) -> list[User]:
    """Whom work may be delegated to: the active holders of my role here."""
    return list(session.exec(
        select(User).join_from(User, RoleGrant, col(User.id) == col(RoleGrant.user_id))
        .where(col(RoleGrant.role) == role, col(RoleGrant.jurisdiction) == jurisdiction, col(User.active).is_(True))
        .order_by(col(User.username))))


def _counts(session: Any, actor: Any, filters: dict[str, Any]) -> dict[str, int]:
    return {**queues.count_tasks(session, actor, **filters),
            "done": queues.count_done(session, actor, filters["jurisdiction"])}


@router.get("/work/counts")
def work_counts(request: Request, signed: SignedIn,
                view: Literal["mine", "team", "unassigned", "overdue", "done"] = "team",
                procedure: Annotated[str | None, Query(max_length=40)] = None,
                kind: Annotated[str | None, Query(max_length=40)] = None,
                due_from: OptionalDate = None, due_to: OptionalDate = None,
                q: Annotated[str, Query(max_length=100)] = "",
                sort: Literal["due", "opened", "case"] = "due") -> Response:
    """The queue's tabs with fresh counts: the page polls it (htmx) so counts move without a reload."""
    jurisdiction = wearing(signed, *QUEUE_ROLES)
    filters: dict[str, Any] = {"procedure": procedure or None, "jurisdiction": jurisdiction, "kind": kind or None,
                               "due_from": due_from, "due_to": due_to}
    with get_db(request).read() as session:
        counts = _counts(session, signed.actor, filters)
    return render(request, "_queue_tabs.html", view=view, views=VIEWS, counts=counts, filters=filters, q=q, sort=sort)


def _tasks_of(name: str, jurisdiction: str) -> list[Any]:
    try:
        spec = procedure(name, jurisdiction)
    except ProcedureUnavailable:  # a procedure a jurisdiction doesn't run (Jiaxing registration)
        return []
    return [task for s in spec.states for task in s.tasks]


@router.post("/work/tasks/{task_id}/{command}")
async def task_command(task_id: int, command: Literal["claim", "unclaim", "delegate"], request: Request,
                       signed: SignedIn, form: CheckedForm) -> Response:
    db = get_db(request)
    back = str(form.get("back") or "/work")
    if not back.startswith("/") or back.startswith("//"):
        back = "/work"
    if command == "delegate":
        raw = str(form.get("user_id") or "")
        if not raw.isdigit():
            raise Invalid([reason("user_required", field="user_id")])
        await run_in_threadpool(assignment.delegate, db, task_id, signed.actor, int(raw), form_key(form))
    else:
        await run_in_threadpool(getattr(assignment, command), db, task_id, signed.actor, form_key(form))
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}ok={command}", status_code=303)
