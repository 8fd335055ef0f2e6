"""What happens when a case leaves and enters a state, and the named effects declarations cite.

Everything here runs inside the command's transaction: tasks, timers, clock segments, outbox
rows and subject updates either all happen with the state change or none do.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from services.accounts.identity import Actor
from services.engine import counters, preload
from services.engine.calendar import WorkingCalendar, end_of_day_utc, local_date
from services.engine.errors import Invalid
from services.engine.forms_errors import reasons_from_validation
from services.engine.workdays import calendar, due_after
from services.procedures import issuance as issuance_effects
from services.procedures import panels, supervision
from services.store import writes
from services.store.tables import (
    Case,
    ClockSegment,
    Comment,
    Document,
    MethodologyVersion,
    Notice,
    Objection,
    Outbox,
    PanelMember,
    Project,
    Task,
    Timer,
)
from states.profiles import Profile
from states.spec import CaseView, ProcedureSpec, StateSpec, TaskSpec, TransitionSpec
from states.stages import PANEL_TASKS


@dataclass
class Ctx:
    session: Session
    case: Case
    actor: Actor
    form: BaseModel
    profile: Profile
    spec: ProcedureSpec
    now: datetime
    tasks: list[Task]  # the case's open tasks, loaded once and kept current by open_task/close_task
    arrow: TransitionSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what the command reports back
    _cal: WorkingCalendar | None = None

    @property
    def today(self) -> date:
        return local_date(self.now)

    @property
    def cal(self) -> WorkingCalendar:
        """Loaded only by commands that compute a deadline; once a transaction (a sweep's batch of
        commands shares one, and sees one calendar)."""
        if self._cal is None:
            memo = writes.memo(self.session)
            self._cal = memo.get(CALENDAR_KEY) or memo.setdefault(CALENDAR_KEY, calendar(self.session))
        return self._cal


CALENDAR_KEY = "carbon.calendar"
# statements many commands run, built once (no statement or cache key to build per run)
ACTIVE_PANEL = select(PanelMember).where(PanelMember.case_id == sa.bindparam("case_id"), PanelMember.status == "active")
ENDED_RUNNING_SEGMENTS = select(ClockSegment).where(ClockSegment.case_id == sa.bindparam("case_id"),
                                                    ClockSegment.running == True,  # noqa: E712
                                                    ClockSegment.ended_at.is_not(None))  # type: ignore[union-attr]
OPEN_NOTICES = select(Notice).where(Notice.case_id == sa.bindparam("case_id"), Notice.kind == sa.bindparam("kind"),
                                    Notice.status == "open")


# --- tasks, timers, clock, outbox -----------------------------------------------------------


def open_task(ctx: Ctx, spec: TaskSpec, *, candidate: int | None = None) -> Task:
    days = ctx.profile.sla_days(spec.sla) if spec.sla else None
    due_on = due_at = None
    provisional = False
    if days:
        due_on, due_at, provisional = due_after(ctx.cal, ctx.now, days, ctx.case.jurisdiction)
    task = Task(case_id=ctx.case.id, procedure=ctx.case.procedure, jurisdiction=ctx.case.jurisdiction,
                kind=spec.kind, role=spec.role, state=ctx.case.state, triggers=list(spec.triggers), join=spec.join,
                candidate_user_id=candidate, opened_at=ctx.now, opened_on=ctx.today, sla_days=days, due_on=due_on,
                due_at=due_at, due_provisional=provisional)
    ctx.session.add(task)
    ctx.tasks.append(task)
    return task


def close_task(ctx: Ctx, task: Task, status: str, outcome: str) -> None:
    task.status, task.closed_at, task.outcome = status, ctx.now, outcome
    if status == "completed":
        task.closed_by = ctx.actor.user_id
    ctx.session.add(task)
    ctx.tasks.remove(task)


def enqueue(ctx: Ctx, kind: str, target: str, payload: dict[str, Any] | None = None) -> None:
    # keyed by the audit event the command is about to append: unique per command, stable on replay
    key = f"case:{ctx.case.id}:e{ctx.case.audit_seq + 1}:{kind}:{target}"
    writes.add(ctx.session, Outbox, {
        "key": key, "kind": kind, "case_id": ctx.case.id, "created_at": ctx.now, "available_at": ctx.now,
        "payload": {"case_id": ctx.case.id, "state": ctx.case.state, "target": target,
                    "jurisdiction": ctx.case.jurisdiction, **(payload or {})}})


def add_timer(ctx: Ctx, *, kind: str, trigger: str, fire_at: datetime, days: int, provisional: bool) -> None:
    """A pending timer in the case's current state, counted from today."""
    writes.add(ctx.session, Timer, {
        "case_id": ctx.case.id, "jurisdiction": ctx.case.jurisdiction, "kind": kind, "trigger": trigger,
        "state": ctx.case.state, "fire_at": fire_at, "base_on": ctx.today, "days": days, "provisional": provisional})


