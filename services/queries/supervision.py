"""Supervision as its staff and the public read it: a project's tracking evaluations; a report's status
as its reporter follows it; and what the supervision commands answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.queries.schemas import Bilingual, Instant, Items, Labelled, Public, not_found
from services.store.tables import Evaluation, Project, pk

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
