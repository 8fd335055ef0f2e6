"""Read models: what a case, a task, a notice, a document and an event look like to the person asking.

Every read of a case goes through the one visibility rule (`services.engine.visibility`): the list
(`list_cases`), a case by id, its timeline and its documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from services.engine import statutory, visibility
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.command import Outcome, allowed_actions
from services.engine.errors import NotFound
from services.engine.workdays import calendar
from services.procedures import documents
from services.procedures.reports import reporter_access
from services.queries.scenario_issuance import ScenarioIssuancePublic, scenario_issuance
from services.queries.schemas import Bilingual, Instant, Items, Labelled, Public, labelled
from services.store.records import CALENDAR_FINGERPRINT, FINGERPRINT_KEY, AnyCase, AnyTask
from services.store.tables import (
    AuditEvent,
    Case,
    Comment,
    Document,
    MethodologyVersion,
    Notice,
    PanelMember,
    Project,
    Task,
    Timer,
    User,
    pk,
)
from states.effects import ComposePanel, ConvenePanel, DrawPanel, PublishNotice, RecordComment
from states.machine import procedure
from states.messages import label
from states.profiles import get_profile


@cache
def form_schema(form: type[BaseModel]) -> dict[str, Any]:
    return form.model_json_schema()


# --- tasks ------------------------------------------------------------------------------------------


class TaskPublic(Public):
    """A task of a case's work queue: who does it, by when, and the actions that complete it."""

    id: int
    case_id: int
    procedure: str
    jurisdiction: str
    kind: str = Field(description="`task.<kind>` in the catalogue; `label` is its name")
    label: Bilingual
    role: str = Field(description="The role that does the task, in the task's jurisdiction")
    state: str = Field(description="The case state that opened the task")
    actions: list[str] = Field(description="The triggers that complete the task (`POST /tasks/{id}/complete`)")
    status: str = Field(description="open | completed | cancelled")
    candidate_user_id: int | None = Field(description="Addressed to this person only (an expert's opinion)")
    assignee_id: int | None
    assignee: str | None = Field(description="The assignee's username")
    opened_at: Instant
    sla_days: int | None = Field(description="Working days allowed")
    due_on: date | None = Field(description="The last working day (Asia/Shanghai)")
    due_at: Instant | None = Field(description="The end of `due_on`")
    provisional: bool = Field(description="Due date counted without the year's holiday notice (weekends only); "
                                          "recomputed when the year is loaded")
    overdue: bool
    outcome: str | None = Field(description="How the task was closed (the trigger, or why it was cancelled)")


def task_view(t: AnyTask, users: dict[int, str] | None = None) -> TaskPublic:
    users = users or {}
    return TaskPublic(
        id=pk(t), case_id=t.case_id, procedure=t.procedure, jurisdiction=t.jurisdiction, kind=t.kind,
        label=Bilingual(**label(f"task.{t.kind}")), role=t.role, state=t.state, actions=t.triggers, status=t.status,
        candidate_user_id=t.candidate_user_id, assignee_id=t.assignee_id,
        assignee=users.get(t.assignee_id) if t.assignee_id else None,
        opened_at=t.opened_at, sla_days=t.sla_days, due_on=t.due_on, due_at=t.due_at, provisional=t.due_provisional,
        overdue=bool(t.status == "open" and t.due_at and t.due_at < clock.now()), outcome=t.outcome)


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {pk(u): u.username for u in session.exec(select(User).where(col(User.id).in_(ids)))}


# --- notices, documents, events --------------------------------------------------------------------


class NoticePublic(Public):
    """A public notice and its period (a publicity notice's objections are lodged at `objections_href`)."""

    case_id: int
    jurisdiction: str
    title: str
    published_on: date
    first_day: date = Field(description="The period's first working day")
    last_day: date = Field(description="The period's last working day")
    closes_at: Instant = Field(description="The end (24:00 Asia/Shanghai) of the last day")
    provisional: bool = Field(description="Counted without the year's holiday notice (weekends only)")
    status: str = Field(description="open | closed")
    objections_href: str