def _clock_runs(profile: Profile, state: StateSpec) -> bool | None:
    """None: the clock stops (draft, terminal states)."""
    if state.clock == "stop":
        return None
    paused = profile.clock.paused_in
    return state.name not in paused if paused is not None else state.clock == "run"


def leave(ctx: Ctx, old: StateSpec, new: StateSpec) -> None:
    for name in old.on_exit:
        EFFECTS[name](ctx)
    carried = {(t.kind, t.role) for t in new.tasks}
    for task in list(ctx.tasks):
        if (task.kind, task.role) in carried:
            task.state = new.name  # the same work goes on in the next state (e.g. objection_review)
            ctx.session.add(task)
        else:
            close_task(ctx, task, "cancelled", f"left:{old.name}")
    # Statements only where something can change: most arrows set no timer and keep the clock as it is.
    # Both are blind updates, sent with the command's new rows (before them: the timers and segment
    # this command creates stay as they are).
    if old.timers or TIMER_EFFECTS & set(old.on_enter):
        writes.update(ctx.session, Timer, {"case_id": ctx.case.id, "status": "pending"}, {"status": "cancelled"})
    was = _clock_runs(ctx.profile, old)
    if was is not None and was != _clock_runs(ctx.profile, new):
        writes.update(ctx.session, ClockSegment, {"case_id": ctx.case.id, "ended_at": None}, {"ended_at": ctx.now})


def move(ctx: Ctx, old: StateSpec, new: StateSpec) -> None:
    leave(ctx, old, new)
    ctx.case.state = new.name
    enter(ctx, new, old)


def enter(ctx: Ctx, state: StateSpec, old: StateSpec | None = None) -> None:
    """A clock segment spans states while the clock keeps running (or paused): it records the state it
    began in. The subject's status is written only when it changes."""
    case = ctx.case
    runs = _clock_runs(ctx.profile, state)
    if runs is not None and (old is None or runs != _clock_runs(ctx.profile, old)):
        writes.add(ctx.session, ClockSegment, {"case_id": case.id, "running": runs, "state": state.name,
                                               "started_at": ctx.now})
        case.clock_due_on = _statutory_due(ctx) if runs else None
    elif runs is None:
        case.clock_due_on = None
    view = case_view(case)
    already = {(t.kind, t.role) for t in ctx.tasks}
    opened = [open_task(ctx, spec) for spec in state.tasks
              if (spec.kind, spec.role) not in already and (spec.when is None or spec.when(view, ctx.profile))]
    for timer in state.timers:
        days = ctx.profile.sla_days(timer.days)
        answer = ctx.cal.add_working_days(ctx.today, days, case.jurisdiction)
        add_timer(ctx, kind=timer.kind, trigger=timer.trigger, fire_at=end_of_day_utc(answer.end), days=days,
                  provisional=answer.provisional)
    for name in state.on_enter:
        EFFECTS[name](ctx)
    if (ctx.spec.tracks_subject and state.subject_status and case.project_id
            and state.subject_status != (old and old.subject_status)):
        # through the session: a sweep's batch holds its subjects already, and its flush sends their
        # updates together; the command's other changes to the project go in the same UPDATE
        project = ctx.session.get(Project, case.project_id)
        if project is not None:
            project.status = state.subject_status
            ctx.session.add(project)
    for who in state.notify:
        roles = sorted({t.role for t in opened}) if who == "queue" else []
        enqueue(ctx, "notify", who, {"event": f"entered:{state.name}", "roles": roles})
    if any(t.role == "case_officer" and t.candidate_user_id is None for t in opened):
        enqueue(ctx, "assign", "case_officer")  # the dispatcher gives it to the least-loaded officer
    case.closed_at = ctx.now if state.terminal else None


