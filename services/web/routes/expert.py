"""The expert workspace: my panels, a case's materials, my opinion (or declining the seat), and the
chair's conclusion with the members' opinions side by side.

Every command is the case's own action (`record_opinion`, `decline_panel`, `panel_pass|revise|reject`)
fired through `services.engine.cases.fire`, so the engine's rules (a member without an opinion yet, the chair
with a quorum) decide; the page only draws their forms and shows their reasons beside the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from services.api.deps import get_db
from services.engine import visibility
from services.engine.actors import Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.workdays import calendar
from services.queries.cases import case_detail
from services.queries.schemas import plain
from services.store.tables import AuditEvent, Case, PanelMember, Task, User, pk
from services.web.actions import fire_posted, posted_strings
from services.web.brief import application_rows, panel_view
from services.web.deps import CheckedForm, SignedIn, form_key, wearing
from services.web.pages import render
from services.web.routes.queue import working_days_left
from services.web.schema_forms import fields
from states.messages import CATALOGUE, Reason, reason
from states.profiles import get_profile
from states.rules import panel_quorum

router = APIRouter(include_in_schema=False)

CONCLUSIONS = ("panel_pass", "panel_revise", "panel_reject")
# The opinions the technical review gave before the panel: what the experts read with the materials.
REVIEW_EVENTS = ("pass_review", "fail_review")
# A declared conflict keeps the expert off this case for good (services/procedures/panels.py), so say so on the box.
CONFLICT_LABEL = CATALOGUE["checkbox.conflict"]


def _due(cal: Any, today: date, task: Task) -> dict[str, Any]:
    return {"kind": task.kind, "due_on": task.due_on, "provisional": task.due_provisional,
            "days_left": working_days_left(cal, today, task.due_on, task.jurisdiction)}


def my_panels(session: Session, actor: Actor, jurisdiction: str) -> list[dict[str, Any]]:
    """Every seat I hold or held in the jurisdiction; open ones (the panel still sitting) first,
    soonest due first."""
    rows = list(session.exec(select(PanelMember, Case).join(Case, col(Case.id) == col(PanelMember.case_id)).where(
        col(PanelMember.user_id) == actor.user_id, col(Case.jurisdiction) == jurisdiction)))
    ids = [c.id for _, c in rows]
    tasks = list(session.exec(select(Task).where(col(Task.case_id).in_(ids), col(Task.status) == "open",
                                                 col(Task.candidate_user_id) == actor.user_id))) if ids else []
    cal, today = calendar(session), local_date(clock.now())
    items = []
    for member, case in rows:
        mine = [_due(cal, today, t) for t in tasks if t.case_id == case.id]
        items.append({"case_id": case.id, "title": case.application.get("title") or "", "procedure": case.procedure,
                      "state": case.state, "chair": member.chair, "status": member.status,
                      "opinion": member.opinion, "score": member.score,
                      "open": member.status == "active" and case.state == "expert_review", "tasks": mine})
    far = date.max

    def order(item: dict[str, Any]) -> tuple[Any, ...]:
        due = min((t["due_on"] for t in item["tasks"] if t["due_on"]), default=far)
        return (not item["open"], due, -item["case_id"])

    return sorted(items, key=order)


@router.get("/expert")
def expert_home(request: Request, signed: SignedIn) -> Response:
    jurisdiction = wearing(signed, "expert")
    with get_db(request).read() as session:
        panels = my_panels(session, signed.actor, jurisdiction)
    return render(request, "expert.html", panels=panels, open_count=sum(p["open"] for p in panels))


def _review_opinions(session: Session, case_id: int, names: dict[int, str]) -> list[dict[str, Any]]:
    events = session.exec(select(AuditEvent).where(col(AuditEvent.stream) == f"case:{case_id}",
                                                   col(AuditEvent.event).in_(REVIEW_EVENTS))
                          .order_by(col(AuditEvent.seq)))
    return [{"at": e.at, "event": e.event, "role": e.actor_role, "by": names.get(e.actor_id or 0, ""),
             "opinion": (e.payload.get("form") or {}).get("opinion", ""),
             "report_sha256": (e.payload.get("form") or {}).get("report_sha256")} for e in events]


@dataclass(frozen=True)
class Attempt:
    """The form last posted on the page (`failed`) with its values and reasons; nothing on a plain visit."""

    failed: str | None = None
    values: dict[str, Any] | None = None
    reasons: list[Reason] | None = None

    def of(self, key: str) -> tuple[dict[str, Any] | None, list[Reason] | None]:
        return (self.values, self.reasons) if self.failed == key else (None, None)


def _action_form(allowed: dict[str, Any], key: str, trigger: str, attempt: Attempt) -> dict[str, Any] | None:
    """An action's form drawn from its schema, when the action is open to me now."""
    action = allowed.get(trigger)
    if action is None:
        return None
    values, reasons = attempt.of(key)
    drawn, loose = fields(action["form_schema"], values, reasons)
    for f in drawn:
        if f.name == "conflict":
            f.label = CONFLICT_LABEL
    return {"fields": drawn, "loose": loose, "open": attempt.failed == key}


def _conclusion_form(allowed: dict[str, Any], me: PanelMember | None, attempt: Attempt) -> dict[str, Any] | None:
    """The chair's conclusion: one of the outcomes open now, with the text of the conclusion."""
    if me is None or not me.chair or not any(t in allowed for t in CONCLUSIONS):
        return None
    form = _action_form(allowed, "conclusion", CONCLUSIONS[0], attempt)
    if form is None:
        return None
    values, reasons = attempt.of("conclusion")
    return form | {"outcomes": [t for t in CONCLUSIONS if t in allowed], "chosen": (values or {}).get("outcome", ""),
                   "outcome_errors": [r for r in reasons or [] if r.field == "outcome"]}