class KindNoticePublic(NoticePublic):
    kind: str = Field(description="publicity | consultation | suspension | revocation")


def notice_fields(n: Notice) -> dict[str, Any]:
    return {"case_id": n.case_id, "jurisdiction": n.jurisdiction, "title": n.title, "published_on": n.published_on,
            "first_day": n.first_day, "last_day": n.last_day, "closes_at": n.closes_at, "provisional": n.provisional,
            "status": n.status, "objections_href": f"/api/v1/public/publicity/{n.case_id}/objections"}


def notice_view(n: Notice) -> NoticePublic:
    return NoticePublic(**notice_fields(n))


def kind_notice_view(n: Notice) -> KindNoticePublic:
    return KindNoticePublic(**notice_fields(n), kind=n.kind)


class DocumentPublic(Public):
    """A document's record (its bytes: `GET /documents/{id}`)."""

    id: int
    name: str
    content_type: str
    size: int = Field(description="Bytes")
    sha256: str = Field(description="Hex SHA-256 of the bytes")
    uploaded_at: Instant
    visibility: str = Field(description="public: the applicant's declared public material; case: the applicant's "
                                        "other material; internal: review material")
    visibility_label: Bilingual
    published_at: Instant | None = Field(description="When the approver marked it for publication")
    kind: str | None = Field(default=None, description="Its document type (profile `[documents]`), if given")
    kind_label: Bilingual | None = None


def document_view(d: Document) -> DocumentPublic:
    return DocumentPublic.model_validate(documents.view(d))


class DocumentList(Items[DocumentPublic]):
    """The case's documents the asker may read."""


class EventPublic(Public):
    """An event of a case's audit trail (a link of its hash chain)."""

    seq: int = Field(description="Its place in the case's chain")
    at: Instant
    event: str = Field(description="The trigger fired, or the change recorded")
    label: Bilingual
    actor_id: int | None
    actor_role: str
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any]
    hash: str = Field(description="SHA-256 over the previous event's hash and this event's content")


def event_view(e: AuditEvent) -> EventPublic:
    return EventPublic(seq=e.seq, at=e.at, event=e.event, label=Bilingual(**label(f"trigger.{e.event}")),
                       actor_id=e.actor_id, actor_role=e.actor_role, from_state=e.from_state, to_state=e.to_state,
                       payload=e.payload, hash=e.hash)


class EventList(Items[EventPublic]):
    """The case's timeline, oldest first, without events about documents the asker may not read."""


# --- a case ------------------------------------------------------------------------------------------


class StatePublic(Labelled):
    terminal: bool = Field(description="The case is closed in this state")


class MethodologySubject(Public):
    """The methodology version a filing case filed."""

    id: int
    kind: Literal["methodology"]
    code: str
    version: str
    status: str = Field(description="filed | superseded | withdrawn")


class ProjectSubject(Public):
    """The project or scenario a case is about."""

    id: int
    kind: str = Field(description="project | scenario")
    title: str
    status: str
    project_class: int | None = Field(description="Beijing: class 1 (registered, issued) or 2 (disclosed only)")
    registration_number: str | None


class ActionPublic(Public):
    """An action the asker may fire now, with the form it takes."""

    action: str
    label: Bilingual
    form_schema: dict[str, Any] = Field(description="The JSON Schema of the action's form: the body to POST")
    href: str


class TimerPublic(Public):
    kind: str
    action: str = Field(description="The trigger fired when the timer is due")
    fire_at: Instant
    provisional: bool


class ClockSegment(Public):
    state: str
    running: bool
    started_at: Instant
    ended_at: Instant | None


class ClockPublic(Public):
    """The statutory clock (办理时限): working days counted while the authority holds the case."""

    status: str = Field(description="running | paused | stopped")
    used_days: int
    paused_days: int
    limit_days: int
    remaining_days: int
    deadline: date | None = Field(description="Projected from today while the clock runs")
    breached: bool
    provisional: bool
    segments: list[ClockSegment]