def _statutory_due(ctx: Ctx) -> date:
    """The date the statutory clock runs out if it keeps running from now: the limit less the
    working days already used in earlier running segments."""
    used = 0
    for seg in ctx.session.exec(ENDED_RUNNING_SEGMENTS, params={"case_id": ctx.case.id}):
        used += ctx.cal.working_days_between(local_date(seg.started_at), local_date(seg.ended_at),
                                             ctx.case.jurisdiction).days
    left = ctx.profile.clock.limit_days - used
    return ctx.cal.add_working_days(ctx.today, left, ctx.case.jurisdiction).end if left > 0 else ctx.today


def case_view(case: Case, application: dict[str, Any] | None = None) -> CaseView:
    return CaseView(id=case.id or 0, procedure=case.procedure, jurisdiction=case.jurisdiction, state=case.state,
                    subject_kind=case.subject_kind,
                    application=case.application if application is None else application,
                    submitted_on=case.submitted_on, held_from=case.held_from)


# --- application edits (previewed before the rules run, persisted by the effect) ------------


def _edit_form(spec: ProcedureSpec) -> type[BaseModel]:
    return next(t.form for t in spec.transitions if t.trigger == "edit")


def merged_application(application: dict[str, Any], form: BaseModel, spec: ProcedureSpec) -> dict[str, Any]:
    """The application as it would stand after an edit or a resubmission with changes; checked whole."""
    raw = getattr(form, "changes", None)
    if raw is None and form.__class__.__name__ not in {t.form.__name__ for t in spec.transitions
                                                       if t.trigger == "edit"}:
        return application
    edit_form = _edit_form(spec)
    if isinstance(form, edit_form):
        changes, prefix = form.model_dump(mode="json", exclude_unset=True), None
    else:
        prefix = "changes"
        try:
            changes = edit_form.model_validate(raw).model_dump(mode="json", exclude_unset=True)
        except ValidationError as exc:
            raise Invalid(reasons_from_validation(exc, prefix=prefix)) from exc
    try:
        return spec.application.model_validate({**application, **changes}).model_dump(mode="json")
    except ValidationError as exc:
        raise Invalid(reasons_from_validation(exc, prefix=prefix)) from exc


def sync_subject(session: Session, case: Case) -> None:
    """The project row mirrors the application's headline fields."""
    project = session.get(Project, case.project_id) if case.project_id else None
    if project is None:
        return
    app = case.application
    project.title = app["title"]
    project.project_class = app.get("project_class")
    mv = session.exec(select(MethodologyVersion).where(
        MethodologyVersion.jurisdiction == case.jurisdiction, MethodologyVersion.code == app["methodology_code"],
        MethodologyVersion.version == app["methodology_version"])).first()
    project.methodology_version_id = mv.id if mv else None
    session.add(project)


def _apply_edit(ctx: Ctx) -> None:
    ctx.case.application = merged_application(dict(ctx.case.application), ctx.form, ctx.spec)
    sync_subject(ctx.session, ctx.case)


def _record_submission(ctx: Ctx) -> None:
    ctx.case.submitted_on = ctx.case.submitted_on or ctx.today


# --- expert panel ----------------------------------------------------------------------------


def _panel(ctx: Ctx) -> list[PanelMember]:
    return list(ctx.session.exec(ACTIVE_PANEL, params={"case_id": ctx.case.id}))


def open_panel_work(ctx: Ctx, members: list[PanelMember]) -> None:
    for m in members:
        open_task(ctx, PANEL_TASKS["expert_opinion"], candidate=m.user_id)
    chair = next(m for m in members if m.chair)
    open_task(ctx, PANEL_TASKS["panel_conclusion"], candidate=chair.user_id)


def _convene_panel(ctx: Ctx) -> None:
    """Entering expert review: a panel already composed for the case re-reviews it (after a
    revision); otherwise a case officer is asked to compose one."""
    members = _panel(ctx)
    if not members:
        open_task(ctx, PANEL_TASKS["compose_panel"])
        if ctx.profile.panel.draw:
            enqueue(ctx, "convene_panel", "system")  # the dispatcher draws; the officer's task stays as fallback
        return
    for m in members:
        m.opinion = m.score = m.comments = m.opinion_at = None
        ctx.session.add(m)
    open_panel_work(ctx, members)


