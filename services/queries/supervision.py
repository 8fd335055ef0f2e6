"""Supervision as its staff and the public read it: a project's tracking evaluations; a report's status
as its reporter follows it; and what the supervision commands answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.procedures.double_claims import FINDERS
from services.queries.registry import DisqualificationPublic, IssuanceRow, issuances, owner_disqualification
from services.queries.schemas import Bilingual, Instant, Items, Labelled, Public, labelled, not_found
from services.store.tables import Case, Evaluation, Project, Task, pk
from states.profiles import get_profile

STAFF = ("case_officer", "operator", "approver", "admin")


class EvaluationPublic(Public):
    """A tracking evaluation of a project (Ordos art. 21)."""

    id: int
    at: Instant
    role: str = Field(description="Who evaluated: case_officer | operator")
    summary: str
    findings: list[dict[str, Any]] = Field(description="The findings (form `TrackingEvaluation.findings`)")
    rectification_case_id: int | None = Field(description="The rectification a finding needing action opened")


class EvaluationList(Items[EvaluationPublic]):
    """A project's tracking evaluations, oldest first."""


def evaluations(session: Session, actor: Actor, project_id: int) -> EvaluationList:
    """Staff of the project's jurisdiction only; to anyone else there is no such project."""
    project = session.get(Project, project_id)
    if project is None or not any(actor.holds(r, project.jurisdiction) for r in STAFF):
        raise not_found("project")
    rows = session.exec(select(Evaluation).where(col(Evaluation.project_id) == project_id).order_by(col(Evaluation.id)))
    return EvaluationList(items=[
        EvaluationPublic(id=pk(e), at=e.at, role=e.role, summary=e.summary, findings=e.findings,
                         rectification_case_id=e.rectification_case_id) for e in rows])


class EvaluationRecorded(Public):
    id: int
    project_id: int
    rectification_case_id: int | None = Field(description="Opened when a finding needs action")


class RevenueAuditOpened(Public):
    """A revenue-use audit opened on demand (Beijing 编制说明 4(二))."""

    id: int = Field(description="The audit case: the developer files the report with its `file_audit` action")
    project_id: int
    year: int
    requested_by: str = Field(description="owner (the developer's own motion) | officer (the authority asked)")
    due_days: int | None = Field(description="Working days given from today; null: the annual deadline stands")


class ReportReceipt(Public):
    """What the reporter keeps: the receipt and the secret follow the report; nothing else names them."""

    receipt: str
    secret: str = Field(description="Send it as X-Report-Secret to follow the report")
    case_jurisdiction: str
    message: Bilingual
    check: str = Field(description="Where to follow the report")


class ReportStatus(Public):
    """A report as its reporter follows it: its status and the feedback, nothing internal."""

    receipt: str
    state: Labelled
    received_at: Instant
    feedback: str | None = Field(description="The authority's feedback to the reporter, once sent")


class ReporterIdentity(Public):
    """The reporter's name and contact, for an assigned handler; the read is an audit event."""

    name: str
    contact: str
    read_at: Instant


# --- a project's oversight page: what its developer owes and what the authority found -----------------

OVERSIGHT_STAFF = ("case_officer", "approver", "operator", "review_centre", "admin")


class OversightCase(Public):
    id: int
    procedure: str
    year: int | None
    state: Labelled
    due_on: str | None = Field(description="The open task's last day, if any")


class ProjectOversight(Public):
    """A project as its developer and the jurisdiction's staff see it for supervision: its revenue-use audits
    (Beijing 编制说明 4(二)), and what each of them may do here."""

    id: int
    jurisdiction: str
    title: str
    kind: str = Field("project", description="project | scenario (a scenario's data is verified digitally)")
    project_class: int | None
    status: str
    owner: bool = Field(description="The asker's organisation owns the project")
    staff_roles: list[str] = Field(description="The asker's staff roles in the project's jurisdiction")
    audits: list[OversightCase]
    owner_disqualified: DisqualificationPublic | None = Field(
        None, description="The owner's disqualification in this jurisdiction (Jiaxing art. 26)")
    issued: list[IssuanceRow] = Field(default_factory=list, description="The project's issued blocks")
    may_record_double_claim: bool = Field(
        False, description="The asker may record a block found claimed elsewhere (Ordos art. 17, Shanghai art. 14)")


def project_oversight(session: Session, actor: Actor, project_id: int) -> ProjectOversight:
    """The project's owner and the staff of its jurisdiction see it; anyone else gets a 404."""
    project = session.get(Project, project_id)
    staff = [r for r in OVERSIGHT_STAFF if project is not None and actor.holds(r, project.jurisdiction)]
    owner = project is not None and actor.org_id == project.owner_org_id and actor.holds("applicant",
                                                                                         project.jurisdiction)
    if project is None or not (staff or owner):
        raise not_found("project")
    cases = list(session.exec(select(Case).where(col(Case.project_id) == project_id,
                                                 col(Case.procedure).in_(("revenue_audit",)))
                              .order_by(col(Case.vintage).desc(), col(Case.id).desc())))
    ids = [pk(c) for c in cases]
    profile = get_profile(project.jurisdiction)
    due = {t.case_id: t.due_on for t in session.exec(select(Task).where(col(Task.case_id).in_(ids),
                                                                        col(Task.status) == "open",
                                                                        col(Task.role) == "applicant"))} if ids else {}

    def row(c: Case) -> OversightCase:
        on = due.get(pk(c))
        return OversightCase(id=pk(c), procedure=c.procedure, year=c.vintage, state=labelled("state", c.state),
                             due_on=on.isoformat() if on else None)

    return ProjectOversight(id=pk(project), jurisdiction=project.jurisdiction, title=project.title,
                            kind=project.kind, project_class=project.project_class, status=project.status, owner=owner,
                            staff_roles=staff, audits=[row(c) for c in cases if c.procedure == "revenue_audit"],
                            owner_disqualified=owner_disqualification(session, project),
                            issued=issuances(session, project_id=project_id).items,
                            may_record_double_claim=profile is not None and profile.issuance.no_double_claiming
                            and any(actor.holds(r, project.jurisdiction) for r in FINDERS))