class PanelSeat(Public):
    user_id: int
    chair: bool
    opinion: str | None
    score: int | None


class CaseComment(Public):
    """A public comment on a consultation, with the review centre's answer."""

    id: int
    name: str
    organisation: str
    text: str
    answer: str | None
    disposition: str | None


class ReportHandlerPublic(Public):
    user_id: int
    name: str
    assigned_at: Instant
    assigned_by: int | None
    assigned_by_name: str
    withdrawn_at: Instant | None


class ReporterRead(Public):
    user_id: int | None
    name: str
    at: Instant


class ReporterAccess(Public):
    """A report's handlers and every read of its reporter's identity (never the identity itself: an
    assigned handler reads it at `href`, and the read is audited)."""

    handlers: list[ReportHandlerPublic]
    reads: list[ReporterRead]
    may_read: bool = Field(description="The asker may read the reporter's identity")
    href: str


class CasePublic(Public):
    """A case as the asker sees it: its state, the actions the asker may fire with their forms, the open
    tasks, timers, the statutory clock, the panel, its notices, comments, documents."""

    id: int
    procedure: Labelled
    jurisdiction: str
    state: StatePublic
    version: int = Field(description="Send it back in If-Match to act on this version only (also the ETag)")
    subject: MethodologySubject | ProjectSubject | None
    application: dict[str, Any] = Field(description="The application as filed and amended (its form is the "
                                                    "procedure's application form)")
    submitted_on: date | None
    created_at: Instant
    updated_at: Instant
    closed_at: Instant | None
    allowed_actions: list[ActionPublic]
    open_tasks: list[TaskPublic]
    timers: list[TimerPublic]
    clock: ClockPublic | None
    panel: list[PanelSeat]
    publicity: NoticePublic | None
    consultation: NoticePublic | None
    comments: list[CaseComment]
    documents: list[DocumentPublic] = Field(description="The documents the asker may read")
    reporter_access: ReporterAccess | None = Field(description="A report's handlers and reads of its reporter")
    scenario_issuance: ScenarioIssuancePublic | None = Field(
        default=None, description="A scenario issuance case's report summary (labelled figures), the minting and "
                                  "allocation handed to the dispatcher on approval, and its result")


def _subject(session: Session, case: AnyCase, project: Project | None) -> MethodologySubject | ProjectSubject | None:
    if project is not None:
        return ProjectSubject(id=pk(project), kind=project.kind, title=project.title, status=project.status,
                              project_class=project.project_class, registration_number=project.registration_number)
    filed = session.exec(select(MethodologyVersion).where(col(MethodologyVersion.case_id) == case.id)).first()
    if filed is None:
        return None
    return MethodologySubject(id=pk(filed), kind="methodology", code=filed.code, version=filed.version,
                              status=filed.status)


@cache
@cache
def _holds(procedure_name: str, jurisdiction: str) -> tuple[bool, bool, bool]:
    """Whether a case of this procedure can have a panel, notices, comments (by what it declares; once
    per procedure, like `procedure()` itself: the walk over its declarations is not for every read)."""
    spec = procedure(procedure_name, jurisdiction)
    return (spec.declares(ConvenePanel, ComposePanel, DrawPanel), spec.declares(PublishNotice),
            spec.declares(RecordComment))


def case_detail(session: Session, case: AnyCase, actor: Actor) -> CasePublic:
    project = session.get(Project, case.project_id) if case.project_id else None
    return _detail(session, case, project, actor)