def _compose_panel(ctx: Ctx) -> None:
    form = ctx.form
    members = [PanelMember(case_id=ctx.case.id, user_id=u, chair=(u == form.chair),  # type: ignore[attr-defined]
                           seated_at=ctx.now) for u in form.members]  # type: ignore[attr-defined]
    ctx.session.add_all(members)
    open_panel_work(ctx, members)
    for m in members:
        enqueue(ctx, "notify", f"user:{m.user_id}", {"event": "panel_invitation"})


def _record_opinion(ctx: Ctx) -> None:
    member = next(m for m in _panel(ctx) if m.user_id == ctx.actor.user_id)
    form = ctx.form
    member.opinion, member.score = form.opinion, form.score  # type: ignore[attr-defined]
    member.comments, member.opinion_at = form.comments, ctx.now  # type: ignore[attr-defined]
    ctx.session.add(member)


# --- publicity and objections ---------------------------------------------------------------


# A notice's period ends with a timer of this kind firing this trigger.
NOTICE_TIMERS = {"publicity": ("publicity_end", "publicity_end"), "consultation": ("comment_period_end",
                                                                                  "comment_period_end")}


def _open_notice(ctx: Ctx, kind: str, days: int, counts: bool) -> None:
    period = ctx.cal.publicity(ctx.today, days, publication_day_counts=counts, jurisdiction=ctx.case.jurisdiction)
    title = ctx.case.application.get("title", "")
    ctx.session.add(Notice(case_id=ctx.case.id, kind=kind, jurisdiction=ctx.case.jurisdiction, title=title,
                           published_on=ctx.today, first_day=period.first_day, last_day=period.last_day,
                           closes_at=period.closes_at, provisional=period.provisional))
    timer_kind, trigger = NOTICE_TIMERS[kind]
    add_timer(ctx, kind=timer_kind, trigger=trigger, fire_at=period.closes_at, days=days,
              provisional=period.provisional)
    enqueue(ctx, f"open_{kind}", "public", {"first_day": period.first_day.isoformat(),
                                            "last_day": period.last_day.isoformat()})


def _publish_notice(ctx: Ctx) -> None:
    rules = ctx.profile.publicity_for(ctx.case.procedure)
    days = getattr(ctx.form, "publicity_days", None) or rules.days
    _open_notice(ctx, "publicity", days, rules.publication_day_counts)


def _open_consultation(ctx: Ctx) -> None:
    """Shanghai art. 11: 向社会公开征求意见, for the profile's number of working days."""
    _open_notice(ctx, "consultation", ctx.profile.methodology.comment_days,
                 ctx.profile.registration.publication_day_counts)


def _closer(kind: str) -> Callable[[Ctx], None]:
    def close(ctx: Ctx) -> None:
        notices = preload.get(ctx.session, "notices", ctx.case.id)
        if notices is None:
            notices = list(ctx.session.exec(OPEN_NOTICES, params={"case_id": ctx.case.id, "kind": kind}))
        for notice in notices:
            if notice.kind != kind or notice.status != "open":
                continue
            notice.status = "closed"
            ctx.session.add(notice)
            enqueue(ctx, f"close_{kind}", "public", {"notice_id": notice.id})

    return close


def _record_comment(ctx: Ctx) -> None:
    form = ctx.form
    comment = Comment(case_id=ctx.case.id, received_at=ctx.now, **form.model_dump())
    ctx.session.add(comment)
    ctx.session.flush()
    ctx.extra["comment_id"] = comment.id


def _answer_comment(ctx: Ctx) -> None:
    form = ctx.form
    ctx.session.execute(sa.update(Comment).where(Comment.id == form.comment_id, Comment.case_id == ctx.case.id)
                        .values(answer=form.answer, disposition=form.disposition,  # type: ignore[attr-defined]
                                answered_at=ctx.now))


def _publish_dispositions(ctx: Ctx) -> None:
    ctx.session.execute(sa.update(Comment).where(Comment.case_id == ctx.case.id).values(published=True))
    enqueue(ctx, "publish_dispositions", "public", {})


