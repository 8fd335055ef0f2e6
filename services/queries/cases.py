"""Read models: what a case, a task and an event look like to the person asking."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, select

from services.engine import statutory
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.command import allowed_actions
from services.engine.workdays import calendar
from services.procedures import documents
from services.procedures.reports import reporter_access
from services.store.tables import (
    AuditEvent,
    Case,
    Comment,
    MethodologyVersion,
    Notice,
    PanelMember,
    Project,
    Task,
    Timer,
    User,
)
from states.machine import procedure
from states.messages import label
from states.profiles import get_profile


@cache
def form_schema(form: type[BaseModel]) -> dict[str, Any]:
    return form.model_json_schema()


def task_view(t: Task, users: dict[int, str] | None = None) -> dict[str, Any]:
    users = users or {}
    return {
        "id": t.id, "case_id": t.case_id, "procedure": t.procedure, "jurisdiction": t.jurisdiction,
        "kind": t.kind, "label": label(f"task.{t.kind}"), "role": t.role, "state": t.state,
        "actions": t.triggers, "status": t.status,
        "candidate_user_id": t.candidate_user_id, "assignee_id": t.assignee_id,
        "assignee": users.get(t.assignee_id) if t.assignee_id else None,
        "opened_at": t.opened_at.isoformat(), "sla_days": t.sla_days,
        "due_on": t.due_on.isoformat() if t.due_on else None,
        "due_at": t.due_at.isoformat() if t.due_at else None,
        "provisional": t.due_provisional,
        "overdue": bool(t.status == "open" and t.due_at and t.due_at < clock.now()),
        "outcome": t.outcome,
    }


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.username for u in session.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr,misc]


def case_detail(session: Session, case: Case, actor: Actor) -> dict[str, Any]:
    spec = procedure(case.procedure, case.jurisdiction)
    profile = get_profile(case.jurisdiction)
    state = spec.state(case.state)
    now = clock.now()
    project = session.get(Project, case.project_id) if case.project_id else None
    tasks = list(session.exec(select(Task).where(Task.case_id == case.id, Task.status == "open").order_by(Task.id)))
    timers = list(session.exec(select(Timer).where(Timer.case_id == case.id, Timer.status == "pending")))
    users = _usernames(session, {t.assignee_id for t in tasks if t.assignee_id})
    actions = []
    for trigger in allowed_actions(actor, case, spec):
        arrow = spec.arrows(trigger, case.state)[0]
        actions.append({"action": trigger, "label": label(f"trigger.{trigger}"), "form_schema": form_schema(arrow.form),
                        "href": f"/api/v1/cases/{case.id}/actions/{trigger}"})
    panel = list(session.exec(select(PanelMember).where(PanelMember.case_id == case.id)))
    notices = {n.kind: n for n in session.exec(select(Notice).where(Notice.case_id == case.id).order_by(Notice.id))}
    filed = session.exec(select(MethodologyVersion).where(MethodologyVersion.case_id == case.id)).first()
    if project is None and filed is not None:
        subject: dict[str, Any] | None = {"id": filed.id, "kind": "methodology", "code": filed.code,
                                          "version": filed.version, "status": filed.status}
    else:
        subject = None if project is None else {
            "id": project.id, "kind": project.kind, "title": project.title, "status": project.status,
            "project_class": project.project_class, "registration_number": project.registration_number}
    comments = list(session.exec(select(Comment).where(Comment.case_id == case.id).order_by(Comment.id)))
    return {
        "id": case.id,
        "procedure": {"name": case.procedure, **label(f"procedure.{case.procedure}")},
        "jurisdiction": case.jurisdiction,
        "state": {"name": case.state, **label(f"state.{case.state}"), "terminal": state.terminal},
        "version": case.version,
        "subject": subject,
        "application": case.application,
        "submitted_on": case.submitted_on.isoformat() if case.submitted_on else None,
        "created_at": case.created_at.isoformat(), "updated_at": case.updated_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "allowed_actions": actions,
        "open_tasks": [task_view(t, users) for t in tasks],
        "timers": [{"kind": t.kind, "action": t.trigger, "fire_at": t.fire_at.isoformat(),
                    "provisional": t.provisional} for t in timers],
        "clock": statutory.summary(session, case, profile, calendar(session), now) if profile else None,
        "panel": [{"user_id": m.user_id, "chair": m.chair, "opinion": m.opinion, "score": m.score}
                  for m in panel],
        "publicity": notice_view(notices["publicity"]) if "publicity" in notices else None,
        "consultation": notice_view(notices["consultation"]) if "consultation" in notices else None,
        "comments": [{"id": c.id, "name": c.name, "organisation": c.organisation, "text": c.text,
                      "answer": c.answer, "disposition": c.disposition} for c in comments],
        "documents": documents.of_case(session, case, actor),
        # a report: who handles it and who read the reporter's identity (never the identity itself:
        # an assigned handler reads it through `POST /cases/{id}/reporter`, audited)
        "reporter_access": reporter_access(session, case, actor),
    }


def notice_view(n: Notice) -> dict[str, Any]:
    return {"case_id": n.case_id, "jurisdiction": n.jurisdiction, "title": n.title,
            "published_on": n.published_on.isoformat(), "first_day": n.first_day.isoformat(),
            "last_day": n.last_day.isoformat(), "closes_at": n.closes_at.isoformat(),
            "provisional": n.provisional, "status": n.status,
            "objections_href": f"/api/v1/public/publicity/{n.case_id}/objections"}


def event_view(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at.isoformat(), "event": e.event, "label": label(f"trigger.{e.event}"),
            "actor_id": e.actor_id, "actor_role": e.actor_role, "from_state": e.from_state,
            "to_state": e.to_state, "payload": e.payload, "hash": e.hash}