def _detail(session: Session, case: AnyCase, project: Project | None, actor: Actor) -> CasePublic:
    spec = procedure(case.procedure, case.jurisdiction)
    profile = get_profile(case.jurisdiction)
    now = clock.now()
    has_panel, has_notices, has_comments = _holds(case.procedure, case.jurisdiction)
    tasks = list(session.exec(select(Task).where(col(Task.case_id) == case.id, col(Task.status) == "open")
                              .order_by(col(Task.id))))
    timers = session.exec(select(Timer).where(col(Timer.case_id) == case.id, col(Timer.status) == "pending"))
    users = usernames(session, {t.assignee_id for t in tasks if t.assignee_id})
    actions = [ActionPublic(action=trigger, label=Bilingual(**label(f"trigger.{trigger}")),
                            form_schema=form_schema(spec.arrows(trigger, case.state)[0].form),
                            href=f"/api/v1/cases/{case.id}/actions/{trigger}")
               for trigger in allowed_actions(actor, case, spec)]
    panel: Iterable[PanelMember] = (
        session.exec(select(PanelMember).where(col(PanelMember.case_id) == case.id)) if has_panel else [])
    notices = {n.kind: n for n in session.exec(select(Notice).where(col(Notice.case_id) == case.id)
                                               .order_by(col(Notice.id)))} if has_notices else {}
    comments: Iterable[Comment] = session.exec(select(Comment).where(col(Comment.case_id) == case.id)
                                               .order_by(col(Comment.id))) if has_comments else []
    access = reporter_access(session, case, actor)
    return CasePublic(
        id=pk(case),
        procedure=labelled("procedure", case.procedure),
        jurisdiction=case.jurisdiction,
        state=StatePublic(name=case.state, **label(f"state.{case.state}"), terminal=spec.state(case.state).terminal),
        version=case.version,
        subject=_subject(session, case, project),
        application=case.application,
        submitted_on=case.submitted_on,
        created_at=case.created_at, updated_at=case.updated_at, closed_at=case.closed_at,
        allowed_actions=actions,
        open_tasks=[task_view(t, users) for t in tasks],
        timers=[TimerPublic(kind=t.kind, action=t.trigger, fire_at=t.fire_at, provisional=t.provisional)
                for t in timers],
        clock=ClockPublic.model_validate(statutory.summary(session, case, profile, calendar(session), now))
        if profile else None,
        panel=[PanelSeat(user_id=m.user_id, chair=m.chair, opinion=m.opinion, score=m.score) for m in panel],
        publicity=notice_view(notices["publicity"]) if "publicity" in notices else None,
        consultation=notice_view(notices["consultation"]) if "consultation" in notices else None,
        comments=[CaseComment(id=pk(c), name=c.name, organisation=c.organisation, text=c.text, answer=c.answer,
                              disposition=c.disposition) for c in comments],
        documents=[DocumentPublic.model_validate(d) for d in documents.of_case(session, case, actor)],
        reporter_access=None if access is None else ReporterAccess.model_validate(access),
        scenario_issuance=scenario_issuance(session, case),
    )


# --- what a command on a case answers ------------------------------------------------------------------


class PanelDraw(Public):
    seed: int = Field(description="The random draw's seed: anyone can repeat the draw from it")
    candidates: list[int] = Field(description="The eligible experts' user ids")
    chosen: list[int]
    chair: int


class PanelDecline(Public):
    declined: int = Field(description="The expert who declined")
    conflict: bool = Field(description="They declared a conflict of interest")
    candidates: list[int]
    seed: int | None = None
    replacement: int | None = Field(None, description="The expert drawn in their place")
    chair: int | None = None


class LedgerCorrection(Public):
    """Units cancelled from a project (Jiaxing art. 26 claw-back; Ordos art. 11 adjustment)."""

    cancelled: int = Field(description="tCO2e cancelled from blocks still held")
    debt: int = Field(description="tCO2e that could not be cancelled (already retired): the owner's debt")
    entry_id: int