def _file_methodology(ctx: Ctx) -> None:
    """Filing creates the version; a revision supersedes the version it revises from today, and new
    projects may cite the old one for the profile's grace period."""
    app = ctx.case.application
    version = MethodologyVersion(
        jurisdiction=ctx.case.jurisdiction, code=app["code"], version=app["version"], title=app["title"],
        kind=app["kind"], tier=app.get("tier"), scope=app.get("scope", ""), summary=app.get("summary", ""),
        parameters=app.get("parameters", []), status="filed", filed_on=ctx.today, case_id=ctx.case.id)
    ctx.session.add(version)
    if app.get("revises"):
        ctx.session.execute(sa.update(MethodologyVersion).where(
            MethodologyVersion.jurisdiction == ctx.case.jurisdiction, MethodologyVersion.code == app["code"],
            MethodologyVersion.version == app["revises"], MethodologyVersion.status == "filed")
            .values(status="superseded", superseded_on=ctx.today, superseded_by=app["version"],
                    grace_until=ctx.today + timedelta(days=ctx.profile.methodology.grace_days)))
    ctx.session.flush()
    # The version keeps its whole dossier (what it was filed on, review material included: staff and
    # auditors follow it); what the public sees of it is decided by `documents.PUBLISHABLE` alone.
    ctx.session.execute(sa.update(Document).where(Document.case_id == ctx.case.id)
                        .values(methodology_version_id=version.id))
    ctx.extra["methodology_version_id"] = version.id
    enqueue(ctx, "publish_methodology", "public", {"code": app["code"], "version": app["version"]})


def _record_objection(ctx: Ctx) -> None:
    form = ctx.form
    receipt = f"OBJ-{ctx.today:%Y%m%d}-{secrets.token_hex(4).upper()}"
    ctx.session.add(Objection(case_id=ctx.case.id, receipt=receipt, name=form.name,  # type: ignore[attr-defined]
                              contact=form.contact, text=form.text, received_at=ctx.now))  # type: ignore[attr-defined]
    if not any(t.kind == "objection_review" for t in ctx.tasks):
        spec = ctx.spec.state("objection_review").tasks[0]
        open_task(ctx, spec)
    enqueue(ctx, "notify", "queue", {"event": "objection_lodged"})
    ctx.extra["receipt"] = receipt


def _settle_objections(status: str) -> Callable[[Ctx], None]:
    def settle(ctx: Ctx) -> None:
        ctx.session.execute(sa.update(Objection).where(Objection.case_id == ctx.case.id, Objection.status == "open")
                            .values(status=status, decided_at=ctx.now))

    return settle


# --- registration ---------------------------------------------------------------------------


def _register_subject(ctx: Ctx) -> None:
    """Registration numbers are unique per jurisdiction and year: `SH-2026-P00042`."""
    project = ctx.session.get(Project, ctx.case.project_id)
    kind = project.kind if project else ctx.case.subject_kind
    year = ctx.today.year
    last = counters.next_number(ctx.session, ctx.case.jurisdiction, year, kind)
    number = f"{ctx.case.jurisdiction}-{year}-{'S' if kind == 'scenario' else 'P'}{last:05d}"
    if project:
        project.registration_number, project.registered_at, project.status = number, ctx.now, "registered"
        ctx.session.add(project)
    ctx.extra["registration_number"] = number
    enqueue(ctx, "publish_registration", "public", {"registration_number": number})


def _disclose_subject(ctx: Ctx) -> None:
    enqueue(ctx, "publish_disclosure", "public", {"title": ctx.case.application.get("title")})


EFFECTS: dict[str, Callable[[Ctx], None]] = {
    "apply_edit": _apply_edit,
    "record_submission": _record_submission,
    "convene_panel": _convene_panel,
    "compose_panel": _compose_panel,
    "record_opinion": _record_opinion,
    "draw_panel": panels.draw_panel,
    "decline_panel": panels.decline,
    "publish_notice": _publish_notice,
    "close_notice": _closer("publicity"),
    "open_consultation": _open_consultation,
    "close_consultation": _closer("consultation"),
    "record_comment": _record_comment,
    "answer_comment": _answer_comment,
    "publish_dispositions": _publish_dispositions,
    "file_methodology": _file_methodology,
    "record_objection": _record_objection,
    "dismiss_objections": _settle_objections("dismissed"),
    "uphold_objection": _settle_objections("upheld"),
    "register_subject": _register_subject,
    "disclose_subject": _disclose_subject,
}

EFFECTS.update(issuance_effects.EFFECTS)
EFFECTS.update(supervision.EFFECTS)

# on_enter effects that set timers of their own (so leaving their state must cancel them)
TIMER_EFFECTS = {"publish_notice", "open_consultation", "arm_window", "start_rectifying", "arm_audit_deadline"}

PREVIEWS: dict[str, Callable[[dict[str, Any], BaseModel, ProcedureSpec], dict[str, Any]]] = {
    "apply_edit": merged_application}