def _names(session: Session, case: Case, members: list[PanelMember]) -> dict[int, str]:
    """Display names of the panel and of whoever reviewed or concluded (never `#62`)."""
    actors = set(session.exec(select(col(AuditEvent.actor_id)).where(
        col(AuditEvent.stream) == f"case:{case.id}", col(AuditEvent.event).in_((*REVIEW_EVENTS, *CONCLUSIONS)))))
    ids = {m.user_id for m in members} | {a for a in actors if a}
    return {u.id: u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids))) if u.id}


def _seat(m: PanelMember, names: dict[int, str], actor: Actor) -> dict[str, Any]:
    return {"user_id": m.user_id, "name": names.get(m.user_id, ""), "chair": m.chair, "status": m.status,
            "opinion": m.opinion, "score": m.score, "comments": m.comments, "at": m.opinion_at,
            "reason": m.declined_reason, "me": m.user_id == actor.user_id}


def _conclusion(session: Session, case: Case, names: dict[int, str]) -> dict[str, Any] | None:
    """The panel's latest conclusion with its text and dissent: it stays on the page once given."""
    events = list(session.exec(select(AuditEvent).where(
        col(AuditEvent.stream) == f"case:{case.id}", col(AuditEvent.event).in_(CONCLUSIONS))
        .order_by(col(AuditEvent.seq))))
    return panel_view(session, case, events, names)["conclusion"] if events else None


def workspace(session: Session, case: Case, actor: Actor, failed: str | None = None,
              values: dict[str, Any] | None = None, reasons: list[Reason] | None = None) -> dict[str, Any]:
    """What the workspace page shows; the form that failed keeps its values and its reasons."""
    detail = plain(case_detail(session, case, actor))
    members = list(session.exec(select(PanelMember).where(col(PanelMember.case_id) == case.id)
                                .order_by(col(PanelMember.id))))
    names = _names(session, case, members)
    active = [m for m in members if m.status == "active"]
    me = next((m for m in active if m.user_id == actor.user_id), None)
    allowed = {a["action"]: a for a in detail["allowed_actions"]}
    profile = get_profile(case.jurisdiction)
    attempt = Attempt(failed, values, reasons)
    waiting = me is not None and me.opinion is None
    forms = {"opinion_form": _action_form(allowed, "opinion", "record_opinion", attempt) if waiting else None,
             "decline_form": _action_form(allowed, "decline", "decline_panel", attempt) if waiting else None,
             "conclusion_form": _conclusion_form(allowed, me, attempt)}
    # a refusal for a form no longer drawn (the panel moved on meanwhile) is said above the page
    refused = (reasons or []) if failed and forms.get(f"{failed}_form") is None else []
    return {
        **forms, "refused": refused, "case": detail, "me": me,
        "members": [_seat(m, names, actor) for m in members],
        "opinions_given": sum(m.opinion is not None for m in active), "seats": len(active),
        "quorum": panel_quorum(profile.panel.quorum_share, len(active)) if profile and active else 0,
        "review": _review_opinions(session, pk(case), names), "conclusion": _conclusion(session, case, names),
        "application": application_rows(session, case),
    }


def _page(request: Request, signed: Any, case_id: int, status: int = 200, **kw: Any) -> Response:
    with get_db(request).read() as session:
        context = workspace(session, visibility.visible_case(session, signed.actor, case_id), signed.actor, **kw)
    return render(request, "expert_case.html", status_code=status, **context)


@router.get("/expert/cases/{case_id}")
def expert_case(case_id: int, request: Request, signed: SignedIn) -> Response:
    wearing(signed, "expert")
    return _page(request, signed, case_id)


async def _fire(request: Request, signed: Any, case_id: int, trigger: str, key: str,
                form: FormData, posted: dict[str, str], done: str) -> Response:
    """Fire `trigger` with the posted form; on refusal re-render the workspace with the values kept."""
    refused = await fire_posted(request, signed.actor, case_id, trigger, posted, reraise=(401, 403, 404),
                                key=form_key(form))
    if refused is None:
        return RedirectResponse(done, status_code=303)
    return _page(request, signed, case_id, status=refused.status, failed=key, values=posted, reasons=refused.reasons)


@router.post("/expert/cases/{case_id}/opinion")
async def record_opinion(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "expert")
    return await _fire(request, signed, case_id, "record_opinion", "opinion", form, posted_strings(form),
                       f"/expert/cases/{case_id}?ok=opinion")


@router.post("/expert/cases/{case_id}/decline")
async def decline(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "expert")
    # once declined the case is no longer mine to see: back to the list
    return await _fire(request, signed, case_id, "decline_panel", "decline", form, posted_strings(form),
                       "/expert?ok=declined")


@router.post("/expert/cases/{case_id}/conclusion")
async def conclude(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "expert")
    posted = posted_strings(form)
    outcome = posted.get("outcome", "")
    if outcome not in CONCLUSIONS:
        missing = reason("outcome_required", field="outcome")
        return _page(request, signed, case_id, status=422, failed="conclusion", values=posted, reasons=[missing])
    return await _fire(request, signed, case_id, outcome, "conclusion", form, posted,
                       f"/expert/cases/{case_id}?ok=concluded")