class CommandResult(Public):
    """What the command did. Besides `event_id` and `moved`, only the keys of what happened are present."""

    # A key an effect adds that is not named here yet still reaches the client: building the reply must
    # never fail (and roll back) a command that did its work.
    model_config = ConfigDict(extra="allow")

    event_id: int | None = Field(description="The audit event recorded")
    moved: bool = Field(description="The case changed state (an internal action leaves it where it was)")
    registration_number: str | None = None
    receipt: str | None = Field(None, description="An objection's receipt")
    comment_id: int | None = None
    methodology_version_id: int | None = Field(None, description="The version the filing created")
    draw: PanelDraw | None = None
    decline: PanelDecline | None = None
    certificate: str | None = Field(None, description="The retirement certificate's number")
    serials: list[str] | None = Field(None, description="The serial blocks issued or retired")
    ledger_entry_id: int | None = None
    first_issuance_case: int | None = Field(None, description="Shanghai art. 15: the issuance case opened with "
                                                              "the registration")
    clawback: LedgerCorrection | None = None
    adjustment: LedgerCorrection | None = None
    rectification_case_id: int | None = Field(None, description="The rectification case the decision opened")


class CaseActionPublic(CasePublic):
    """The case after a command, and what the command did."""

    result: CommandResult


def action_reply(session: Session, outcome: Outcome, actor: Actor) -> dict[str, Any]:
    """A command's reply as JSON (it is stored for a retry with the same Idempotency-Key)."""
    reply = CaseActionPublic(**dict(case_detail(session, outcome.case, actor)),
                             result=CommandResult(event_id=outcome.event_id, moved=outcome.moved, **outcome.extra))
    return reply.model_dump(mode="json", exclude_unset=True)


# --- the list of cases, a case's timeline and documents -------------------------------------------------


class CaseRow(Public):
    id: int
    procedure: str
    jurisdiction: str
    state: str
    title: str | None = Field(description="The application's title")
    version: int
    updated_at: Instant


class CaseList(Items[CaseRow]):
    """Cases the asker may see, newest first."""

    next_before: int | None = Field(description="Pass as `before` for the next page; null on the last page")


def list_cases(session: Session, actor: Actor, *, state: str | None = None, jurisdiction: str | None = None,
               procedure_name: str | None = None, before: int | None = None, limit: int = 20) -> CaseList:
    q = select(Case).where(visibility.visible(actor)).order_by(col(Case.id).desc())
    if state:
        q = q.where(col(Case.state) == state)
    if jurisdiction:
        q = q.where(col(Case.jurisdiction) == jurisdiction)
    if procedure_name:
        q = q.where(col(Case.procedure) == procedure_name)
    if before:
        q = q.where(col(Case.id) < before)
    rows = list(session.exec(q.limit(limit)))
    return CaseList(items=[CaseRow(id=pk(c), procedure=c.procedure, jurisdiction=c.jurisdiction, state=c.state,
                                   title=c.application.get("title"), version=c.version, updated_at=c.updated_at)
                           for c in rows],
                    next_before=rows[-1].id if len(rows) == limit else None)


def read_case(session: Session, actor: Actor, case_id: int) -> CasePublic:
    """The case as the actor sees it. Its row, its project's and the calendar's fingerprint (which the
    clock's summary needs) come in one statement, under the one visibility rule."""
    row = session.exec(select(Case, Project, *CALENDAR_FINGERPRINT)
                       .outerjoin(Project, col(Project.id) == col(Case.project_id))
                       .where(col(Case.id) == case_id, visibility.visible(actor))).first()
    if row is None:
        raise NotFound.of("case")
    case, project, years, revisions = row
    session.info[FINGERPRINT_KEY] = (years, revisions)
    return _detail(session, case, project, actor)


def case_events(session: Session, actor: Actor, case_id: int) -> EventList:
    case = visibility.visible_case(session, actor, case_id)
    rows = list(session.exec(select(AuditEvent).where(col(AuditEvent.stream) == f"case:{case_id}")
                             .order_by(col(AuditEvent.seq))))
    return EventList(items=[event_view(e) for e in documents.visible_events(session, actor, case, rows)])


def case_documents(session: Session, actor: Actor, case_id: int) -> DocumentList:
    case = visibility.visible_case(session, actor, case_id)
    return DocumentList(items=[DocumentPublic.model_validate(d) for d in documents.of_case(session, case, actor)])
